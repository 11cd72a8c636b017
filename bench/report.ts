/**
 * bench:report — the report of a large bundle: 2,000 cells and 100,000
 * tasks (issue 16's size). It measures, against the targets and against the
 * floor of merely reading and parsing the same bundle files:
 *   - the time to write the page (collect + lay out + render + write);
 *   - the page's size;
 *   - the time headless Chromium takes to open it (navigation to `load`).
 * The bundle is synthetic but shaped like a real one: records with reads
 * from earlier cells, task graphs with upstream keys, two runs with their
 * logs, blobs present. Run: npm run bench:report [-- --cells N --tasks N].
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { Bundle } from "../src/bundle/bundle.js";
import type { CellRecord, TaskRecord } from "../src/bundle/records.js";
import { writeReport } from "../src/report/index.js";
import { option, ROOT } from "./lib/harness.js";

const CELLS = option("cells", 2000);
const TASKS = option("tasks", 100_000);
const TARGET_WRITE_S = 3;
const TARGET_SIZE_MB = 5;
const TARGET_OPEN_S = 2;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

async function makeBundle(dir: string): Promise<string> {
  const notebookPath = join(dir, "big.ipynb");
  const bundleDir = join(dir, "big.nbrewind");
  const bundle = await Bundle.create(bundleDir, { sourceNotebook: "big.ipynb" });
  const blob = Buffer.from("result");
  const digest = createHash("sha256").update(blob).digest("hex");
  await bundle.blobs.writeAtomic(blob);
  const perCell = Math.floor(TASKS / CELLS);
  const cells: { id: string; source: string; fingerprint: string }[] = [];
  const runIds = ["run-audit", "run-repeat"];
  mkdirSync(join(bundleDir, "cells"), { recursive: true });
  for (let i = 0; i < CELLS; i++) {
    const id = `cell-${i}`;
    const source = `x${i} = f(x${Math.max(0, i - 1)}, x${Math.max(0, i - 7)})  # step ${i}`;
    const fingerprint = sha(`${id}:${source}`);
    const tasks: TaskRecord[] = [];
    for (let k = 0; k < perCell; k++) {
      const key = sha(`${i}:${k}`);
      tasks.push({
        key,
        engine: "dask",
        function: `pipeline.${k % 3 === 0 ? "load" : k % 3 === 1 ? "transform" : "combine"}`,
        arg_keys: [sha(`arg${k}`)],
        upstream: k > 1 ? [sha(`${i}:${k - 1}`), sha(`${i}:${Math.floor(k / 2)}`)] : [],
        engine_key: `t-${i}-${k}`,
        status: i % 10 === 0 ? "dispatched" : "hit",
        result_digest: digest,
        result_size: blob.length,
        duration_s: 0.01,
        cell_id: id,
      });
    }
    const rec: CellRecord = {
      format_version: 1,
      fingerprint,
      cell_id: id,
      index: i,
      source_hash: sha(source),
      status: "ok",
      reads: i === 0 ? [] : [{ name: `x${i - 1}`, producer_cell_id: `cell-${i - 1}`, producer_fingerprint: sha(`cell-${i - 1}`) }, ...(i >= 7 ? [{ name: `x${i - 7}`, producer_cell_id: `cell-${i - 7}`, producer_fingerprint: sha(`cell-${i - 7}`) }] : [])],
      writes: [],
      opaque: false,
      outputs: [{ output_type: "stream", name: "stdout", text: `step ${i}\n` }],
      execution_count: i + 1,
      duration_s: 0.5,
      checkpoint_s: 0.01,
      checkpoint_bytes: 0,
      recorded_at: new Date().toISOString(),
      run_id: runIds[0]!,
      value_key: sha(`v${i}`),
      tasks,
      task_key_scheme: 1,
    };
    writeFileSync(join(bundleDir, "cells", `${fingerprint}.json`), JSON.stringify(rec));
    cells.push({ id, source, fingerprint });
  }
  for (const [r, runId] of runIds.entries()) {
    await bundle.beginRun({ run_id: runId, command: r === 0 ? "audit" : "repeat", started_at: new Date().toISOString(), finished_at: null, status: "running", kernel: "python3", parameters: {}, cells: { reused: 0, restored: 0, run: 0 } });
    const plan = { counts: {}, cells: cells.map((c, i) => ({ index: i, id: c.id, fingerprint: c.fingerprint, decision: r === 0 || i % 10 === 0 ? "run" : "reuse", reasons: [r === 0 ? "audit runs every cell" : i % 10 === 0 ? "reads `x` from a cell that runs" : "unchanged"], restores: [] })) };
    const lines = [JSON.stringify({ time: new Date().toISOString(), run_id: runId, event: "run_planned", plan })];
    for (const [i, c] of cells.entries()) {
      const ran = r === 0 || i % 10 === 0;
      lines.push(JSON.stringify(ran ? { time: new Date().toISOString(), run_id: runId, event: "cell_recorded", cell_id: c.id, fingerprint: c.fingerprint, status: "ok", reason: "", duration_s: 0.5, checkpoint_s: 0.01, stored_bytes: 0 } : { time: new Date().toISOString(), run_id: runId, event: "cell_reused", cell_id: c.id, fingerprint: c.fingerprint, why: "unchanged" }));
    }
    mkdirSync(join(bundleDir, "logs"), { recursive: true });
    writeFileSync(join(bundleDir, "logs", `${runId}.jsonl`), lines.join("\n") + "\n");
    await bundle.finishRun(runId, { finished_at: new Date().toISOString(), status: "ok" });
  }
  await bundle.setCells(cells.map((c) => c.fingerprint));
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
    cells: cells.map((c) => ({ id: c.id, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: c.source })),
  };
  await bundle.writeNotebook(nb as never);
  writeFileSync(notebookPath, JSON.stringify(nb));
  return bundleDir;
}

/** The floor: reading and parsing every file the report reads, and nothing else. */
function readFloorMs(bundleDir: string): number {
  const t = performance.now();
  for (const sub of ["cells", "logs"]) {
    for (const name of readdirSync(join(bundleDir, sub))) {
      const text = readFileSync(join(bundleDir, sub, name), "utf8");
      if (name.endsWith(".json")) JSON.parse(text);
      else for (const line of text.split("\n")) if (line) JSON.parse(line);
    }
  }
  JSON.parse(readFileSync(join(bundleDir, "notebook.ipynb"), "utf8"));
  return performance.now() - t;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-report-"));
  try {
    console.log(`bench:report: building a bundle of ${CELLS} cells and ${TASKS} tasks in ${dir}`);
    const bundleDir = await makeBundle(dir);
    const floor = readFloorMs(bundleDir);
    const html = join(dir, "big.report.html");
    const t0 = performance.now();
    const data = await writeReport(bundleDir, html);
    const writeMs = performance.now() - t0;
    const sizeMb = statSync(html).size / 1e6;
    if (data.problems.length) console.log(`  (the synthetic bundle has ${data.problems.length} problem(s): ${data.problems[0]!.file}: ${data.problems[0]!.message})`);

    const chromium = execFileSync("bash", [join(ROOT, "scripts", "browser.sh")], { encoding: "utf8" }).trim();
    const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const opens: number[] = [];
    try {
      for (let rep = 0; rep < 3; rep++) {
        const page = await browser.newPage();
        const t = performance.now();
        await page.goto(`file://${html}`, { waitUntil: "load" });
        opens.push(performance.now() - t);
        const rows = await page.$$eval("table.timeline tr.cell", (trs) => trs.length);
        if (rows !== CELLS) throw new Error(`the page shows ${rows} cells, not ${CELLS}`);
        await page.close();
      }
    } finally {
      await browser.close();
    }
    const openMs = Math.min(...opens);
    const row = (what: string, value: string, target: string, ratio: number) => console.log(`  ${what.padEnd(26)} ${value.padStart(10)}   target ${target.padEnd(7)} ratio to target ${ratio.toFixed(2)}  ${ratio <= 1 ? "met" : "NOT met"}`);
    console.log(`\nload ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} on ${execFileSync("nproc", { encoding: "utf8" }).trim()} cores`);
    row("write the page", `${(writeMs / 1000).toFixed(2)} s`, `${TARGET_WRITE_S} s`, writeMs / 1000 / TARGET_WRITE_S);
    row("page size", `${sizeMb.toFixed(2)} MB`, `${TARGET_SIZE_MB} MB`, sizeMb / TARGET_SIZE_MB);
    row("open in Chromium (best of 3)", `${(openMs / 1000).toFixed(2)} s`, `${TARGET_OPEN_S} s`, openMs / 1000 / TARGET_OPEN_S);
    console.log(`  baseline: reading and parsing the same files alone takes ${(floor / 1000).toFixed(2)} s; writing the page is ${(writeMs / floor).toFixed(1)}x that`);
    console.log(`  (cell graph: ${data.cell_graph.layout} layout; ${data.task_graphs.filter((g) => g.granularity === "tasks").length} cells drawn task by task, ${data.task_graphs.filter((g) => g.granularity === "functions").length} by function)`);
  } finally {
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
