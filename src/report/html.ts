/**
 * The report as one self-contained HTML page: inline CSS, inline SVG for the
 * graphs (laid out when the report is written, see layout.ts), the report's
 * data as JSON for the run comparison and the task tables, and a few lines
 * of script for those. No network at view time: it opens from a packed
 * bundle's folder or an email attachment. Stable hooks for tests and
 * scripts: every cell row and graph node carries data-* attributes.
 *
 * Built to open quickly however large the run (2,000 cells and 100,000
 * tasks took over 4 s to open when everything was markup, nearly all of it
 * layout of 188,000 DOM nodes): the timeline is cut into tables of
 * TIMELINE_CHUNK rows that the browser lays out only when scrolled to
 * (content-visibility), the sections below it likewise, a large cell
 * graph's edges are one path, and each cell's task table is built from
 * embedded JSON when its <details> is opened.
 */
import { formatBytes as bytes } from "../planner/plan.js";
import type { LaidOutGraph, ReportCell, ReportData } from "./report-data.js";
import { PAGE_SCRIPT, PAGE_STYLE } from "./page-assets.js";

export function renderReportHtml(data: ReportData): string {
  const title = `nbrewind report: ${data.bundle.notebook}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nbrewind-engine ${esc(data.nbrewind_version)}">
<title>${esc(title)}</title>
<style>${PAGE_STYLE}</style>
</head><body>
<header><h1>${esc(data.bundle.notebook)}</h1>${runHeader(data)}</header>
<nav><a href="#timeline">Timeline</a><a href="#graph">Cell graph</a><a href="#tasks">Tasks</a><a href="#compare">Compare runs</a>${data.replay ? `<a href="#replay">Replay</a>` : ""}<a href="#environment">Environment</a></nav>
<main>
${problemsSection(data)}
${timelineSection(data)}
${graphSection(data)}
${tasksSection(data)}
${compareSection(data)}
${replaySection(data)}
${environmentSection(data)}
</main>
<footer>Written by nbrewind-engine ${esc(data.nbrewind_version)} at ${esc(data.generated_at)} from ${esc(data.bundle.dir)}</footer>
<script type="application/json" id="nbrewind-report-data">${jsonForScript(pageData(data))}</script>
<script type="application/json" id="nbrewind-task-data">${jsonForScript(taskData(data))}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

/** The part of the data the page's script needs: the comparison, not the whole model (that is `report --json`). */
function pageData(data: ReportData): unknown {
  return {
    runs: data.runs.map((r) => ({ run_id: r.run_id, command: r.command, started_at: r.started_at, status: r.status })),
    selected: data.run?.run_id ?? null,
    labels: Object.fromEntries(data.cells.map((c) => [c.id, `[${c.number}] ${c.label}`])),
    order: data.cells.map((c) => c.id),
    decisions: data.decisions,
  };
}

/**
 * What a cell's task table is built from when it is opened, by cell id:
 * f = [function, submitted, served, dispatched, uncached, failed] rows,
 * b = [function, count, reason] rows, g = the task graph's caption and SVG.
 */
function taskData(data: ReportData): Record<string, { f: unknown[]; b: unknown[]; g?: [string, string] }> {
  const graphs = new Map(data.task_graphs.map((g) => [g.cell_id, g]));
  const out: Record<string, { f: unknown[]; b: unknown[]; g?: [string, string] }> = {};
  for (const c of data.cells) {
    if (!c.tasks) continue;
    const t = c.tasks;
    const graph = graphs.get(c.id);
    out[c.id] = {
      f: t.by_function.map((f) => [f.function, f.submitted, f.served, f.dispatched, f.uncached, f.failed]),
      b: t.dispatched_because.map((d) => [d.function.split(".").at(-1) ?? d.function, d.count, d.reason]),
      ...(graph ? { g: [graph.granularity === "tasks" ? `${graph.task_count} tasks` : `${graph.task_count} tasks, drawn one node per function`, svg(graph.graph, "task")] } : {}),
    };
  }
  return out;
}

function runHeader(data: ReportData): string {
  const run = data.run;
  if (!run) return `<p class="muted">This bundle records no run yet.</p>`;
  const counts = countOutcomes(data.cells);
  const params = Object.keys(run.parameters).length ? ` · parameters ${esc(JSON.stringify(run.parameters))}` : "";
  const saved = data.cells.reduce((s, c) => s + (c.outcome === "reused" || c.outcome === "restored" ? (c.recorded_s ?? 0) : 0), 0);
  return `<p class="run" data-run-id="${esc(run.run_id)}"><b>${esc(run.command)}</b> run <code>${esc(run.run_id)}</code> · ${esc(run.status)} · started ${esc(run.started_at)}${params}</p>
<p class="counts">${outcomeBadge("reused", counts.reused)} ${outcomeBadge("restored", counts.restored)} ${outcomeBadge("ran", counts.ran)} ${outcomeBadge("failed", counts.failed)} ${outcomeBadge("not-run", counts["not-run"])} · reuse saved about ${seconds(saved)} of recorded time · ${data.runs.length} run(s) in the bundle</p>`;
}

function countOutcomes(cells: ReportCell[]): Record<ReportCell["outcome"], number> {
  const out = { reused: 0, restored: 0, ran: 0, failed: 0, "not-run": 0 };
  for (const c of cells) out[c.outcome]++;
  return out;
}

function outcomeBadge(outcome: string, n: number): string {
  return `<span class="badge ${outcome}">${n} ${outcome}</span>`;
}

function problemsSection(data: ReportData): string {
  if (data.problems.length === 0) return "";
  const items = data.problems.map((p) => `<li><code>${esc(p.file)}</code>: ${esc(p.message)}</li>`).join("");
  return `<section id="problems" class="problems"><h2>Problems in this bundle (${data.problems.length})</h2><p>What follows shows what could be read; these files could not be trusted or read:</p><ul>${items}</ul></section>`;
}

/** Rows per timeline table: each is laid out only when it comes into view. */
export const TIMELINE_CHUNK = 100;

function timelineSection(data: ReportData): string {
  const longest = data.cells.reduce((m, c) => Math.max(m, c.duration_s, c.recorded_s ?? 0), 0.001);
  const rows = data.cells.map((c) => {
      const ranW = pct(c.duration_s, longest);
      const savedW = c.outcome === "reused" || c.outcome === "restored" ? pct(c.recorded_s ?? 0, longest) : 0;
      const saved = savedW > 0 ? `<span class="bar saved" style="width:${savedW}%"></span>` : "";
      const tasks = c.tasks ? `${c.tasks.total} (${c.tasks.served} served, ${c.tasks.dispatched} dispatched)` : "";
      const ran = c.outcome === "ran" || c.outcome === "failed" ? seconds(c.duration_s) : "";
      const restored = c.restored_bytes ? `<span title="${esc(c.restored_values.join(", "))}">${bytes(c.restored_bytes)}</span>` : "";
      return `<tr class="cell ${c.outcome}" data-cell-id="${esc(c.id)}" data-outcome="${c.outcome}" data-tasks-total="${c.tasks?.total ?? 0}" data-tasks-served="${c.tasks?.served ?? 0}"><td>[${c.number}]<td class="label">${esc(c.label)}<td>${c.outcome}<td class="barcell"><span class="bar ${c.outcome}" style="width:${ranW}%"></span>${saved}<td class="t">${ran}<td class="t">${savedW > 0 ? seconds(c.recorded_s ?? 0) : ""}<td class="b">${restored}<td class="b">${c.checkpoint_bytes ? bytes(c.checkpoint_bytes) : ""}<td class="tasks">${tasks}<td class="reason">${esc(c.reason)}</tr>`;
  });
  // Fixed column widths (the <colgroup>) keep the tables aligned as one, and spare the browser measuring every row.
  const cols = `<colgroup><col class="c-num"><col class="c-label"><col class="c-outcome"><col class="c-bar"><col class="c-t"><col class="c-t"><col class="c-b"><col class="c-b"><col class="c-tasks"><col class="c-reason"></colgroup>`;
  const head = `<thead><tr><th>cell</th><th>first line</th><th>decision</th><th>time</th><th>ran</th><th>saved</th><th>restored</th><th>checkpointed</th><th>tasks</th><th>why</th></tr></thead>`;
  const tables: string[] = [];
  for (let i = 0; i < Math.max(1, rows.length); i += TIMELINE_CHUNK) {
    const chunk = rows.slice(i, i + TIMELINE_CHUNK);
    tables.push(`<div class="chunk" style="contain-intrinsic-size:auto ${chunk.length * 26}px"><table class="timeline">${cols}${i === 0 ? head : ""}<tbody>${chunk.join("\n")}</tbody></table></div>`);
  }
  return `<section id="timeline"><h2>Timeline</h2>
<p class="legend">${["reused", "restored", "ran", "failed", "not-run"].map((o) => `<span class="badge ${o}">${o}</span>`).join(" ")} <span class="bar saved legend-bar"></span> time a reused cell took when recorded, saved in this run</p>
${tables.join("\n")}</section>`;
}

function graphSection(data: ReportData): string {
  const g = data.cell_graph;
  const note = g.layout === "order" ? `<p class="muted">${g.nodes.length} cells: laid out in notebook order by data-flow depth (a layered layout is used up to a few hundred cells).</p>` : "";
  return `<section id="graph" class="later"><h2>Cell data-flow graph</h2><p class="muted">An arrow carries the names a cell reads from the cell that wrote them. Hover a cell for its decision and reason.</p>${note}<div class="graph" id="cell-graph">${svg(g, "cell")}</div></section>`;
}

function tasksSection(data: ReportData): string {
  const withTasks = data.cells.filter((c) => c.tasks);
  if (withTasks.length === 0) return `<section id="tasks" class="later"><h2>Tasks</h2><p class="muted">No cell of this run submitted tasks to an engine.</p></section>`;
  const graphs = new Set(data.task_graphs.map((g) => g.cell_id));
  // A small run's cells are opened for the reader; a large one lists them closed, each built when opened.
  const open = withTasks.length <= 20;
  const blocks = withTasks.map((c) => taskBlock(c, graphs.has(c.id), open)).join("\n");
  return `<section id="tasks" class="later"><h2>Tasks per cell</h2><p class="muted">Open a cell for its tasks by function, why they were dispatched and, for the cells that dispatched the most, their task graph.</p>
<noscript><p class="muted">The tables are built when a cell is opened, which needs JavaScript; report --json has the same data.</p></noscript>
${blocks}</section>`;
}

/** A cell's line in the tasks section: its counts; its table is built from the page's task data when opened (page-assets.ts). */
function taskBlock(c: ReportCell, hasGraph: boolean, open: boolean): string {
  const t = c.tasks!;
  const counts = `${t.total} submitted, ${t.served} served, ${t.dispatched} dispatched${t.uncached ? `, ${t.uncached} not cacheable` : ""}${t.failed ? `, ${t.failed} failed` : ""}`;
  return `<details class="taskcell" data-cell-id="${esc(c.id)}" data-tasks-total="${t.total}" data-tasks-served="${t.served}" data-tasks-dispatched="${t.dispatched}" data-tasks-uncached="${t.uncached}" data-tasks-failed="${t.failed}"${open ? " open" : ""}><summary>[${c.number}] ${esc(c.label)} <span class="muted">${c.outcome}: ${counts}${hasGraph ? " · task graph" : ""}</span></summary></details>`;
}

function compareSection(data: ReportData): string {
  if (data.runs.length < 2) return `<section id="compare" class="later"><h2>Compare runs</h2><p class="muted">One run so far: nothing to compare.</p></section>`;
  return `<section id="compare" class="later"><h2>Compare runs</h2>
<p>Cells whose decision changed between <select id="compare-a"></select> and <select id="compare-b"></select></p>
<table class="compare"><thead><tr><th>cell</th><th>before</th><th>after</th><th>why (after)</th></tr></thead><tbody id="compare-rows"></tbody></table>
<noscript><p class="muted">The comparison needs JavaScript; report --json has the same data.</p></noscript></section>`;
}

function replaySection(data: ReportData): string {
  const r = data.replay;
  if (!r) return "";
  if (r.matched) return `<section id="replay" class="later"><h2>Replay</h2><p class="ok">Every output of the replay matched the recorded one (${esc(r.source)}).</p></section>`;
  const rows = r.differences
    .map((d) => `<tr data-cell-id="${esc(d.cell_id)}"><td>cell ${d.cell_index + 1}<br><span class="muted">${esc(d.what)}</span></td><td><pre>${esc(d.expected)}</pre></td><td><pre>${esc(d.got)}</pre></td></tr>`)
    .join("");
  return `<section id="replay" class="later"><h2>Replay: outputs that differ (${r.differences.length})</h2><p class="muted">From ${esc(r.source)}.</p><table class="sidebyside"><thead><tr><th>where</th><th>recorded</th><th>replayed</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function environmentSection(data: ReportData): string {
  const i = data.integrity;
  const sig = i.signature;
  const signer = sig.signer ? `${esc(sig.signer)}${sig.own ? " (your key)" : sig.trusted ? " (a key you trust)" : " (not a key you trust)"}` : "nobody";
  const integrity = `<p class="integrity ${i.status}" data-integrity="${i.status}">${i.status === "ok" ? "Records, manifest and logs check out" : `${data.problems.length} problem(s), listed at the top`}; ${i.content_hashed ? "every blob's content was hashed" : "referenced blobs are present (run <code>nbrewind-engine verify</code> or <code>report --verify</code> to hash them)"}. Signature: ${esc(sig.state)}, signed by ${signer}.</p>`;
  const env = data.environment;
  if (!env) return `<section id="environment" class="later"><h2>Environment and integrity</h2>${integrity}<p class="muted">No environment was captured (no cell ran in a kernel yet).</p></section>`;
  const engines = Object.entries(env.engines)
    .map(([k, v]) => `<li>${esc(k)}: ${v ? esc(v) : "not installed"}</li>`)
    .join("");
  const packages = Object.entries(env.packages)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
    .join("");
  return `<section id="environment" class="later"><h2>Environment and integrity</h2>${integrity}
<ul class="env"><li>Python: ${esc(env.python)}</li><li>Platform: ${esc(env.platform)}</li><li>Kernel: ${esc(env.kernel)}</li><li>nbrewind-engine: ${esc(env.nbrewind_version)}</li><li>Captured: ${esc(env.captured_at)}</li></ul>
<h3>Engines</h3><ul class="env">${engines}</ul>
<details><summary>${Object.keys(env.packages).length} packages</summary><table class="packages">${packages}</table></details></section>`;
}

function svg(g: LaidOutGraph, kind: "cell" | "task"): string {
  if (g.nodes.length === 0) return `<p class="muted">Nothing to draw.</p>`;
  const pad = 8;
  // Whole pixels: the picture does not need more, and a large graph is half the size for it.
  const px = (v: number) => String(Math.round(v + pad));
  // A large graph's edges are one path, without arrowheads (its layers run downwards, producer above reader): thousands of
  // elements, each with its title, cost more to lay out than the picture is worth; nodes keep their titles (decision, reason),
  // and the names passed are in report --json.
  const edges = g.layout === "order" ? `<path class="edges" d="${g.edges.map((e) => e.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x)} ${px(y)}`).join("")).join("")}"/>` : g.edges
    .map((e) => {
      const pts = e.points.map(([x, y]) => `${px(x)},${px(y)}`).join(" ");
      const mid = e.points[Math.floor(e.points.length / 2)];
      // In the linear layout of large graphs drawn labels pile up; the hover title keeps them.
      const label = e.label && mid && g.layout === "elk" ? `<text class="elabel" x="${px(mid[0] + 4)}" y="${px(mid[1] - 2)}">${esc(truncate(e.label, 40))}</text>` : "";
      return `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><polyline points="${pts}" marker-end="url(#arrow-${kind})"/>${e.label ? `<title>${esc(e.label)}</title>` : ""}${label}</g>`;
    })
    .join("");
  const nodes = g.nodes
    .map(
      (n) =>
        `<g class="node ${esc(n.kind)}" data-node-id="${esc(n.id)}"><title>${esc(n.title)}</title><rect x="${px(n.x)}" y="${px(n.y)}" width="${Math.round(n.width)}" height="${Math.round(n.height)}" rx="4"/><text x="${px(n.x + 8)}" y="${px(n.y + n.height / 2 + 4)}">${esc(truncate(n.label, Math.floor((n.width - 14) / 6.6)))}</text></g>`,
    )
    .join("");
  return `<svg class="${kind}-graph" xmlns="http://www.w3.org/2000/svg" width="${g.width + 2 * pad}" height="${g.height + 2 * pad}" viewBox="0 0 ${g.width + 2 * pad} ${g.height + 2 * pad}" data-nodes="${g.nodes.length}" data-layout="${g.layout}"><defs><marker id="arrow-${kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>${edges}${nodes}</svg>`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** JSON inside a <script> element: `</script>` and `<!--` in a string must not end it. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, Math.max(1, max - 1)) + "…";
}

function pct(v: number, of: number): number {
  return Math.round((1000 * v) / of) / 10;
}

function seconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
