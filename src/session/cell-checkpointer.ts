import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import type { CellRecord, TaskRecord, WriteEntry } from "../bundle/records.js";
import { InputError } from "../common/errors.js";
import { packageVersion } from "../common/package-root.js";
import { mergeTaskReports, splitBySubmitter, storedTaskBytes } from "../common/task-record.js";
import { AdapterStatuses } from "../jupyter/adapter-statuses.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { ExecutableCell } from "../jupyter/notebook-executor.js";
import type { KnownTask, ShimClient, WriteEntry as ShimWrite } from "../jupyter/shim-client.js";
import { TASK_KEY_SCHEME } from "../jupyter/shim-protocol.js";
import { filesStillMatch, type FileView } from "../planner/files.js";
import { formatBytes, type CellPlan } from "../planner/plan.js";
import { servableHere } from "../planner/moved-folder.js";
import type { RecordedCell } from "../planner/recorded.js";
import { countTasks, explainDispatched, shortName, type DispatchReason } from "../planner/task-explain.js";
import { ValueState } from "../planner/value-state.js";
import { restoreWrittenFiles } from "./file-restore.js";
import type { TaskSettings } from "./task-settings.js";

export type CheckpointCommand = "audit" | "repeat";

/** What a run counted, as the summary and `--json` report it. */
export interface CheckpointCounts {
  reused: number;
  run: number;
  restored_values: number;
  restored_bytes: number;
  checkpointed_bytes: number;
  /** Files a reused cell wrote, put back where they were absent or different. */
  restored_files: number;
  tasks: { total: number; served: number; dispatched: number; uncached: number; failed: number; not_stored: number };
  /** Bytes of task results stored in this run. */
  task_bytes: number;
}

/** What the run does with task results, the same for the CLI and the kernel. */
export interface TaskOptions {
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
 * `folder` (a real path): results that name another folder than this one,
 * the one they were recorded in, are left out, so their tasks run again here
 * (planner/moved-folder.ts).
 */
export function knownTasks(records: Iterable<RecordedCell>, folder?: string): KnownTask[] {
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
      if (t.key !== null && t.result_digest !== undefined && t.result_size !== undefined && (t.status === "dispatched" || t.status === "hit") && servableHere(t, rec.folder, folder)) {
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
          ...(t.holds_path ? { holds_path: true as const } : {}),
        });
      }
    }
  }
  return [...out.values()];
}

/** The shim's report of a name, as the cell record keeps it (timings go to the run log, not the record). */
export function toRecordWrite(name: string, entry: ShimWrite): WriteEntry {
  switch (entry.status) {
    case "stored":
    case "unchanged":
      return {
        name,
        status: entry.status,
        digest: entry.digest,
        size: entry.size,
        type: entry.type,
        ...(entry.reaches_engines ? { reaches_engines: entry.reaches_engines } : {}),
        ...(entry.holds_path ? { holds_path: true as const } : {}),
      };
    case "unserialisable":
      return { name, status: "unserialisable", type: entry.type, reason: entry.reason };
    case "engine-bound":
      return { name, status: "engine-bound", type: entry.type, engine: entry.engine, holds: entry.holds, reason: entry.reason };
    case "deleted":
      return { name, status: "deleted" };
  }
}

/**
 * The checkpoint session's per-cell core, shared by its two drivers: the
 * CLI's notebook loop (checkpoint-session.ts, cells in notebook order with a
 * plan made up front) and the NBRewind kernel (interactive-session.ts, cells
 * in the order the user executes them). Whoever drives it decides reuse or
 * run; this reuses a record, restores what a running cell reads, and
 * checkpoints a cell that ran into the bundle, keeping the namespace state
 * (which value each name holds, and whether it is in the kernel) in step.
 */
export class CellCheckpointer {
  readonly runId = randomUUID();
  readonly counts: CheckpointCounts = { reused: 0, run: 0, restored_values: 0, restored_bytes: 0, checkpointed_bytes: 0, restored_files: 0, tasks: { total: 0, served: 0, dispatched: 0, uncached: 0, failed: 0, not_stored: 0 }, task_bytes: 0 };
  /** What each engine adapter reported (memoizing, or why not), warned about once. */
  readonly adapters = new AdapterStatuses((line) => this.options.log(line));
  /** The namespace as this run leaves it, cell by cell: which value each name holds and whether it is in the kernel. */
  readonly values = new ValueState();
  shim: ShimClient | undefined;
  private readonly valueKeys = new Map<CellPlan, string>();
  private readonly byValueKey = new Map<string, RecordedCell>();
  /** The records this run wrote, by cell id: a task that finishes during a later cell is filed in its submitting cell's record. */
  private readonly written = new Map<string, CellRecord>();
  /**
   * The recorded files as this run leaves them, cell by cell (planner/files.ts), over the notebook's folder: the
   * shim observes the files each cell reads and writes, and a reused cell's written files are put back. The kernel
   * replaces it before each execute: there the disk may change between cells, by the user's hand.
   */
  files: FileView | undefined;

  constructor(
    readonly command: CheckpointCommand,
    readonly bundle: Bundle,
    /** The bundle's records by fingerprint; a copy made for a cell reused for its input values is added. */
    private readonly records: Map<string, RecordedCell>,
    private readonly options: TaskOptions & {
      explainTasks?: boolean;
      /** The notebook's path: where task results are published to a shared cache from (task settings). */
      notebookPath?: string;
      /** The shim serves more than this run (the kernel's, across modes): its task policy is set every time. */
      shimOutlivesRun?: boolean;
      /** The recorded files as the run starts (see `files`). */
      files?: FileView;
      log: (line: string) => void;
      /** False: the caller reports a cell's tasks itself (the kernel, in one line under the cell). */
      announceTasks?: boolean;
      /** Append run-log events in the background, in order (the kernel: a reused cell must not wait for the disk); flushLogs() settles them. */
      deferLogs?: boolean;
    },
  ) {
    this.files = options.files;
    if (command === "repeat") for (const r of records.values()) if (r.status === "ok") this.byValueKey.set(r.value_key, r);
  }

  set log(log: (line: string) => void) {
    this.options.log = log;
  }

  /** Greet the shim: in repeat, hand it every task result the bundle holds; then capture the environment. Returns its digest. */
  async attachShim(shim: ShimClient, records: Iterable<RecordedCell>, kernelName: string): Promise<string> {
    // Every set-up request is sent before any answer is awaited: the kernel answers comm
    // messages in the order they arrive, so this is one wait instead of one per request.
    const connected = this.connectShim(shim, records);
    const environment = this.captureEnvironment(kernelName);
    environment.catch(() => {}); // a failure to connect is the one reported
    await connected;
    return environment;
  }

  /** Tell the shim how to store task results and which pins and caches apply; in repeat, hand it every task result the bundle holds. */
  async connectShim(shim: ShimClient, records: Iterable<RecordedCell>): Promise<void> {
    this.shim = shim;
    const sent: Promise<unknown>[] = [];
    // A shim that outlives this run (the kernel's) may hold the last mode's policy: set it even when it is the default.
    if (this.options.storeAll || this.options.shimOutlivesRun) sent.push(shim.taskPolicy(this.options.storeAll ? "all" : "cost"));
    if (this.options.taskSettings) sent.push(this.options.taskSettings.sendTo(shim, this.options.log));
    if (this.files) {
      const seeds = this.files.digestSeeds();
      sent.push(shim.observeFiles({ notebook_dir: this.files.notebookDir, exclude: [resolve(this.bundle.dir)], ...(Object.keys(seeds).length > 0 ? { seed_digests: seeds } : {}) }));
    }
    if (this.command === "repeat") {
      // Audit runs every task; repeat serves every task whose key the bundle holds.
      const known = knownTasks(records, this.files?.realDir);
      if (known.length > 0) sent.push(shim.tasksKnown(known).then(() => this.options.log(`${known.length} task result(s) in the bundle can be served to the engines`)));
    }
    await Promise.all(sent);
  }

  /** The kernel's environment into the bundle (Python, packages, engines); returns its digest for the run entry. */
  async captureEnvironment(kernelName: string): Promise<string> {
    const environment = await this.shim!.environment();
    return this.bundle.writeEnvironment({ ...environment, captured_at: new Date().toISOString(), kernel: kernelName, nbrewind_version: packageVersion() });
  }

  /** Open this run in the bundle's manifest. */
  async beginRun(kernelName: string, parameters: Record<string, unknown>, environmentDigest: string | undefined): Promise<void> {
    await this.bundle.beginRun({
      run_id: this.runId,
      command: this.command,
      started_at: new Date().toISOString(),
      finished_at: null,
      status: "running",
      kernel: kernelName,
      parameters,
      cells: { reused: 0, restored: 0, run: 0 },
      ...(environmentDigest ? { environment_digest: environmentDigest } : {}),
    });
  }

  /** The names a cell about to run reads, as the namespace now stands. */
  inputsOf(plan: CellPlan): string[] {
    return plan.opaque ? this.values.allNames() : plan.inputs;
  }

  /**
   * A cell the static decision runs may still read exactly the values it was
   * recorded with (a cell that passed `x` to a function did not mutate it
   * after all): then its record is as good as a run. Remembers the cell's
   * value key for its record.
   */
  sameValuesRecord(plan: CellPlan): RecordedCell | undefined {
    const inputs = this.inputsOf(plan);
    const valueKey = this.values.valueKey(plan.identity.sourceHash, inputs);
    this.valueKeys.set(plan, valueKey);
    // An engine-bound input (futures, ObjectRefs) is known by its producer, not its content: a
    // producer that ran again may have computed different results (a task of it read a changed
    // file), so a cell reading one is never judged to read its recorded values.
    if (inputs.some((name) => this.values.get(name)?.identity.startsWith("engine-bound:"))) return undefined;
    // An audit runs every cell: a cell whose source appears twice must run (and be recorded) twice.
    const same = plan.forced || this.command === "audit" ? undefined : this.byValueKey.get(valueKey);
    // Engine-bound values are never restored as data: such a cell runs, its tasks served. Nor does a record whose files changed stand.
    if (!same || same.writes.some((w) => w.status === "unserialisable" || w.status === "engine-bound")) return undefined;
    return !this.files || filesStillMatch(same, this.files).same ? same : undefined;
  }

  /** Names the cell reads whose value is only recorded and cannot be loaded: only re-running their producer brings them back. */
  unrestorableInputs(plan: CellPlan): string[] {
    return this.inputsOf(plan).filter((name) => {
      const state = this.values.get(name);
      return state?.location.where === "recorded" && !state.restorable;
    });
  }

  /** Fill the cell from a record instead of running it. */
  async reuse(cell: ExecutableCell, index: number, plan: CellPlan, record: RecordedCell, why: string): Promise<void> {
    if (this.files) {
      // The files it wrote, put back at its place in the run (absent or different ones only).
      const restored = await restoreWrittenFiles(record, this.files.notebookDir, this.bundle.blobs, this.files);
      if (restored.files.length > 0) {
        this.options.log(`cell ${plan.number}: put back ${restored.files.map((f) => `\`${f}\``).join(", ")} (${formatBytes(restored.bytes)})`);
        this.counts.restored_files += restored.files.length;
        await this.logEvent("files_restored", plan, { files: restored.files, bytes: restored.bytes });
      }
    }
    // Outputs over 1 MiB are blobs in the record; the notebook gets them whole.
    cell.outputs = structuredClone(await this.bundle.recordOutputs(record));
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
   * A cell reused for its input values (sameValuesRecord) gets a record of
   * its own fingerprint (a copy of the matching one): the next repeat then
   * finds it by fingerprint, as for any cell, and needs no kernel for it.
   * Returns the new record, if one was written.
   */
  async recordReuse(plan: CellPlan, index: number, from: RecordedCell): Promise<CellRecord | undefined> {
    if (this.records.has(plan.identity.fingerprint)) return undefined;
    const record: CellRecord = {
      ...this.recordOf(plan, index),
      status: "ok",
      writes: from.writes,
      outputs: structuredClone(from.outputs),
      execution_count: from.execution_count,
      duration_s: from.duration_s,
      checkpoint_s: 0,
      checkpoint_bytes: 0,
      value_key: this.valueKeys.get(plan)!,
      ...(from.tasks?.length ? { tasks: from.tasks, task_key_scheme: from.task_key_scheme ?? TASK_KEY_SCHEME } : {}),
      ...(from.engines ? { engines: from.engines } : {}),
      ...(from.files ? { files: from.files } : {}),
      ...(from.folder ? { folder: from.folder } : {}),
    };
    const stored = await this.bundle.writeRecord(record);
    this.records.set(stored.fingerprint, stored);
    return stored;
  }

  /**
   * Just before a cell runs: load the recorded values it reads into the kernel, then tell the shim the cell starts
   * (with the files it declares it reads, `# nbrewind: reads data/*.h5`: planner/files.ts, declaredReads).
   */
  async prepareRun(plan: CellPlan, declaredReads: string[] = []): Promise<void> {
    if (!this.valueKeys.has(plan)) this.valueKeys.set(plan, this.values.valueKey(plan.identity.sourceHash, this.inputsOf(plan)));
    const restores: Record<string, string> = {};
    let bytes = 0;
    for (const name of this.inputsOf(plan)) {
      const state = this.values.get(name);
      if (state?.location.where !== "recorded") continue;
      if (!state.restorable) throw new Error(`internal: cell ${plan.number} needs \`${name}\`, which cannot be restored and was not recomputed`);
      restores[name] = state.location.digest;
      bytes += state.location.size;
    }
    const names = Object.keys(restores);
    if (names.length > 0) {
      this.options.log(`restoring ${names.map((n) => `\`${n}\``).join(", ")} (${formatBytes(bytes)}) for cell ${plan.number}`);
      await this.shim!.restore(restores);
      for (const name of names) this.values.markLive(name);
      this.counts.restored_values += names.length;
      this.counts.restored_bytes += bytes;
      await this.logEvent("values_restored", plan, { names, bytes });
    }
    await this.shim!.preCell(plan.id, declaredReads);
  }

  /**
   * After a cell ran: checkpoint it (the shim writes its values into the
   * bundle's blobs) and write its record at once, so a crash loses nothing
   * already completed. Returns the record (none for a dead or interrupted
   * kernel: nothing trustworthy to checkpoint) and the task counts.
   */
  async checkpoint(cell: ExecutableCell, index: number, plan: CellPlan, run: CellRun): Promise<{ record?: CellRecord; tasks?: Record<string, unknown> }> {
    this.counts.run++;
    if (run.status !== "ok" && run.status !== "error") return {};
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
        for (const w of files.written) this.files?.noteWritten(w);
        if (files.outside?.length) this.options.log(`cell ${plan.number} wrote outside the notebook's folder (not recorded, never written back): ${files.outside.join(", ")}`);
        for (const w of files.warnings ?? []) this.options.log(`cell ${plan.number}: ${w}`);
      }
    } else {
      // A failed cell may have changed any name it touches, in ways nobody recorded.
      this.values.markUnknown(plan.opaque ? this.values.allNames() : plan.candidates, this.runId);
    }
    const stored = writes.reduce((s, w) => s + (w.status === "stored" ? w.size : 0), 0);
    this.counts.checkpointed_bytes += stored;
    const given: CellRecord = {
      ...this.recordOf(plan, index),
      status: run.status === "ok" ? "ok" : "error",
      writes,
      outputs: structuredClone(cell.outputs ?? []),
      execution_count: run.executionCount,
      duration_s: Math.round(run.durationMs) / 1000,
      checkpoint_s: Math.round(checkpointS * 1000) / 1000,
      checkpoint_bytes: stored,
      value_key: this.valueKeys.get(plan)!,
      ...(tasks.length > 0 ? { tasks, task_key_scheme: this.shim!.hello!.task_key_scheme, task_bytes: storedTaskBytes(tasks) } : {}),
      ...(engines ? { engines } : {}),
      ...(files ? { files: { read: files.read, written: files.written } } : {}),
      ...(this.files && (writes.some((w) => "holds_path" in w) || tasks.some((t) => t.holds_path)) ? { folder: this.files.realDir } : {}),
    };
    const pinLines = this.options.taskSettings?.annotate(tasks, plan.previous?.tasks ?? []) ?? [];
    // As stored: outputs over 1 MiB by reference, so what this run keeps of it stays small.
    const record = await this.bundle.writeRecord(given);
    this.written.set(plan.id, record);
    if (this.options.notebookPath) await this.options.taskSettings?.publish(tasks, this.bundle, this.options.notebookPath);
    if (this.options.explainTasks) for (const line of pinLines) this.options.log(`      ${line}`);
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
    return { record, ...(taskMeta ? { tasks: taskMeta } : {}) };
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
    const announce = this.options.announceTasks !== false;
    if (announce) this.options.log(`cell ${plan.number}: ${c.total} task(s), ${c.served} served from the bundle, ${c.dispatched} dispatched${extra ? ` (${extra})` : ""}, ${formatBytes(bytes)} of results stored`);
    let because: DispatchReason[] | undefined;
    if (this.command === "repeat" && c.dispatched > 0) {
      because = explainDispatched(own, plan.previous?.tasks ?? [], plan.previous?.folder, this.files?.realDir);
      if (this.options.explainTasks && announce) for (const r of because) this.options.log(`      ${r.count} × ${shortName(r.function)} dispatched because ${r.reason}`);
    }
    return { ...c, not_stored: notStored, stored_bytes: bytes, ...(because ? { dispatched_because: because } : {}) };
  }

  /**
   * Close the engine runtimes the cells started (a Dask client and cluster),
   * while the kernel is still there: a kernel killed with a cluster open can
   * leave its worker processes behind. A dead kernel has nothing to close.
   */
  async shutdownEngines(): Promise<void> {
    if (!this.shim) return;
    try {
      const reply = await this.shim.shutdownEngines();
      for (const c of reply.closed) if (c.status !== "closed") this.options.log(`could not close ${c.handle} (${c.engine}): ${c.status}`);
    } catch {
      // The kernel died or was interrupted: the server's shutdown reaps what is left.
    }
  }

  /**
   * At the end of a run, with task settings: keep the task cache in step
   * (pins recorded in the bundle, shared cache entries used). `cells` are the
   * fingerprints the bundle's notebook now lists.
   */
  async finishTasks(cells: readonly string[]): Promise<void> {
    const settings = this.options.taskSettings;
    if (!settings || !this.options.notebookPath) return;
    const listed = new Set(cells);
    const latest = [...(await this.bundle.records()).values()].filter((r) => listed.has(r.fingerprint));
    const served = latest.filter((r) => r.run_id === this.runId).flatMap((r) => (r.tasks ?? []).filter((t) => t.status === "hit" && t.key !== null).map((t) => t.key!));
    await settings.finishRun(this.bundle, this.options.notebookPath, this.runId, latest.flatMap((r) => r.tasks ?? []), served);
  }

  /** The summary line of a run, with tasks the lines about them, and what the engine adapters reported. */
  summaryLines(): string[] {
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
    return [`${this.command}: ${c.reused} reused, ${c.run} ran, ${c.restored_values} value(s) restored (${formatBytes(c.restored_bytes)}), ${formatBytes(c.checkpointed_bytes)} checkpointed`, ...tasks, ...this.adapters.lines()];
  }

  async logEvent(event: string, plan: CellPlan, extra: Record<string, unknown> = {}): Promise<void> {
    const entry = { time: new Date().toISOString(), run_id: this.runId, event, cell_id: plan.id, fingerprint: plan.identity.fingerprint, ...extra };
    if (!this.options.deferLogs) return this.bundle.appendLog(entry);
    this.pendingLogs = this.pendingLogs.then(() => this.bundle.appendLog(entry)).catch((err: unknown) => void (this.logFailure ??= err));
  }

  private pendingLogs: Promise<void> = Promise.resolve();
  private logFailure: unknown;

  /** Wait for the run-log events appended in the background; the first failure, if any, is thrown here. */
  async flushLogs(): Promise<void> {
    await this.pendingLogs;
    if (this.logFailure) throw this.logFailure;
  }
}
