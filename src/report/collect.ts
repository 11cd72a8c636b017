/**
 * Read a bundle into the report's model. A report is most wanted when
 * something is off, so this never gives up on a bad file: a record that is
 * missing or corrupt, a torn log, a digest list that does not verify, each
 * becomes a problem named on the page, and the rest is shown as far as it
 * can be.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Bundle } from "../bundle/bundle.js";
import { checkRecordText, listRecordFiles, unreadableRecord, type RecordFileCheck } from "../bundle/cell-records.js";
import { CELLS_DIR, MANIFEST_FILE, NOTEBOOK_FILE, logFile } from "../bundle/paths.js";
import { recordDigests, type CellRecord, type RunEntry, type RunLogEvent } from "../bundle/records.js";
import { parseLog } from "../bundle/run-logs.js";
import { checkFolderDigests, checkSigner } from "../bundle/trust/check-digests.js";
import { DIGESTS_FILE, type DigestList } from "../bundle/trust/digest-list.js";
import { describeKey, KeyStore } from "../bundle/trust/keys.js";
import { verifyBundle } from "../bundle/verify.js";
import { packageVersion } from "../common/package-root.js";
import type { TaskRecord } from "../common/task-record.js";
import { cellLabel } from "../notebook/cell-label.js";
import { layoutGraph, type GraphInput } from "./layout.js";
import {
  REPORT_FORMAT,
  REPORT_FORMAT_VERSION,
  type CellOutcome,
  type CellTaskGraph,
  type CellTasks,
  type DispatchReasonCount,
  type FunctionTasks,
  type ReplayDifferences,
  type ReportCell,
  type ReportData,
  type ReportEnvironment,
  type ReportIntegrity,
  type ReportProblem,
  type ReportRun,
  type RunDecisions,
} from "./report-data.js";

export interface CollectOptions {
  /** The run to show; default the latest. */
  runId?: string;
  /** Hash every blob (as `verify` does) instead of checking only that referenced ones exist. */
  hashContent?: boolean;
  /** Draw one node per task for cells with at most this many tasks (else one per function). */
  taskGraphLimit?: number;
  /** The most task nodes drawn in the whole page; cells past it get function graphs. */
  taskNodeBudget?: number;
  /** The most task graphs drawn in the page (the cells with the most dispatched tasks first); the others keep their tables. */
  taskGraphBudget?: number;
}

/** What the run planned for each cell (the `run_planned` event: the plan as schemas/plan.schema.json has it). */
interface PlannedCell {
  index: number;
  id: string;
  fingerprint: string;
  decision: string;
  reasons: string[];
  restores?: Array<{ name: string; from_cell_id: string }>;
}

export class ReportTargetError extends Error {}

export async function collectReport(bundleDir: string, options: CollectOptions = {}): Promise<ReportData> {
  const problems: ReportProblem[] = [];
  let bundle: Bundle;
  try {
    bundle = await Bundle.open(bundleDir);
  } catch (err) {
    // Without a manifest there is no run to show: that is the one thing a report cannot work around.
    throw new ReportTargetError(`${join(bundleDir, MANIFEST_FILE)}: ${(err as Error).message}`);
  }
  const manifest = bundle.manifest;
  const runs = manifest.runs.map(toReportRun);
  const selected = options.runId ? runs.find((r) => r.run_id === options.runId) : runs.at(-1);
  if (options.runId && !selected) {
    throw new ReportTargetError(`--run ${options.runId}: no such run in ${bundleDir}; its runs are ${runs.map((r) => r.run_id).join(", ") || "none"}`);
  }

  const records = new Map<string, CellRecord>();
  for (const check of await readRecords(bundleDir)) {
    for (const p of check.problems) problems.push({ file: check.file, message: p.path ? `${p.path}: ${p.message}` : p.message });
    if (check.record) records.set(check.record.fingerprint, check.record);
  }

  const sources = await notebookSources(bundle, Boolean(options.hashContent), problems);

  const logs = new Map<string, RunLogEvent[]>();
  for (const run of runs) logs.set(run.run_id, await readRunLog(bundleDir, run.run_id, problems));

  const cells = selected ? cellsOfRun(selected, logs.get(selected.run_id) ?? [], records, sources, manifest.cells, problems) : [];
  const decisions = runs.map((r) => decisionsOfRun(r, logs.get(r.run_id) ?? []));
  const cellGraph = await layoutGraph(cellGraphOf(cells, records));
  const taskGraphs = await taskGraphsOf(cells, records, options);

  return {
    format: REPORT_FORMAT,
    format_version: REPORT_FORMAT_VERSION,
    generated_at: new Date().toISOString(),
    nbrewind_version: packageVersion(),
    bundle: { dir: bundleDir, notebook: manifest.source_notebook, created_at: manifest.created_at, updated_at: manifest.updated_at },
    runs,
    run: selected ?? null,
    cells,
    decisions,
    cell_graph: cellGraph,
    task_graphs: taskGraphs,
    replay: await replayDifferences(bundleDir, manifest.source_notebook, problems),
    environment: await environmentOf(bundle, problems),
    integrity: await integrityOf(bundle, records, Boolean(options.hashContent), problems),
    problems,
  };
}

function toReportRun(r: RunEntry): ReportRun {
  return { run_id: r.run_id, command: r.command, started_at: r.started_at, finished_at: r.finished_at, status: r.status, parameters: r.parameters, counts: r.cells };
}

/**
 * Every record file, checked (parsed, validated, named right). Read with
 * synchronous calls: for 2,000 small files already in the page cache,
 * fs/promises' readFile (open, stat, read, close, each a round trip through
 * the thread pool) costs three times the CPU of readFileSync, and a report
 * has nothing else to do meanwhile.
 */
async function readRecords(dir: string): Promise<RecordFileCheck[]> {
  const { records } = await listRecordFiles(dir);
  return records.map((name) => {
    const file = `${CELLS_DIR}/${name}`;
    let text: string;
    try {
      text = readFileSync(join(dir, file), "utf8");
    } catch (err) {
      return unreadableRecord(file, err);
    }
    return checkRecordText(file, text);
  });
}

type NotebookSources = Map<string, { index: number; source: string; meta: Record<string, unknown> }>;

/**
 * The code cells of the bundle's notebook: all the report takes from it. A
 * notebook of the plain shape is read with JSON.parse alone; anything else,
 * and `report --verify`, goes through the full reader (nbformat schema,
 * positions in messages), whose error is then named on the page. Checking
 * 2,000 cells against nbformat costs more than the rest of the notebook's
 * part of the report, and `verify` does it anyway.
 */
async function notebookSources(bundle: Bundle, full: boolean, problems: ReportProblem[]): Promise<NotebookSources> {
  if (!full) {
    const plain = await readFile(join(bundle.dir, NOTEBOOK_FILE), "utf8")
      .then(plainCodeCells)
      .catch(() => undefined);
    if (plain) return plain;
  }
  const nb = await bundle.readNotebook().catch((err: Error) => {
    problems.push({ file: NOTEBOOK_FILE, message: err.message });
    return undefined;
  });
  const out: NotebookSources = new Map();
  nb?.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    const source = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    out.set(cell.id, { index, source, meta: (cell.metadata.nbrewind ?? {}) as Record<string, unknown> });
  });
  return out;
}

/** The code cells of a notebook whose cells all have the shape the report reads, else undefined. */
function plainCodeCells(text: string): NotebookSources | undefined {
  const nb = JSON.parse(text) as { cells?: unknown };
  if (!Array.isArray(nb.cells)) return undefined;
  const out: NotebookSources = new Map();
  for (const [index, cell] of (nb.cells as Array<Record<string, unknown>>).entries()) {
    if (typeof cell !== "object" || cell === null || typeof cell.id !== "string" || typeof cell.cell_type !== "string") return undefined;
    if (cell.cell_type !== "code") continue;
    const src = cell.source;
    const source = typeof src === "string" ? src : Array.isArray(src) && src.every((l) => typeof l === "string") ? src.join("") : undefined;
    const metadata = cell.metadata;
    if (source === undefined || typeof metadata !== "object" || metadata === null || out.has(cell.id)) return undefined;
    const meta = (metadata as { nbrewind?: unknown }).nbrewind ?? {};
    if (typeof meta !== "object" || meta === null) return undefined;
    out.set(cell.id, { index, source, meta: meta as Record<string, unknown> });
  }
  return out;
}

async function readRunLog(dir: string, runId: string, problems: ReportProblem[]): Promise<RunLogEvent[]> {
  const file = logFile(runId);
  let text: string;
  try {
    text = await readFile(join(dir, file), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") problems.push({ file, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
  const parsed = parseLog(text, file, runId);
  for (const p of parsed.problems) problems.push({ file, message: p.path ? `${p.path}: ${p.message}` : p.message });
  return parsed.events;
}

function plannedCells(events: RunLogEvent[]): PlannedCell[] | undefined {
  const planned = events.find((e) => e.event === "run_planned");
  const cells = (planned?.plan as { cells?: PlannedCell[] } | undefined)?.cells;
  return Array.isArray(cells) ? cells : undefined;
}

/**
 * Each code cell of the run, with what happened to it. The run's plan (its
 * `run_planned` event) names the cells in order; runs logged before that
 * event existed fall back on the manifest's cell list and the notebook's
 * metadata, which describe the latest run.
 */
function cellsOfRun(
  run: ReportRun,
  events: RunLogEvent[],
  records: Map<string, CellRecord>,
  sources: NotebookSources,
  latestFingerprints: string[],
  problems: ReportProblem[],
): ReportCell[] {
  const reused = new Map<string, RunLogEvent>();
  const recorded = new Map<string, RunLogEvent>();
  const restoredFor = new Map<string, { names: string[]; bytes: number }>();
  for (const e of events) {
    if (!e.cell_id) continue;
    if (e.event === "cell_reused") reused.set(e.cell_id, e);
    else if (e.event === "cell_recorded") recorded.set(e.cell_id, e);
    else if (e.event === "values_restored") restoredFor.set(e.cell_id, { names: (e.names as string[]) ?? [], bytes: Number(e.bytes ?? 0) });
  }
  const planned = plannedCells(events) ?? fallbackPlan(latestFingerprints, records, sources);
  // A reused cell whose recorded values a running cell loaded: "restored", not merely copied.
  const restoredFrom = new Set<string>();
  for (const c of planned) for (const r of c.restores ?? []) if (restoredFor.has(c.id)) restoredFrom.add(r.from_cell_id);

  return planned.map((p) => {
    const src = sources.get(p.id);
    const rec = recorded.get(p.id);
    const reuse = reused.get(p.id);
    const fingerprint = (rec?.fingerprint as string | undefined) ?? (reuse?.fingerprint as string | undefined) ?? p.fingerprint ?? null;
    const record = fingerprint ? records.get(fingerprint) : undefined;
    if (fingerprint && !record && (rec || reuse)) problems.push({ file: `cells/${fingerprint}.json`, message: `the record of cell ${p.index + 1} (${p.id}) is missing or unreadable` });
    let outcome: CellOutcome;
    let reason: string;
    if (rec) {
      outcome = rec.status === "ok" ? "ran" : "failed";
      reason = (rec.reason as string | undefined) ?? p.reasons[0] ?? "";
    } else if (reuse) {
      outcome = restoredFrom.has(p.id) ? "restored" : "reused";
      reason = (reuse.why as string | undefined) ?? p.reasons[0] ?? "unchanged";
    } else {
      outcome = "not-run";
      reason = p.decision === "skip" ? "empty cell" : run.status === "running" ? "the run has not reached it (still running, or killed)" : `the run ended (${run.status}) before it`;
    }
    const restored = restoredFor.get(p.id);
    const dispatched = ((rec?.tasks as { dispatched_because?: DispatchReasonCount[] } | undefined)?.dispatched_because ?? []).map((d) => ({ function: d.function, count: d.count, reason: d.reason }));
    return {
      index: p.index,
      number: p.index + 1,
      id: p.id,
      label: cellLabel(src?.source ?? "", 50),
      fingerprint,
      outcome,
      reason,
      duration_s: rec ? Number(rec.duration_s ?? record?.duration_s ?? 0) : 0,
      recorded_s: record ? record.duration_s : null,
      restored_bytes: restored?.bytes ?? 0,
      restored_values: restored?.names ?? [],
      checkpoint_bytes: rec ? Number(rec.stored_bytes ?? 0) : 0,
      tasks: record?.tasks?.length ? cellTasks(record.tasks, p.id, dispatched) : null,
    };
  });
}

function fallbackPlan(fingerprints: string[], records: Map<string, CellRecord>, sources: NotebookSources): PlannedCell[] {
  const byId = new Map<string, PlannedCell>();
  for (const fp of fingerprints) {
    const r = records.get(fp);
    if (r) byId.set(r.cell_id, { index: r.index, id: r.cell_id, fingerprint: fp, decision: "run", reasons: [] });
  }
  for (const [id, s] of sources) {
    const meta = s.meta as { fingerprint?: string; decision?: string; why?: string; reason?: string };
    if (!byId.has(id)) byId.set(id, { index: s.index, id, fingerprint: meta.fingerprint ?? "", decision: meta.decision ?? "run", reasons: [meta.why ?? meta.reason ?? ""] });
  }
  return [...byId.values()].sort((a, b) => a.index - b.index);
}

function decisionsOfRun(run: ReportRun, events: RunLogEvent[]): RunDecisions {
  const cells: RunDecisions["cells"] = {};
  for (const p of plannedCells(events) ?? []) cells[p.id] = [p.decision === "reuse" ? "reused" : p.decision === "skip" ? "not-run" : "ran", p.reasons[0] ?? ""];
  for (const e of events) {
    if (!e.cell_id) continue;
    if (e.event === "cell_reused") cells[e.cell_id] = ["reused", String(e.why ?? "")];
    else if (e.event === "cell_recorded") cells[e.cell_id] = [e.status === "ok" ? "ran" : "failed", String(e.reason ?? cells[e.cell_id]?.[1] ?? "")];
  }
  return { run_id: run.run_id, cells };
}

/** A task's own cell: tasks of earlier cells that finished meanwhile are not this cell's. */
function ownTasks(tasks: TaskRecord[], cellId: string): TaskRecord[] {
  return tasks.filter((t) => t.cell_id === undefined || t.cell_id === cellId);
}

function cellTasks(all: TaskRecord[], cellId: string, dispatchedBecause: DispatchReasonCount[]): CellTasks {
  const byFunction = new Map<string, FunctionTasks>();
  const total: CellTasks = { total: 0, served: 0, dispatched: 0, uncached: 0, failed: 0, by_function: [], dispatched_because: dispatchedBecause };
  for (const t of ownTasks(all, cellId)) {
    let f = byFunction.get(t.function);
    if (!f) byFunction.set(t.function, (f = { function: t.function, submitted: 0, served: 0, dispatched: 0, uncached: 0, failed: 0 }));
    f.submitted++;
    total.total++;
    // As the run's progress counts them: everything not served went to the engine.
    if (t.status === "hit") {
      f.served++;
      total.served++;
    } else {
      f.dispatched++;
      total.dispatched++;
    }
    if (t.status === "uncached") {
      f.uncached++;
      total.uncached++;
    }
    if (t.status === "failed") {
      f.failed++;
      total.failed++;
    }
  }
  total.by_function = [...byFunction.values()].sort((a, b) => b.submitted - a.submitted || a.function.localeCompare(b.function));
  return total;
}

function cellGraphOf(cells: ReportCell[], records: Map<string, CellRecord>): GraphInput {
  const ids = new Set(cells.map((c) => c.id));
  const edges = new Map<string, { from: string; to: string; names: string[] }>();
  for (const c of cells) {
    const rec = c.fingerprint ? records.get(c.fingerprint) : undefined;
    for (const read of rec?.reads ?? []) {
      if (!ids.has(read.producer_cell_id) || read.producer_cell_id === c.id) continue;
      const k = `${read.producer_cell_id}\u0000${c.id}`;
      const e = edges.get(k) ?? { from: read.producer_cell_id, to: c.id, names: [] };
      e.names.push(read.name);
      edges.set(k, e);
    }
  }
  return {
    nodes: cells.map((c) => ({
      id: c.id,
      label: `[${c.number}] ${c.label}`,
      title: `cell ${c.number} (${c.id}): ${c.outcome}${c.reason ? ` — ${c.reason}` : ""}`,
      kind: c.outcome,
      order: c.index,
    })),
    edges: [...edges.values()].map((e) => ({ from: e.from, to: e.to, label: e.names.sort().join(", ") })),
  };
}

/**
 * Task graphs for the cells a reader most wants to look into: those that
 * dispatched the most tasks, then those with the most tasks. Page size and
 * writing time stay bounded however many cells submitted tasks; every cell
 * keeps its table of counts by function.
 */
async function taskGraphsOf(cells: ReportCell[], records: Map<string, CellRecord>, options: CollectOptions): Promise<CellTaskGraph[]> {
  const perCellLimit = options.taskGraphLimit ?? 400;
  let nodeBudget = options.taskNodeBudget ?? 1500;
  const graphBudget = options.taskGraphBudget ?? 24;
  const candidates = cells
    .filter((c) => c.tasks)
    .sort((a, b) => b.tasks!.dispatched - a.tasks!.dispatched || b.tasks!.total - a.tasks!.total || a.index - b.index)
    .slice(0, graphBudget);
  const drawn = new Map<string, CellTaskGraph>();
  for (const c of candidates) {
    const rec = c.fingerprint ? records.get(c.fingerprint) : undefined;
    const tasks = rec?.tasks ? ownTasks(rec.tasks, c.id) : [];
    if (tasks.length === 0) continue;
    const perTask = tasks.length <= perCellLimit && tasks.length <= nodeBudget;
    if (perTask) nodeBudget -= tasks.length;
    const input = perTask ? taskLevelGraph(tasks) : functionLevelGraph(tasks);
    // Task graphs are regular (maps feeding reductions): layering them is enough, and ELK's cost
    // (0.1 s for a 50-task graph on an idle core, seconds on a busy one) would grow with every cell.
    const graph = await layoutGraph(input, { preferElk: false });
    drawn.set(c.id, { cell_id: c.id, granularity: perTask ? "tasks" : "functions", task_count: tasks.length, graph });
  }
  // In notebook order, as the page lists them.
  return cells.flatMap((c) => drawn.get(c.id) ?? []);
}

function shortFunction(qualified: string): string {
  return qualified.split(".").at(-1) ?? qualified;
}

function taskLevelGraph(tasks: TaskRecord[]): GraphInput {
  const idOf = (t: TaskRecord, i: number) => t.key ?? `uncached-${i}`;
  const present = new Set(tasks.map(idOf));
  return {
    nodes: tasks.map((t, i) => ({
      id: idOf(t, i),
      label: shortFunction(t.function),
      title: `${t.function}: ${t.status}${t.reason ? ` — ${t.reason}` : ""}${t.key ? ` (key ${t.key.slice(0, 12)})` : ""}`,
      kind: t.status,
      order: i,
    })),
    edges: tasks.flatMap((t, i) => t.upstream.filter((u) => present.has(u)).map((u) => ({ from: u, to: idOf(t, i), label: "" }))),
  };
}

/** One node per function with its counts: a picture of a graph too large to draw task by task. */
function functionLevelGraph(tasks: TaskRecord[]): GraphInput {
  const fnOfKey = new Map<string, string>();
  const counts = new Map<string, { n: number; hit: number; order: number }>();
  tasks.forEach((t, i) => {
    if (t.key) fnOfKey.set(t.key, t.function);
    const c = counts.get(t.function) ?? { n: 0, hit: 0, order: i };
    c.n++;
    if (t.status === "hit") c.hit++;
    counts.set(t.function, c);
  });
  const edges = new Map<string, number>();
  for (const t of tasks) {
    for (const u of t.upstream) {
      const from = fnOfKey.get(u);
      if (!from || from === t.function) continue;
      const k = `${from}\u0000${t.function}`;
      edges.set(k, (edges.get(k) ?? 0) + 1);
    }
  }
  return {
    nodes: [...counts].map(([fn, c]) => ({
      id: fn,
      label: `${shortFunction(fn)} ×${c.n}`,
      title: `${fn}: ${c.n} task(s), ${c.hit} served, ${c.n - c.hit} dispatched`,
      kind: c.hit === c.n ? "hit" : c.hit === 0 ? "dispatched" : "mixed",
      order: c.order,
    })),
    edges: [...edges].map(([k, n]) => {
      const [from, to] = k.split("\u0000") as [string, string];
      return { from, to, label: `${n}` };
    }),
  };
}

/**
 * `replay` leaves NAME.replay-summary.json beside the replayed notebook; the
 * report of that bundle shows its output differences.
 */
async function replayDifferences(bundleDir: string, sourceNotebook: string, problems: ReportProblem[]): Promise<ReplayDifferences | null> {
  const stem = basename(sourceNotebook, ".ipynb");
  const file = join(dirname(bundleDir), `${stem}.replay-summary.json`);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  try {
    const summary = JSON.parse(text) as { outputs?: { matched?: boolean; differences?: ReplayDifferences["differences"] } };
    const outputs = summary.outputs;
    if (!outputs || typeof outputs.matched !== "boolean" || !Array.isArray(outputs.differences)) throw new Error("has no `outputs` comparison");
    return {
      source: basename(file),
      matched: outputs.matched,
      differences: outputs.differences.map((d) => ({ cell_id: String(d.cell_id), cell_index: Number(d.cell_index), what: String(d.what), expected: String(d.expected), got: String(d.got) })),
    };
  } catch (err) {
    problems.push({ file: basename(file), message: `not a replay summary: ${(err as Error).message}` });
    return null;
  }
}

async function environmentOf(bundle: Bundle, problems: ReportProblem[]): Promise<ReportEnvironment | null> {
  try {
    const env = await bundle.readEnvironment();
    if (!env) return null;
    return {
      python: `${env.python.implementation} ${env.python.version}`,
      platform: `${env.platform.system} ${env.platform.release} ${env.platform.machine}`,
      kernel: env.kernel,
      engines: env.engines,
      packages: env.packages,
      captured_at: env.captured_at,
      nbrewind_version: env.nbrewind_version,
    };
  } catch (err) {
    problems.push({ file: "environment.json", message: (err as Error).message });
    return null;
  }
}

/** Every blob the records refer to, with the first record that does. */
function referencedBlobs(records: Map<string, CellRecord>): Map<string, string> {
  const out = new Map<string, string>();
  for (const rec of records.values()) for (const d of recordDigests(rec)) if (!out.has(d)) out.set(d, `cells/${rec.fingerprint}.json`);
  return out;
}

async function integrityOf(bundle: Bundle, records: Map<string, CellRecord>, hashContent: boolean, problems: ReportProblem[]): Promise<ReportIntegrity> {
  const seen = new Set(problems.map((p) => `${p.file}\u0000${p.message}`));
  const add = (file: string, message: string) => {
    if (!seen.has(`${file}\u0000${message}`)) problems.push({ file, message });
  };
  if (hashContent) {
    const named = new Set(problems.map((p) => p.file));
    for (const p of await verifyBundle(bundle.dir, bundle.blobs, { blobContent: true })) {
      // Record problems were named already, one line each; verify adds its own wording of the same.
      if (!p.file.startsWith("cells/") || !named.has(p.file)) add(p.file, p.path ? `${p.path}: ${p.message}` : p.message);
    }
  } else {
    // The records were read and checked against their schema once already; what is left is whether their blobs are there.
    for (const [digest, where] of referencedBlobs(records)) {
      if (!(await bundle.blobs.has(digest))) add(where, `refers to blob ${digest}, which is missing from the bundle`);
    }
  }
  const keys = new KeyStore();
  let signature: ReportIntegrity["signature"];
  if (hashContent) {
    const digests = await checkFolderDigests(bundle.dir, bundle.blobs, keys, new Set());
    for (const p of digests.problems) add(p.file, p.path ? `${p.path}: ${p.message}` : p.message);
    signature = signatureOf(digests.report);
  } else {
    const list = await readFile(join(bundle.dir, DIGESTS_FILE), "utf8")
      .then((t) => JSON.parse(t) as DigestList)
      .catch(() => undefined);
    const checked = await checkSigner(list, keys, DIGESTS_FILE);
    for (const p of checked.problems) add(p.file, p.message);
    signature = signatureOf(checked.report);
  }
  return { status: problems.length > 0 ? "problems" : "ok", content_hashed: hashContent, signature };
}

function signatureOf(r: { state: string; signer: Parameters<typeof describeKey>[0] | null; trusted: boolean; own: boolean }): ReportIntegrity["signature"] {
  return { state: r.state, signer: r.signer ? describeKey(r.signer) : null, trusted: r.trusted, own: r.own };
}
