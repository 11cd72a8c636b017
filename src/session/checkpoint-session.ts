import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { buildGraph, firstLine, loadPythonParser } from "../analysis/index.js";
import { Bundle } from "../bundle/bundle.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import type { CellRecord, TaskRecord, WriteEntry } from "../bundle/records.js";
import { InputError } from "../common/errors.js";
import { packageVersion } from "../common/package-root.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { JupyterRuntime } from "../jupyter/jupyter-runtime.js";
import type { CellHooks, ExecutableCell, NotebookRun } from "../jupyter/notebook-executor.js";
import { ShimClient, type KnownTask, type WriteEntry as ShimWrite } from "../jupyter/shim-client.js";
import { TASK_KEY_SCHEME } from "../jupyter/shim-protocol.js";
import { cellSource } from "../notebook/source.js";
import type { Notebook } from "../notebook/types.js";
import { explainPlan, planToJson } from "../planner/explain.js";
import { formatBytes, makePlan, type CellPlan, type Plan } from "../planner/plan.js";
import type { RecordedCell } from "../planner/recorded.js";
import { countTasks, explainDispatched, shortName, type DispatchReason } from "../planner/task-explain.js";
import { ValueState } from "../planner/value-state.js";
import type { Prepared, RunExtension } from "./run-extension.js";

export type CheckpointCommand = "audit" | "repeat";

export interface CheckpointOptions {
  /** Print, as each cell finishes, why each of its tasks that was not served from the bundle was dispatched. */
  explainTasks?: boolean;
  /** Re-signs the bundle's digest list at the end of the run (see bundle-trust.ts). */
  signer?: SigningKey;
}

/**
 * Every task result the bundle holds, by task key, from every record (older
 * versions of a cell too: going back to an earlier parameter serves its tasks).
 */
export function knownTasks(records: Iterable<RecordedCell>): KnownTask[] {
  const out = new Map<string, KnownTask>();
  for (const rec of records) {
    if (rec.tasks?.length && rec.task_key_scheme !== TASK_KEY_SCHEME) {
      // Keys of another scheme are neither hits nor misses: comparing them would be a guess.
      throw new InputError(
        `cells/${rec.fingerprint}.json: task_key_scheme is ${String(rec.task_key_scheme)}, but this nbrewind-engine computes task keys under scheme ${TASK_KEY_SCHEME}; audit into a new bundle (--bundle DIR)`,
      );
    }
    for (const t of rec.tasks ?? []) {
      if (t.key !== null && t.result_digest !== undefined && t.result_size !== undefined && (t.status === "dispatched" || t.status === "hit")) {
        out.set(t.key, { key: t.key, digest: t.result_digest, size: t.result_size, ...(t.result_blobs?.length ? { blobs: t.result_blobs } : {}), ...(t.result_pack ? { pack: t.result_pack } : {}) });
      }
    }
  }
  return [...out.values()];
}

/** The shim's report of a name, as the cell record keeps it (timings go to the run log, not the record). */
function toRecordWrite(name: string, entry: ShimWrite): WriteEntry {
  switch (entry.status) {
    case "stored":
    case "unchanged":
      return { name, status: entry.status, digest: entry.digest, size: entry.size, type: entry.type };
    case "unserialisable":
      return { name, status: "unserialisable", type: entry.type, reason: entry.reason };
    case "engine-bound":
      return { name, status: "engine-bound", type: entry.type, engine: entry.engine, holds: entry.holds, reason: entry.reason };
    case "deleted":
      return { name, status: "deleted" };
  }
}



/** The code cells of a notebook as the analysis and the planner see them. */
export function codeCells(nb: Notebook): { index: number; id: string; source: string }[] {
  return nb.cells.flatMap((cell, index) => (cell.cell_type === "code" ? [{ index, id: cell.id, source: cellSource(cell) }] : []));
}

/** Analyse the notebook and decide, against the bundle's records, what runs. */
export async function planNotebook(nb: Notebook, records: Map<string, RecordedCell>, runAll: boolean): Promise<Plan> {
  await loadPythonParser();
  const cells = codeCells(nb);
  return makePlan({ cells, graph: buildGraph(cells), records, runAll });
}

export function firstLinesOf(nb: Notebook): Map<string, string> {
  return new Map(codeCells(nb).map((c) => [c.id, firstLine(c.source)]));
}

/** Open the bundle for a command: audit creates it, repeat requires it. */
export async function openBundle(command: CheckpointCommand | "plan", dir: string, notebookPath: string): Promise<Bundle> {
  if (command === "audit") return Bundle.create(dir, { sourceNotebook: basename(notebookPath) });
  try {
    return await Bundle.open(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || /no bundle|does not exist|not found/i.test((err as Error).message)) {
      throw new InputError(`no bundle at ${dir}: run 'nbrewind-engine audit ${notebookPath}' first (or pass --bundle DIR)`);
    }
    throw err;
  }
}


/**
 * Audit and repeat: the planned run. Reused cells get their recorded outputs
 * without executing; running cells get the values they need restored just
 * before they run, then are checkpointed by the kernel-side shim, which
 * writes blobs straight into the bundle; each cell's record is written as
 * soon as the cell is done, so a crash loses nothing already completed.
 */
export class CheckpointSession implements RunExtension {
  private shim: ShimClient | undefined;
  private readonly runId = randomUUID();
  private readonly byIndex: Map<number, CellPlan>;
  private readonly counts = { reused: 0, run: 0, restored_values: 0, restored_bytes: 0, checkpointed_bytes: 0, tasks: { total: 0, served: 0, dispatched: 0, uncached: 0, failed: 0 } };
  private log: (line: string) => void = () => {};
  /** The namespace as this run leaves it, cell by cell: which value each name holds and whether it is in the kernel. */
  private readonly values = new ValueState();
  private readonly valueKeys = new Map<number, string>();
  private readonly byValueKey = new Map<string, RecordedCell>();

  constructor(
    private readonly command: CheckpointCommand,
    private readonly bundle: Bundle,
    private readonly plan: Plan,
    private readonly prepared: Prepared,
    private readonly records: Map<string, RecordedCell>,
    private readonly options: CheckpointOptions = {},
  ) {
    this.byIndex = new Map(plan.cells.map((c) => [c.index, c]));
    if (command === "repeat") for (const r of records.values()) if (r.status === "ok") this.byValueKey.set(r.value_key, r);
  }

  needsKernel(): boolean {
    return this.plan.counts.run > 0;
  }

  async attach(runtime: JupyterRuntime | undefined, log: (line: string) => void): Promise<CellHooks> {
    this.log = log;
    let environmentDigest: string | undefined;
    if (runtime) {
      this.shim = await ShimClient.attach(runtime.session, { blobsDir: this.bundle.blobs.root });
      if (this.command === "repeat") {
        // Audit runs every task; repeat serves every task whose key the bundle holds.
        const known = knownTasks(this.records.values());
        if (known.length > 0) {
          await this.shim.tasksKnown(known);
          log(`${known.length} task result(s) in the bundle can be served to the engines`);
        }
      }
      const environment = await this.shim.environment();
      environmentDigest = await this.bundle.writeEnvironment({ ...environment, captured_at: new Date().toISOString(), kernel: runtime.kernelName, nbrewind_version: packageVersion() });
    }
    await this.bundle.beginRun({
      run_id: this.runId,
      command: this.command,
      started_at: new Date().toISOString(),
      finished_at: null,
      status: "running",
      kernel: runtime?.kernelName ?? "",
      parameters: this.prepared.parameters,
      cells: { reused: 0, restored: 0, run: 0 },
      ...(environmentDigest ? { environment_digest: environmentDigest } : {}),
    });
    const c = this.plan.counts;
    log(`plan: ${c.reuse} cell(s) reused, ${c.run} to run, ${c.restores} value(s) to restore (${formatBytes(c.restoreBytes)})`);
    return {
      beforeCell: (cell, index) => this.beforeCell(cell, index, log),
      afterCell: (cell, index, run) => this.afterCell(cell, index, run),
    };
  }

  private async beforeCell(cell: ExecutableCell, index: number, log: (line: string) => void): Promise<"run" | "reused"> {
    const plan = this.byIndex.get(index);
    if (!plan) return "run";
    if (plan.decision === "reuse" && plan.record) {
      await this.reuse(cell, index, plan, plan.record, "unchanged");
      return "reused";
    }
    // The static plan runs this cell; the values it reads, as the run has
    // actually left them, may still be exactly the recorded ones.
    const inputs = plan.opaque ? this.values.allNames() : plan.inputs;
    const valueKey = this.values.valueKey(plan.identity.sourceHash, inputs);
    const sameValues = plan.forced ? undefined : this.byValueKey.get(valueKey);
    if (sameValues && !sameValues.writes.some((w) => w.status === "unserialisable" || w.status === "engine-bound")) {
      plan.decision = "reuse";
      plan.reasons.push("but every value it reads turned out identical to the recorded ones, so it was reused");
      await this.reuse(cell, index, plan, sameValues, "same input values");
      await this.recordUnderFingerprint(plan, index, sameValues);
      return "reused";
    }
    const restores: Record<string, string> = {};
    let bytes = 0;
    for (const name of inputs) {
      const state = this.values.get(name);
      if (state?.location.where !== "recorded") continue;
      if (!state.restorable) throw new Error(`internal: cell ${plan.number} needs \`${name}\`, which cannot be restored and was not recomputed`);
      restores[name] = state.location.digest;
      bytes += state.location.size;
    }
    const names = Object.keys(restores);
    if (names.length > 0) {
      log(`restoring ${names.map((n) => `\`${n}\``).join(", ")} (${formatBytes(bytes)}) for cell ${plan.number}`);
      await this.shim!.restore(restores);
      for (const name of names) this.values.markLive(name);
      this.counts.restored_values += names.length;
      this.counts.restored_bytes += bytes;
      await this.logEvent("values_restored", plan, { names, bytes });
    }
    this.valueKeys.set(index, valueKey);
    await this.shim!.preCell(plan.id);
    return "run";
  }

  /**
   * A cell reused because its input values were identical is recorded under
   * the fingerprint it has now, as the cell that computed them would have
   * been: otherwise the next repeat finds no record for that fingerprint and
   * runs it (and everything after it) again, every time.
   */
  private async recordUnderFingerprint(plan: CellPlan, index: number, reused: RecordedCell): Promise<void> {
    if (reused.fingerprint === plan.identity.fingerprint) return;
    const record = { ...(reused as CellRecord), fingerprint: plan.identity.fingerprint, cell_id: plan.id, index, reads: plan.identity.reads, recorded_at: new Date().toISOString(), run_id: this.runId };
    await this.bundle.writeRecord(record);
  }

  private async reuse(cell: ExecutableCell, index: number, plan: CellPlan, record: RecordedCell, why: string): Promise<void> {
    cell.outputs = structuredClone(record.outputs);
    cell.execution_count = record.execution_count;
    cell.metadata.nbrewind = { decision: "reused", why, fingerprint: plan.identity.fingerprint, recorded_s: record.duration_s };
    this.values.applyRecord(record, index);
    this.counts.reused++;
    await this.logEvent("cell_reused", plan, { why });
  }

  private async afterCell(cell: ExecutableCell, index: number, run: CellRun): Promise<void> {
    const plan = this.byIndex.get(index);
    if (!plan) return;
    this.counts.run++;
    // A dead or interrupted kernel has nothing trustworthy to checkpoint.
    if (run.status !== "ok" && run.status !== "error") return;
    let writes: WriteEntry[] = [];
    let checkpointS = 0;
    let tasks: TaskRecord[] = [];
    let engines: CellRecord["engines"];
    if (run.status === "ok") {
      const reply = await this.shim!.postCell(plan.id, plan.candidates, plan.opaque);
      checkpointS = reply.elapsed_s;
      tasks = reply.tasks;
      if (reply.engines.started.length > 0 || reply.engines.used.length > 0) engines = reply.engines;
      writes = Object.entries(reply.names)
        .map(([name, entry]) => toRecordWrite(name, entry))
        .sort((a, b) => a.name.localeCompare(b.name));
      this.values.applyRun(writes, plan.identity.fingerprint, plan.id, index);
    } else {
      // A failed cell may have changed any name it touches, in ways nobody recorded.
      this.values.markUnknown(plan.opaque ? this.values.allNames() : plan.candidates, this.runId);
    }
    const stored = writes.reduce((s, w) => s + (w.status === "stored" ? w.size : 0), 0);
    this.counts.checkpointed_bytes += stored;
    const record: CellRecord = {
      format_version: 1,
      fingerprint: plan.identity.fingerprint,
      cell_id: plan.id,
      index,
      source_hash: plan.identity.sourceHash,
      status: run.status === "ok" ? "ok" : "error",
      reads: plan.identity.reads,
      writes,
      opaque: plan.opaque,
      outputs: structuredClone(cell.outputs ?? []),
      execution_count: run.executionCount,
      duration_s: Math.round(run.durationMs) / 1000,
      checkpoint_s: Math.round(checkpointS * 1000) / 1000,
      checkpoint_bytes: stored,
      recorded_at: new Date().toISOString(),
      run_id: this.runId,
      value_key: this.valueKeys.get(index)!,
      ...(tasks.length > 0 ? { tasks, task_key_scheme: this.shim!.hello!.task_key_scheme } : {}),
      ...(engines ? { engines } : {}),
    };
    await this.bundle.writeRecord(record);
    if (record.status === "ok") this.byValueKey.set(record.value_key, record);
    const taskMeta = tasks.length > 0 ? this.noteTasks(plan, tasks) : undefined;
    cell.metadata.nbrewind = {
      ...(cell.metadata.nbrewind as object | undefined),
      decision: "run",
      fingerprint: plan.identity.fingerprint,
      reason: plan.reasons[0] ?? "",
      ...(taskMeta ? { tasks: taskMeta } : {}),
      ...(engines ? { engines } : {}),
    };
    await this.logEvent("cell_recorded", plan, { status: record.status, duration_s: record.duration_s, checkpoint_s: record.checkpoint_s, stored_bytes: stored, ...(taskMeta ? { tasks: taskMeta } : {}) });
  }

  /** Counts, progress and, at repeat, why tasks were dispatched: what the cell's metadata keeps. */
  private noteTasks(plan: CellPlan, tasks: TaskRecord[]): Record<string, unknown> {
    const own = tasks.filter((t) => t.cell_id === undefined || t.cell_id === plan.id);
    const c = countTasks(own);
    for (const k of ["total", "served", "dispatched", "uncached", "failed"] as const) this.counts.tasks[k] += c[k];
    const extra = [c.uncached ? `${c.uncached} not cacheable` : "", c.failed ? `${c.failed} failed` : ""].filter(Boolean).join(", ");
    this.log(`cell ${plan.number}: ${c.total} task(s), ${c.served} served from the bundle, ${c.dispatched} dispatched${extra ? ` (${extra})` : ""}`);
    let because: DispatchReason[] | undefined;
    if (this.command === "repeat" && c.dispatched > 0) {
      because = explainDispatched(own, plan.previous?.tasks ?? []);
      if (this.options.explainTasks) for (const r of because) this.log(`      ${r.count} × ${shortName(r.function)} dispatched because ${r.reason}`);
    }
    return { ...c, ...(because ? { dispatched_because: because } : {}) };
  }

  async finish(result: NotebookRun | undefined, failure: unknown): Promise<void> {
    await this.shutdownEngines();
    this.shim?.close();
    const status = result?.status ?? (failure ? "kernel-died" : "ok");
    await this.bundle.setCells(this.plan.cells.map((c) => c.identity.fingerprint));
    await this.bundle.writeNotebook(this.prepared.notebook);
    await this.bundle.finishRun(this.runId, {
      finished_at: new Date().toISOString(),
      status,
      cells: { reused: this.counts.reused, restored: this.counts.restored_values, run: this.counts.run },
    });
    if (this.options.signer) await this.bundle.sign(this.options.signer);
  }

  /**
   * Close the engine runtimes the cells started (a Dask client and cluster),
   * while the kernel is still there: a kernel killed with a cluster open can
   * leave its worker processes behind. A dead kernel has nothing to close.
   */
  private async shutdownEngines(): Promise<void> {
    if (!this.shim) return;
    try {
      const reply = await this.shim.shutdownEngines();
      for (const c of reply.closed) if (c.status !== "closed") this.log(`could not close ${c.handle} (${c.engine}): ${c.status}`);
    } catch {
      // The kernel died or was interrupted: the server's shutdown reaps what is left.
    }
  }

  summary(): { fields: Record<string, unknown>; lines: string[] } {
    const c = this.counts;
    const t = c.tasks;
    const tasks = t.total > 0 ? [`tasks: ${t.total} submitted, ${t.served} served from the bundle, ${t.dispatched} dispatched to the engine${t.uncached ? ` (${t.uncached} not cacheable)` : ""}${t.failed ? `, ${t.failed} failed` : ""}`] : [];
    return {
      fields: { bundle: this.bundle.dir, counts: c, plan: planToJson(this.plan) },
      lines: [`${this.command}: ${c.reused} reused, ${c.run} ran, ${c.restored_values} value(s) restored (${formatBytes(c.restored_bytes)}), ${formatBytes(c.checkpointed_bytes)} checkpointed`, ...tasks, `bundle: ${this.bundle.dir}`],
    };
  }

  explain(): string[] {
    return explainPlan(this.plan, firstLinesOf(this.prepared.notebook));
  }

  private async logEvent(event: string, plan: CellPlan, extra: Record<string, unknown> = {}): Promise<void> {
    await this.bundle.appendLog({ time: new Date().toISOString(), run_id: this.runId, event, cell_id: plan.id, fingerprint: plan.identity.fingerprint, ...extra });
  }
}
