/**
 * A synthetic bundle shaped like a real one, as large as asked: for
 * bench:report (2,000 cells, 100,000 tasks) and the report's DOM test of a
 * run too large to show whole at once.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Bundle } from "../../src/bundle/bundle.js";
import type { CellRecord, TaskRecord } from "../../src/bundle/records.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * Write big.ipynb and its bundle big.nbrewind into `dir`: `cells` code cells
 * (x_i = f(x_{i-1}, x_{i-7})), each with taskCount/cellCount task records (load,
 * transform, combine; chained by upstream keys; every tenth cell's
 * dispatched, the others served), an audit that ran every cell and a repeat
 * that ran every tenth, with their logs and plans. Returns the bundle folder.
 */
export async function makeReportBundle(dir: string, cellCount: number, taskCount: number): Promise<string> {
  const notebookPath = join(dir, "big.ipynb");
  const bundleDir = join(dir, "big.nbrewind");
  const bundle = await Bundle.create(bundleDir, { sourceNotebook: "big.ipynb" });
  const blob = Buffer.from("result");
  const digest = createHash("sha256").update(blob).digest("hex");
  await bundle.blobs.writeAtomic(blob);
  const perCell = Math.floor(taskCount / cellCount);
  const cells: { id: string; source: string; fingerprint: string }[] = [];
  const runIds = ["run-audit", "run-repeat"];
  mkdirSync(join(bundleDir, "cells"), { recursive: true });
  for (let i = 0; i < cellCount; i++) {
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

