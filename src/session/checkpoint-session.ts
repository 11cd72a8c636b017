import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { buildGraph, loadPythonParser } from "../analysis/index.js";
import { Bundle } from "../bundle/bundle.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import type { CellRecord, TaskRecord, WriteEntry } from "../bundle/records.js";
import { InputError } from "../common/errors.js";
import { mergeTaskReports, splitBySubmitter, storedTaskBytes } from "../common/task-record.js";
import { packageVersion } from "../common/package-root.js";
import { AdapterStatuses } from "../jupyter/adapter-statuses.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { JupyterRuntime } from "../jupyter/jupyter-runtime.js";
import type { CellHooks, ExecutableCell, NotebookRun } from "../jupyter/notebook-executor.js";
import { ShimClient, type KnownTask, type WriteEntry as ShimWrite } from "../jupyter/shim-client.js";
import { TASK_KEY_SCHEME } from "../jupyter/shim-protocol.js";
import { cellLabel } from "../notebook/cell-label.js";
import { inheritCellIds } from "../notebook/cell-id.js";
import { cellSource } from "../notebook/source.js";
import type { Notebook } from "../notebook/types.js";
import { explainPlan, planToJson } from "../planner/explain.js";
import { declaredReads, FileView, filesStillMatch } from "../planner/files.js";
import type { FileDigest } from "../planner/fingerprint.js";
import { resolveForced, type ForceRequest } from "../planner/forced.js";
import { formatBytes, makePlan, type CellPlan, type Plan } from "../planner/plan.js";
import type { RecordedCell } from "../planner/recorded.js";
import { countTasks, explainDispatched, shortName, type DispatchReason } from "../planner/task-explain.js";
import { ValueState } from "../planner/value-state.js";
import { checkRecordedWrites, restoreWrittenFiles } from "./file-restore.js";
import type { Prepared, RunExtension } from "./run-extension.js";
import type { TaskSettings } from "./task-settings.js";

export type CheckpointCommand = "audit" | "repeat";

export interface CheckpointOptions {
  /** Print, as each cell finishes, why each of its tasks that was not served from the bundle was dispatched. */
  explainTasks?: boolean;
  /** Re-signs the bundle's digest list at the end of the run (see bundle-trust.ts). */
  signer?: SigningKey;
  /** `--store all`: store every task result, even those cheaper to recompute than to store and load. */
  storeAll?: boolean;
  /** nbrewind.yaml's pins and task caches (src/session/task-settings.ts). */
  taskSettings?: TaskSettings;
}

/**
 * Every task result the bundle holds, one per recorded occurrence: the k-th
 * submission of a key by a cell is served only what occurrence k of that key
 * in that cell was recorded with (see engines/python/nbrewind/tasks/runtime.py).
 * From every record, older versions of a cell too (going back to an earlier
 * parameter serves its tasks); where two records of a cell hold the same
 * occurrence, the newer one's result is the one the user last saw.
 */
export function knownTasks(records: Iterable<RecordedCell>): KnownTask[] {
  const out = new Map<string, KnownTask>();
  const oldestFirst = [...records].sort((a, b) => a.recorded_at.localeCompare(b.recorded_at));
  for (const rec of oldestFirst) {
    if (rec.tasks?.length && rec.task_key_scheme !== TASK_KEY_SCHEME) {
      // Keys of another scheme are neither hits nor misses: comparing them would be a guess.
      throw new InputError(
        `cells/${rec.fingerprint}.json: task_key_scheme is ${String(rec.task_key_scheme)}, but this nbrewind-engine computes task keys under scheme ${TASK_KEY_SCHEME}; audit into a new bundle (--bundle DIR)`,
      );
    }
    for (const t of rec.tasks ?? []) {
      if (t.key !== null && t.result_digest !== undefined && t.result_size !== undefined && (t.status === "dispatched" || t.status === "hit")) {
        const cellId = t.cell_id ?? rec.cell_id;
        const occurrence = t.occurrence ?? 0;
        out.set(`${cellId}\0${occurrence}\0${t.key}`, {
          key: t.key,
          cell_id: cellId,
          occurrence,
          digest: t.result_digest,
          size: t.result_size,
          ...(t.result_blobs?.length ? { blobs: t.result_blobs } : {}),
          ...(t.result_pack ? { pack: t.result_pack } : {}),
          ...(t.files ? { files: { read: t.files.read, written: t.files.written } } : {}),
        });
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

/**
 * Analyse the notebook and decide, against the bundle's records, what runs;
 * `force` names cells the user makes run (bad input when it names no cell).
 */
export async function planNotebook(nb: Notebook, records: Map<string, RecordedCell>, runAll: boolean, force?: ForceRequest, notebookPath?: string, settings?: TaskSettings): Promise<Plan> {
  const forced = force ? resolveForced(force, nb.cells) : undefined;
  await loadPythonParser();
  const cells = codeCells(nb);
  const fileDigest = notebookPath ? filesBeside(notebookPath) : undefined;
  // With the notebook's path, the files the records read and wrote are probed too (planner/files.ts): a reused cell whose files changed runs.
  const files = notebookPath && !runAll ? await FileView.probe(dirname(resolve(notebookPath)), records.values()) : undefined;
  return makePlan({
    cells,
    graph: buildGraph(cells),
    records,
    runAll,
    ...(forced ? { forced } : {}),
    ...(fileDigest ? { fileDigest } : {}),
    ...(settings ? { staleRecord: settings.staleRecord } : {}),
    ...(files ? { files } : {}),
  });
}

/** Files a cell names (`%run prep.py`), read from the notebook's folder, where the kernel starts. */
function filesBeside(notebookPath: string): FileDigest {
  return (path) => {
    try {
      return createHash("sha256").update(readFileSync(resolve(dirname(notebookPath), path))).digest("hex");
    } catch {
      return undefined;
    }
  };
}

export function firstLinesOf(nb: Notebook): Map<string, string> {
  return new Map(codeCells(nb).map((c) => [c.id, cellLabel(c.source)]));
}

/**
 * Cells the notebook file gives no id (nbformat 4.4) keep the ids they had in
 * the bundle's notebook, so an edited cell is the same cell with another
 * source, not a new one (notebook/cell-id.ts, inheritCellIds).
 */
export async function adoptRecordedCellIds(prepared: Prepared, bundle: Bundle): Promise<void> {
  let recorded: Notebook;
  try {
    recorded = await bundle.readNotebook();
  } catch {
    return; // no run finished yet: nothing to inherit from
  }
  prepared.notebook = inheritCellIds(prepared.notebook, recorded);
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
  private readonly counts = { reused: 0, run: 0, restored_values: 0, restored_bytes: 0, checkpointed_bytes: 0, restored_files: 0, tasks: { total: 0, served: 0, dispatched: 0, uncached: 0, failed: 0, not_stored: 0 }, task_bytes: 0 };
  private log: (line: string) => void = () => {};
  private readonly adapters = new AdapterStatuses((line) => this.log(line));
  /** The namespace as this run leaves it, cell by cell: which value each name holds and whether it is in the kernel. */
  private readonly values = new ValueState();
  private readonly valueKeys = new Map<number, string>();
  private readonly byValueKey = new Map<string, RecordedCell>();
  /** The records this run wrote, by cell id: a task that finishes during a later cell is filed in its submitting cell's record. */
  private readonly written = new Map<string, CellRecord>();
  /** The recorded files as this run leaves them, cell by cell. */
  private readonly files: FileView;

  private get notebookDir(): string {
    return dirname(resolve(this.prepared.path));
  }

  constructor(
    private readonly command: CheckpointCommand,
    private readonly bundle: Bundle,
    private readonly plan: Plan,
    private readonly prepared: Prepared,
    private readonly records: Map<string, RecordedCell>,
    private readonly options: CheckpointOptions = {},
  ) {
    this.byIndex = new Map(plan.cells.map((c) => [c.index, c]));
    // A record is input: one naming a file outside the notebook's folder is refused before anything runs.
    checkRecordedWrites(records.values());
    this.files = plan.files ?? new FileView(this.notebookDir, new Map());
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
      if (this.options.storeAll) await this.shim.taskPolicy("all");
      await this.options.taskSettings?.sendTo(this.shim, log);
      await this.shim.observeFiles({ notebook_dir: this.notebookDir, exclude: [resolve(this.bundle.dir)] });
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
    // The plan as decided, in the run's log: what the report and a comparison of runs read back.
    await this.bundle.appendLog({ time: new Date().toISOString(), run_id: this.runId, event: "run_planned", plan: planToJson(this.plan) });
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
    // An audit runs every cell: a cell whose source appears twice must run (and be recorded) twice.
    // Engine-bound values are never restored as data: such a cell runs, its tasks served.
    const sameValues = plan.forced || this.command === "audit" ? undefined : this.byValueKey.get(valueKey);
    if (sameValues && !sameValues.writes.some((w) => w.status === "unserialisable" || w.status === "engine-bound") && filesStillMatch(sameValues, this.files).same) {
      plan.decision = "reuse";
      plan.reasons.push("but every value it reads turned out identical to the recorded ones, so it was reused");
      await this.reuse(cell, index, plan, sameValues, "same input values");
      await this.recordReuse(plan, index, sameValues, valueKey);
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
    await this.shim!.preCell(plan.id, declaredReads(cellSource(cell as Parameters<typeof cellSource>[0])));
    return "run";
  }


  private async reuse(cell: ExecutableCell, index: number, plan: CellPlan, record: RecordedCell, why: string): Promise<void> {
    // The files it wrote, put back at its place in the run (absent or different ones only).
    const restored = await restoreWrittenFiles(record, this.notebookDir, this.bundle.blobs, this.files);
    if (restored.files.length > 0) {
      this.log(`cell ${plan.number}: put back ${restored.files.map((f) => `\`${f}\``).join(", ")} (${formatBytes(restored.bytes)})`);
      this.counts.restored_files += restored.files.length;
      await this.logEvent("files_restored", plan, { files: restored.files, bytes: restored.bytes });
    }
    cell.outputs = structuredClone(record.outputs);
    cell.execution_count = record.execution_count;
    cell.metadata.nbrewind = { decision: "reused", why, fingerprint: plan.identity.fingerprint, recorded_s: record.duration_s };
    this.values.applyRecord(record, index);
    this.counts.reused++;
    await this.logEvent("cell_reused", plan, { why });
  }

  /** What every record of this cell in this run says about the cell itself. */
  private recordOf(plan: CellPlan, index: number): Pick<CellRecord, "format_version" | "fingerprint" | "cell_id" | "index" | "source_hash" | "reads" | "opaque" | "recorded_at" | "run_id"> {
    return {
      format_version: 1,
      fingerprint: plan.identity.fingerprint,
      cell_id: plan.id,
      index,
      source_hash: plan.identity.sourceHash,
      reads: plan.identity.reads,
      opaque: plan.opaque,
      recorded_at: new Date().toISOString(),
      run_id: this.runId,
    };
  }

  /**
   * A cell reused for its input values gets a record of its own fingerprint
   * (a copy of the matching one): the next repeat then finds it by
   * fingerprint, as for any cell, and needs no kernel for it.
   */
  private async recordReuse(plan: CellPlan, index: number, from: RecordedCell, valueKey: string): Promise<void> {
    if (this.records.has(plan.identity.fingerprint)) return;
    const record: CellRecord = {
      ...this.recordOf(plan, index),
      status: "ok",
      writes: from.writes,
      outputs: structuredClone(from.outputs),
      execution_count: from.execution_count,
      duration_s: from.duration_s,
      checkpoint_s: 0,
      checkpoint_bytes: 0,
      value_key: valueKey,
      ...(from.tasks?.length ? { tasks: from.tasks, task_key_scheme: from.task_key_scheme ?? TASK_KEY_SCHEME } : {}),
      ...(from.engines ? { engines: from.engines } : {}),
      ...(from.files ? { files: from.files } : {}),
    };
    await this.bundle.writeRecord(record);
    this.records.set(record.fingerprint, record);
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
    let files: CellRecord["files"];
    if (run.status === "ok") {
      const reply = await this.shim!.postCell(plan.id, plan.candidates, plan.opaque);
      checkpointS = reply.elapsed_s;
      this.adapters.note(reply.adapters);
      const { own, earlier } = splitBySubmitter(reply.tasks, plan.id);
      tasks = own;
      await this.fileEarlierTasks(earlier);
      if (reply.engines.started.length > 0 || reply.engines.used.length > 0) engines = reply.engines;
      writes = Object.entries(reply.names)
        .map(([name, entry]) => toRecordWrite(name, entry))
        .sort((a, b) => a.name.localeCompare(b.name));
      this.values.applyRun(writes, plan.identity.fingerprint, plan.id, index);
      if (reply.files) {
        files = reply.files;
        for (const w of files.written) this.files.noteWritten(w);
        if (files.outside?.length) this.log(`cell ${plan.number} wrote outside the notebook's folder (not recorded, never written back): ${files.outside.join(", ")}`);
        for (const w of files.warnings ?? []) this.log(`cell ${plan.number}: ${w}`);
      }
    } else {
      // A failed cell may have changed any name it touches, in ways nobody recorded.
      this.values.markUnknown(plan.opaque ? this.values.allNames() : plan.candidates, this.runId);
    }
    const stored = writes.reduce((s, w) => s + (w.status === "stored" ? w.size : 0), 0);
    this.counts.checkpointed_bytes += stored;
    const record: CellRecord = {
      ...this.recordOf(plan, index),
      status: run.status === "ok" ? "ok" : "error",
      writes,
      outputs: structuredClone(cell.outputs ?? []),
      execution_count: run.executionCount,
      duration_s: Math.round(run.durationMs) / 1000,
      checkpoint_s: Math.round(checkpointS * 1000) / 1000,
      checkpoint_bytes: stored,
      value_key: this.valueKeys.get(index)!,
      ...(tasks.length > 0 ? { tasks, task_key_scheme: this.shim!.hello!.task_key_scheme, task_bytes: storedTaskBytes(tasks) } : {}),
      ...(engines ? { engines } : {}),
      ...(files ? { files: { read: files.read, written: files.written } } : {}),
    };
    const pinLines = this.options.taskSettings?.annotate(tasks, plan.previous?.tasks ?? []) ?? [];
    await this.bundle.writeRecord(record);
    this.written.set(plan.id, record);
    await this.options.taskSettings?.publish(tasks, this.bundle, this.prepared.path);
    if (this.options.explainTasks) for (const line of pinLines) this.log(`      ${line}`);
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
    await this.logEvent("cell_recorded", plan, { reason: plan.reasons[0] ?? "", status: record.status, duration_s: record.duration_s, checkpoint_s: record.checkpoint_s, stored_bytes: stored, ...(taskMeta ? { tasks: taskMeta } : {}) });
  }

  /**
   * Tasks that earlier cells of this run submitted and that finished during
   * this one: they belong to the cell that submitted them, so they go into its
   * record (replacing their first, incomplete report), never into this one's.
   */
  private async fileEarlierTasks(earlier: Map<string, TaskRecord[]>): Promise<void> {
    for (const [cellId, late] of earlier) {
      const rec = this.written.get(cellId);
      if (!rec) continue; // not recorded in this run (its kernel-side state predates it): nothing to complete
      const before = storedTaskBytes(rec.tasks ?? []);
      rec.tasks = mergeTaskReports(rec.tasks ?? [], late);
      rec.task_key_scheme = this.shim!.hello!.task_key_scheme;
      rec.task_bytes = storedTaskBytes(rec.tasks);
      this.counts.task_bytes += rec.task_bytes - before;
      await this.bundle.writeRecord(rec);
    }
  }

  /** Counts, progress and, at repeat, why tasks were dispatched: what the cell's metadata keeps. */
  private noteTasks(plan: CellPlan, own: TaskRecord[]): Record<string, unknown> {
    const c = countTasks(own);
    const notStored = own.filter((t) => t.not_stored).length;
    const bytes = storedTaskBytes(own);
    for (const k of ["total", "served", "dispatched", "uncached", "failed"] as const) this.counts.tasks[k] += c[k];
    this.counts.tasks.not_stored += notStored;
    this.counts.task_bytes += bytes;
    const uncacheable = c.uncached - notStored;
    const extra = [uncacheable ? `${uncacheable} not cacheable` : "", notStored ? `${notStored} not stored: cheaper to recompute` : "", c.failed ? `${c.failed} failed` : ""].filter(Boolean).join(", ");
    this.log(`cell ${plan.number}: ${c.total} task(s), ${c.served} served from the bundle, ${c.dispatched} dispatched${extra ? ` (${extra})` : ""}, ${formatBytes(bytes)} of results stored`);
    let because: DispatchReason[] | undefined;
    if (this.command === "repeat" && c.dispatched > 0) {
      because = explainDispatched(own, plan.previous?.tasks ?? []);
      if (this.options.explainTasks) for (const r of because) this.log(`      ${r.count} × ${shortName(r.function)} dispatched because ${r.reason}`);
    }
    return { ...c, not_stored: notStored, stored_bytes: bytes, ...(because ? { dispatched_because: because } : {}) };
  }

  async finish(result: NotebookRun | undefined, failure: unknown): Promise<void> {
    await this.shutdownEngines();
    this.shim?.close();
    const status = result?.status ?? (failure ? "kernel-died" : "ok");
    await this.bundle.setCells(this.plan.cells.map((c) => c.identity.fingerprint));
    if (this.options.taskSettings) {
      const latest = [...(await this.bundle.records()).values()].filter((r) => this.plan.cells.some((c) => c.identity.fingerprint === r.fingerprint));
      const served = latest.filter((r) => r.run_id === this.runId).flatMap((r) => (r.tasks ?? []).filter((t) => t.status === "hit" && t.key !== null).map((t) => t.key!));
      await this.options.taskSettings.finishRun(this.bundle, this.prepared.path, this.runId, latest.flatMap((r) => r.tasks ?? []), served);
    }
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
    const uncacheable = t.uncached - t.not_stored;
    const tasks =
      t.total > 0
        ? [
            `tasks: ${t.total} submitted, ${t.served} served from the bundle, ${t.dispatched} dispatched to the engine${uncacheable ? ` (${uncacheable} not cacheable)` : ""}${t.failed ? `, ${t.failed} failed` : ""}`,
            `task results: ${formatBytes(c.task_bytes)} stored${t.not_stored ? `, ${t.not_stored} left out as cheaper to recompute than to store and load` : ""}`,
          ]
        : [];
    return {
      fields: { bundle: this.bundle.dir, counts: c, plan: planToJson(this.plan), engines: this.adapters.list() },
      lines: [`${this.command}: ${c.reused} reused, ${c.run} ran, ${c.restored_values} value(s) restored (${formatBytes(c.restored_bytes)}), ${formatBytes(c.checkpointed_bytes)} checkpointed`, ...tasks, ...this.adapters.lines(), `bundle: ${this.bundle.dir}`],
    };
  }

  explain(): string[] {
    return explainPlan(this.plan, firstLinesOf(this.prepared.notebook));
  }

  private async logEvent(event: string, plan: CellPlan, extra: Record<string, unknown> = {}): Promise<void> {
    await this.bundle.appendLog({ time: new Date().toISOString(), run_id: this.runId, event, cell_id: plan.id, fingerprint: plan.identity.fingerprint, ...extra });
  }
}
