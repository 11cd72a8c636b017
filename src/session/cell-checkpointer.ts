import { randomUUID } from "node:crypto";
import type { Bundle } from "../bundle/bundle.js";
import type { CellRecord, TaskRecord, WriteEntry } from "../bundle/records.js";
import { InputError } from "../common/errors.js";
import { packageVersion } from "../common/package-root.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { ExecutableCell } from "../jupyter/notebook-executor.js";
import type { KnownTask, ShimClient, WriteEntry as ShimWrite } from "../jupyter/shim-client.js";
import { TASK_KEY_SCHEME } from "../jupyter/shim-protocol.js";
import { formatBytes, type CellPlan } from "../planner/plan.js";
import type { RecordedCell } from "../planner/recorded.js";
import { countTasks, explainDispatched, shortName, type DispatchReason } from "../planner/task-explain.js";
import { ValueState } from "../planner/value-state.js";

export type CheckpointCommand = "audit" | "repeat";

/** What a run counted, as the summary and `--json` report it. */
export interface CheckpointCounts {
  reused: number;
  run: number;
  restored_values: number;
  restored_bytes: number;
  checkpointed_bytes: number;
  tasks: { total: number; served: number; dispatched: number; uncached: number; failed: number };
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
export function toRecordWrite(name: string, entry: ShimWrite): WriteEntry {
  switch (entry.status) {
    case "stored":
    case "unchanged":
      return { name, status: entry.status, digest: entry.digest, size: entry.size, type: entry.type };
    case "unserialisable":
      return { name, status: "unserialisable", type: entry.type, reason: entry.reason };
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
  readonly counts: CheckpointCounts = { reused: 0, run: 0, restored_values: 0, restored_bytes: 0, checkpointed_bytes: 0, tasks: { total: 0, served: 0, dispatched: 0, uncached: 0, failed: 0 } };
  /** The namespace as this run leaves it, cell by cell: which value each name holds and whether it is in the kernel. */
  readonly values = new ValueState();
  shim: ShimClient | undefined;
  private readonly valueKeys = new Map<CellPlan, string>();
  private readonly byValueKey = new Map<string, RecordedCell>();

  constructor(
    readonly command: CheckpointCommand,
    readonly bundle: Bundle,
    records: Map<string, RecordedCell>,
    private readonly options: {
      explainTasks?: boolean;
      log: (line: string) => void;
      /** False: the caller reports a cell's tasks itself (the kernel, in one line under the cell). */
      announceTasks?: boolean;
      /** Append run-log events in the background, in order (the kernel: a reused cell must not wait for the disk); flushLogs() settles them. */
      deferLogs?: boolean;
    },
  ) {
    if (command === "repeat") for (const r of records.values()) if (r.status === "ok") this.byValueKey.set(r.value_key, r);
  }

  set log(log: (line: string) => void) {
    this.options.log = log;
  }

  /** Greet the shim: in repeat, hand it every task result the bundle holds; then capture the environment. Returns its digest. */
  async attachShim(shim: ShimClient, records: Iterable<RecordedCell>, kernelName: string): Promise<string> {
    await this.connectShim(shim, records);
    return this.captureEnvironment(kernelName);
  }

  /** In repeat, hand the shim every task result the bundle holds. */
  async connectShim(shim: ShimClient, records: Iterable<RecordedCell>): Promise<void> {
    this.shim = shim;
    if (this.command === "repeat") {
      // Audit runs every task; repeat serves every task whose key the bundle holds.
      const known = knownTasks(records);
      if (known.length > 0) {
        await shim.tasksKnown(known);
        this.options.log(`${known.length} task result(s) in the bundle can be served to the engines`);
      }
    }
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
    const valueKey = this.values.valueKey(plan.identity.sourceHash, this.inputsOf(plan));
    this.valueKeys.set(plan, valueKey);
    const same = plan.forced ? undefined : this.byValueKey.get(valueKey);
    return same && !same.writes.some((w) => w.status === "unserialisable") ? same : undefined;
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
    cell.outputs = structuredClone(record.outputs);
    cell.execution_count = record.execution_count;
    cell.metadata.nbrewind = { decision: "reused", why, fingerprint: plan.identity.fingerprint, recorded_s: record.duration_s };
    this.values.applyRecord(record, index);
    this.counts.reused++;
    await this.logEvent("cell_reused", plan, { why });
  }

  /** Just before a cell runs: load the recorded values it reads into the kernel, then tell the shim the cell starts. */
  async prepareRun(plan: CellPlan): Promise<void> {
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
    await this.shim!.preCell(plan.id);
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
      value_key: this.valueKeys.get(plan)!,
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
    return { record, ...(taskMeta ? { tasks: taskMeta } : {}) };
  }

  /** Counts, progress and, at repeat, why tasks were dispatched: what the cell's metadata keeps. */
  private noteTasks(plan: CellPlan, tasks: TaskRecord[]): Record<string, unknown> {
    const own = tasks.filter((t) => t.cell_id === undefined || t.cell_id === plan.id);
    const c = countTasks(own);
    for (const k of ["total", "served", "dispatched", "uncached", "failed"] as const) this.counts.tasks[k] += c[k];
    const extra = [c.uncached ? `${c.uncached} not cacheable` : "", c.failed ? `${c.failed} failed` : ""].filter(Boolean).join(", ");
    const announce = this.options.announceTasks !== false;
    if (announce) this.options.log(`cell ${plan.number}: ${c.total} task(s), ${c.served} served from the bundle, ${c.dispatched} dispatched${extra ? ` (${extra})` : ""}`);
    let because: DispatchReason[] | undefined;
    if (this.command === "repeat" && c.dispatched > 0) {
      because = explainDispatched(own, plan.previous?.tasks ?? []);
      if (this.options.explainTasks && announce) for (const r of because) this.options.log(`      ${r.count} × ${shortName(r.function)} dispatched because ${r.reason}`);
    }
    return { ...c, ...(because ? { dispatched_because: because } : {}) };
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

  /** The summary line of a run and, with tasks, the line about them. */
  summaryLines(): string[] {
    const c = this.counts;
    const t = c.tasks;
    const tasks = t.total > 0 ? [`tasks: ${t.total} submitted, ${t.served} served from the bundle, ${t.dispatched} dispatched to the engine${t.uncached ? ` (${t.uncached} not cacheable)` : ""}${t.failed ? `, ${t.failed} failed` : ""}`] : [];
    return [`${this.command}: ${c.reused} reused, ${c.run} ran, ${c.restored_values} value(s) restored (${formatBytes(c.restored_bytes)}), ${formatBytes(c.checkpointed_bytes)} checkpointed`, ...tasks];
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
