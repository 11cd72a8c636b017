/**
 * bench:report — the report of a large bundle: 2,000 cells and 100,000
 * tasks (issue 16's size). It measures, against the targets and against the
 * floor of merely reading and parsing the same bundle files:
 *   - the time to write the page (collect + lay out + render + write);
 *   - the page's size;
 *   - the time headless Chromium takes to open it (navigation to `load`).
 * The bundle is synthetic but shaped like a real one: records with reads
 * from earlier cells, task graphs with upstream keys, two runs with their
 * logs, blobs present. Writing is measured interleaved with its floor, and
 * opening with a blank page's, each REPS times (medians), with the load
 * average and CPU time beside the wall time.
 * Run: npm run bench:report [-- --cells N --tasks N --reps N].
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg, tmpdir } from "node:os";
import puppeteer, { type Browser } from "puppeteer-core";
import { writeReport, type ReportData } from "../src/report/index.js";
import { median, option, ROOT } from "./lib/harness.js";
import { makeReportBundle } from "./lib/report-bundle.js";

const CELLS = option("cells", 2000);
const TASKS = option("tasks", 100_000);
const REPS = option("reps", 5);
const TARGET_WRITE_S = 3;
const TARGET_SIZE_MB = 5;
const TARGET_OPEN_S = 2;

interface Timed {
  wallMs: number;
  cpuMs: number;
  load: number;
}

/** Wall and CPU time of `fn`, with the 1-minute load average when it started. */
async function timed(fn: () => unknown): Promise<Timed> {
  const load = loadavg()[0]!;
  const c = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(c);
  return { wallMs, cpuMs: (used.user + used.system) / 1000, load };
}

/** The floor: reading and parsing every file the report reads, and nothing else. */
function readAndParse(bundleDir: string): void {
  for (const sub of ["cells", "logs"]) {
    for (const name of readdirSync(join(bundleDir, sub))) {
      const text = readFileSync(join(bundleDir, sub, name), "utf8");
      if (name.endsWith(".json")) JSON.parse(text);
      else for (const line of text.split("\n")) if (line) JSON.parse(line);
    }
  }
  JSON.parse(readFileSync(join(bundleDir, "notebook.ipynb"), "utf8"));
}

interface Opened {
  ms: number;
  load: number;
  nodes: number;
  layoutMs: number;
  styleMs: number;
  scriptMs: number;
}

/** Open `url` in a new tab up to `load`, with Chromium's own counters for that tab. */
async function openPage(browser: Browser, url: string): Promise<Opened> {
  const page = await browser.newPage();
  try {
    const load = loadavg()[0]!;
    const t = performance.now();
    await page.goto(url, { waitUntil: "load" });
    const ms = performance.now() - t;
    const m = await page.metrics();
    return { ms, load, nodes: m.Nodes ?? 0, layoutMs: (m.LayoutDuration ?? 0) * 1000, styleMs: (m.RecalcStyleDuration ?? 0) * 1000, scriptMs: (m.ScriptDuration ?? 0) * 1000 };
  } finally {
    await page.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-report-"));
  try {
    console.log(`bench:report: building a bundle of ${CELLS} cells and ${TASKS} tasks in ${dir}`);
    const bundleDir = await makeReportBundle(dir, CELLS, TASKS);
    const html = join(dir, "big.report.html");
    const blank = join(dir, "blank.html");
    writeFileSync(blank, "<!DOCTYPE html><title>blank</title>");

    // Interleaved, order alternating per repetition: the floor and the page, each under the same load.
    const floors: Timed[] = [];
    const writes: Timed[] = [];
    let data: ReportData | undefined;
    for (let rep = 0; rep < REPS; rep++) {
      const floor = () => timed(() => readAndParse(bundleDir));
      const write = () => timed(async () => (data = await writeReport(bundleDir, html)));
      if (rep % 2 === 0) {
        floors.push(await floor());
        writes.push(await write());
      } else {
        writes.push(await write());
        floors.push(await floor());
      }
    }
    const sizeMb = statSync(html).size / 1e6;
    if (data!.problems.length) console.log(`  (the synthetic bundle has ${data!.problems.length} problem(s): ${data!.problems[0]!.file}: ${data!.problems[0]!.message})`);

    const chromium = execFileSync("bash", [join(ROOT, "scripts", "browser.sh")], { encoding: "utf8" }).trim();
    const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const opens: Opened[] = [];
    const blanks: Opened[] = [];
    try {
      for (let rep = 0; rep < REPS; rep++) {
        blanks.push(await openPage(browser, `file://${blank}`));
        opens.push(await openPage(browser, `file://${html}`));
      }
      // The page is whole: every cell has its row, and an opened cell's task table is built from the embedded data.
      const page = await browser.newPage();
      await page.goto(`file://${html}`, { waitUntil: "load" });
      const rows = await page.$$eval("table.timeline tr.cell", (trs) => trs.length);
      if (rows !== CELLS) throw new Error(`the page shows ${rows} cells, not ${CELLS}`);
      const last = `details.taskcell[data-cell-id="cell-${CELLS - 1}"]`;
      await page.$eval(last, (d) => d.setAttribute("open", ""));
      await page.waitForSelector(`${last} tr[data-function]`);
      await page.close();
    } finally {
      await browser.close();
    }
    const med = (xs: number[]) => median(xs);
    const loads = (xs: { load: number }[]) => xs.map((x) => x.load.toFixed(1)).join(", ");
    const writeS = med(writes.map((w) => w.wallMs)) / 1000;
    const openS = med(opens.map((o) => o.ms)) / 1000;
    const row = (what: string, value: string, target: string, ratio: number) => console.log(`  ${what.padEnd(30)} ${value.padStart(10)}   target ${target.padEnd(5)} ratio to target ${ratio.toFixed(2)}  ${ratio <= 1 ? "met" : "NOT met"}`);
    console.log(`\nload average ${loadavg().map((l) => l.toFixed(2)).join(" ")} on ${cpus().length} cores; medians of ${REPS}, taken at load ${loads(writes)} (write) and ${loads(opens)} (open)`);
    row("write the page", `${writeS.toFixed(2)} s`, `${TARGET_WRITE_S} s`, writeS / TARGET_WRITE_S);
    row("page size", `${sizeMb.toFixed(2)} MB`, `${TARGET_SIZE_MB} MB`, sizeMb / TARGET_SIZE_MB);
    row("open in Chromium", `${openS.toFixed(2)} s`, `${TARGET_OPEN_S} s`, openS / TARGET_OPEN_S);
    const floorWall = med(floors.map((f) => f.wallMs));
    const floorCpu = med(floors.map((f) => f.cpuMs));
    const writeCpu = med(writes.map((w) => w.cpuMs));
    console.log(`  baseline, same run: reading and parsing the same files alone: ${(floorWall / 1000).toFixed(2)} s wall, ${(floorCpu / 1000).toFixed(2)} s CPU; writing the page: ${writeS.toFixed(2)} s wall (${(writeS * 1000 / floorWall).toFixed(1)}x), ${(writeCpu / 1000).toFixed(2)} s CPU (${(writeCpu / floorCpu).toFixed(1)}x)`);
    console.log(`    write per rep (wall/CPU, s): ${writes.map((w) => `${(w.wallMs / 1000).toFixed(2)}/${(w.cpuMs / 1000).toFixed(2)}`).join("  ")} (the first compiles the schemas, as every command does)`);
    const o = opens[opens.length >> 1]!;
    console.log(`  baseline, same run: opening a blank page: ${(med(blanks.map((b) => b.ms)) / 1000).toFixed(2)} s; the report: ${openS.toFixed(2)} s (${(openS * 1000 / med(blanks.map((b) => b.ms))).toFixed(1)}x)`);
    console.log(`    Chromium's counters for the report: ${o.nodes} DOM nodes, layout ${o.layoutMs.toFixed(0)} ms, style ${o.styleMs.toFixed(0)} ms, script ${o.scriptMs.toFixed(0)} ms; opens per rep (s): ${opens.map((x) => (x.ms / 1000).toFixed(2)).join(" ")}`);
    console.log(`  (cell graph: ${data!.cell_graph.layout} layout; ${data!.task_graphs.filter((g) => g.granularity === "tasks").length} cells drawn task by task, ${data!.task_graphs.filter((g) => g.granularity === "functions").length} by function)`);
  } finally {
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
