import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import { NOTEBOOK_FILE } from "../bundle/paths.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { ExecutableCell } from "../jupyter/notebook-executor.js";
import type { ShimClient } from "../jupyter/shim-client.js";
import { declaredReads, filesStillMatch, FileView } from "../planner/files.js";
import { newCellPlan, type CellPlan } from "../planner/plan.js";
import { readNotebook } from "../notebook/read.js";
import type { CodeCell, Notebook } from "../notebook/types.js";
import type { RecordedCell } from "../planner/recorded.js";
import { CellCheckpointer, knownTasks, type CheckpointCommand, type TaskOptions } from "./cell-checkpointer.js";
import type { Execution, ExecutionHistory, IdentityInputs, ResolvedExecution } from "./execution-history.js";
import { filesIn } from "./file-digest.js";
import { checkRecordedWrites } from "./file-restore.js";
import { TaskSettings } from "./task-settings.js";

/** Runs a cell's code in the kernel. `visible`: the frontend sees its outputs (the cell the user ran), else they stay hidden (a producer run again). */
export type CellRunner = (source: string, plan: CellPlan, visible: boolean) => Promise<{ run: CellRun; outputs: unknown[] }>;

export type ExecuteOutcome =
  | { decision: "reused"; plan: CellPlan; record: RecordedCell; why: string; /** The record's outputs, whole (a record holds those over 1 MiB as blobs). */ outputs: unknown[] }
  | { decision: "run"; plan: CellPlan; run: CellRun; tasks?: Record<string, unknown>; recreated: CellPlan[] };

/** How many producers deep a re-run to bring back a value may go: a chain longer than this is a bug, not a notebook. */
const MAX_RECREATE_DEPTH = 32;

/**
 * The checkpoint session driven by a kernel's execute requests, one cell at
 * a time in the order the user runs them (the CLI drives the same core,
 * cell-checkpointer.ts, over a notebook planned up front).
 *
 * audit: every cell runs and is checkpointed. repeat: a cell whose
 * fingerprint (from this kernel's history) is recorded is answered from its
 * record without running; its values stay in the bundle until a cell that
 * runs reads them, and are restored just then. A value that cannot be
 * restored (a Dask Client), or an engine a reused cell started, is brought
 * back by running its producer again, hidden, with its tasks served.
 */
export class InteractiveSession {
  private readonly core: CellCheckpointer;
  private readonly latestByKey = new Map<string, RecordedCell>();
  /** Per engine: the execution that started its runtime, and whether that runtime is in the kernel now. */
  private readonly engines = new Map<string, { live: boolean; producer: Execution }>();
  readonly decisions: { plan: CellPlan; decision: "reused" | "run"; why: string }[] = [];
  private kernelName: string | undefined;
  private environmentDigest: string | undefined;
  /** Each cell once, in the order first run, as it last ran or was reused: the notebook this session leaves in the bundle. */
  private readonly cells = new Map<string, { source: string; outputs: unknown[]; executionCount: number | null; fingerprint: string }>();

  constructor(
    readonly command: CheckpointCommand,
    readonly bundle: Bundle,
    private readonly records: Map<string, RecordedCell>,
    private readonly history: ExecutionHistory,
    private readonly options: TaskOptions & {
      signer?: SigningKey;
      log: (line: string) => void;
      /** The kernel's working folder (the notebook's): where `%run prep.py` is read from for fingerprints. */
      folder: string;
      /** The notebook's path, when known: task settings publish results to a shared cache from it. */
      notebookPath?: string;
    },
  ) {
    // A record is input: one naming a file outside the notebook's folder is refused before anything runs.
    checkRecordedWrites(records.values());
    this.core = new CellCheckpointer(command, bundle, records, {
      log: options.log,
      announceTasks: false,
      deferLogs: true,
      shimOutlivesRun: true,
      ...(options.storeAll ? { storeAll: true } : {}),
      ...(options.taskSettings ? { taskSettings: options.taskSettings } : {}),
      ...(options.notebookPath ? { notebookPath: options.notebookPath } : {}),
    });
    for (const r of records.values()) this.noteRecord(r);
  }

  get counts(): CellCheckpointer["counts"] {
    return this.core.counts;
  }

  /** Greet the shim (it writes into this bundle) and open a run in the bundle's manifest. */
  async begin(shim: ShimClient, kernelName: string): Promise<void> {
    this.core.files = await this.probeFiles();
    await this.core.connectShim(shim, this.records.values());
    // The environment is captured before the first cell that runs: a session that only reuses
    // records executes nothing, and "Run All" of an unchanged notebook must not wait for it.
    await this.core.beginRun(kernelName, {}, undefined);
    this.kernelName = kernelName;
  }

  /** Reuse or run one cell the user executed. */
  async execute(key: string, source: string, runCell: CellRunner): Promise<ExecuteOutcome> {
    // The files the records name, as they are now: between two executes the user may change any of them.
    this.core.files = await this.probeFiles();
    let stale: string | undefined;
    const resolved = await this.history.add(key, source, this.identityInputs((reason) => (stale = reason)));
    const plan = this.planOf(resolved);
    if (this.command === "repeat") {
      const record = this.records.get(plan.identity.fingerprint);
      // A record whose files (read, or written and not kept) are no longer as recorded does not stand: the cell runs, saying which.
      const files = record?.status === "ok" ? filesStillMatch(record, this.core.files) : undefined;
      if (record?.status === "ok" && files?.same) return this.reuse(resolved.execution, plan, record, "unchanged: same source and same inputs as recorded");
      plan.reasons.push(files && !files.same ? files.why : (stale ?? this.whyRuns(plan, record)));
      const same = this.core.sameValuesRecord(plan);
      if (same) {
        const outcome = await this.reuse(resolved.execution, plan, same, "every value it reads is identical to the recorded ones");
        const copy = await this.core.recordReuse(plan, resolved.execution.ordinal, same);
        if (copy) this.noteRecord(copy);
        return outcome;
      }
    } else {
      plan.reasons.push("audit runs every cell");
    }
    const recreated = await this.recreateFor(plan, runCell, 0);
    const { run, tasks } = await this.runAndRecord(resolved.execution, plan, runCell, true);
    this.decisions.push({ plan, decision: "run", why: plan.reasons[0] ?? "" });
    return { decision: "run", plan, run, ...(tasks ? { tasks } : {}), recreated };
  }

  private async reuse(execution: Execution, plan: CellPlan, record: RecordedCell, why: string): Promise<ExecuteOutcome> {
    plan.decision = "reuse";
    plan.record = record;
    const cell: ExecutableCell = { cell_type: "code", source: execution.source, metadata: {} };
    await this.core.reuse(cell, execution.ordinal, plan, record, why);
    const outputs = cell.outputs ?? [];
    this.noteCell(execution, outputs, record.execution_count, plan);
    // What the record's cell started is, from now on, the recorded engine: not in the kernel until its producer runs again.
    for (const engine of record.engines?.started ?? []) this.engines.set(engine, { live: false, producer: execution });
    this.decisions.push({ plan, decision: "reused", why });
    return { decision: "reused", plan, record, why, outputs };
  }

  /**
   * Before a cell runs: every value it reads that only a run brings back
   * (unserialisable, or held by an engine), and every engine it submitted
   * work to when it was recorded, are recreated by running their producers
   * again, hidden. A cell never recorded might use any engine: all engines
   * that reused cells started are brought back for it (when in doubt, run).
   */
  private async recreateFor(plan: CellPlan, runCell: CellRunner, depth: number): Promise<CellPlan[]> {
    if (depth > MAX_RECREATE_DEPTH) throw new Error(`internal: recreating the inputs of cell ${plan.id} goes deeper than ${MAX_RECREATE_DEPTH} producers`);
    const needed = new Map<number, string>();
    for (const name of this.core.unrestorableInputs(plan)) {
      const location = this.core.values.get(name)?.location;
      if (location?.where === "recorded") needed.set(location.fromIndex, `recreates \`${name}\` (it cannot be restored) for execution ${plan.number}`);
    }
    const used = plan.previous?.engines?.used ?? [...this.engines.keys()];
    for (const engine of used) {
      const state = this.engines.get(engine);
      if (state && !state.live) needed.set(state.producer.ordinal, `starts the ${engine} engine that execution ${plan.number} submits tasks to`);
    }
    const done: CellPlan[] = [];
    for (const [ordinal, why] of [...needed.entries()].sort((a, b) => a[0] - b[0])) {
      const producer = this.history.at(ordinal)!;
      const again = this.planOf(this.history.resolve(ordinal));
      again.forced = true;
      again.reasons = [why];
      done.push(...(await this.recreateFor(again, runCell, depth + 1)), again);
      this.options.log(`running execution ${again.number} again, hidden: it ${why}`);
      const { run } = await this.runAndRecord(producer, again, runCell, false);
      if (run.status !== "ok") throw new Error(`execution ${again.number} failed when run again to bring back what execution ${plan.number} needs (${run.error?.ename ?? run.status}); run it yourself, then this cell`);
    }
    return done;
  }

  private async runAndRecord(execution: Execution, plan: CellPlan, runCell: CellRunner, visible: boolean): Promise<{ run: CellRun; tasks?: Record<string, unknown> }> {
    this.environmentDigest ??= await this.core.captureEnvironment(this.kernelName ?? "");
    await this.core.prepareRun(plan, declaredReads(execution.source));
    const { run, outputs } = await runCell(execution.source, plan, visible);
    const cell: ExecutableCell = { cell_type: "code", source: execution.source, metadata: {}, outputs };
    const { record, tasks } = await this.core.checkpoint(cell, execution.ordinal, plan, run);
    if (visible) this.noteCell(execution, outputs, run.executionCount, plan);
    if (record) {
      this.records.set(record.fingerprint, record);
      this.noteRecord(record);
      for (const engine of record.engines?.started ?? []) this.engines.set(engine, { live: true, producer: execution });
      // In repeat, what a cell just computed is served when it runs again (hidden, to bring back a value, or by the
      // user): per occurrence of each key in this cell, as knownTasks hands them out; another cell's submission of the
      // same task is a task of its own and is dispatched (a run keeps the engine's meaning).
      if (this.command === "repeat" && record.tasks?.length) {
        const fresh = knownTasks([record], this.core.files?.realDir);
        if (fresh.length > 0) await this.core.shim!.tasksKnown(fresh);
      }
    }
    return { run, ...(tasks ? { tasks } : {}) };
  }

  /**
   * The files a cell runs are read from the kernel's folder; a record whose
   * tasks a changed pin selects no longer stands (the fingerprint is salted,
   * and `onStale` gets the reason), as in the CLI's plan.
   */
  private identityInputs(onStale: (reason: string) => void): IdentityInputs {
    const stale = this.options.taskSettings?.staleRecord;
    return {
      fileDigest: filesIn(this.options.folder),
      ...(stale
        ? {
            salt: (fingerprint: string) => {
              const record = this.records.get(fingerprint);
              const change = record ? stale(record) : undefined;
              if (change) onStale(change.reason);
              return change?.salt;
            },
          }
        : {}),
    };
  }

  /** The files the records read and wrote, in the kernel's folder (the notebook's), stat'ed and hashed where changed. */
  private probeFiles(): Promise<FileView> {
    return FileView.probe(this.options.folder, this.records.values());
  }

  private planOf(resolved: ResolvedExecution): CellPlan {
    return newCellPlan(resolved.execution.ordinal, resolved.identity, resolved.analysed, this.latestByKey.get(resolved.execution.key));
  }

  private whyRuns(plan: CellPlan, record: RecordedCell | undefined): string {
    if (record) return "it raised an error when it was recorded";
    const previous = plan.previous;
    if (!previous) return "new cell: nothing recorded for it";
    if (previous.source_hash !== plan.identity.sourceHash) return "source changed";
    const before = new Map(previous.reads.map((r) => [r.name, r.producer_fingerprint]));
    const changed = plan.identity.reads.find((r) => before.get(r.name) !== r.producer_fingerprint);
    if (changed) return `reads \`${changed.name}\` from a cell that ran since, or changed`;
    return "its inputs changed";
  }

  private noteCell(execution: Execution, outputs: unknown[], executionCount: number | null, plan: CellPlan): void {
    // Map order is first insertion: a cell run again keeps its place.
    this.cells.set(execution.key, { source: execution.source, outputs, executionCount, fingerprint: plan.identity.fingerprint });
  }

  /** The notebook as this session ran it, for the bundle (what the CLI's audit writes is the executed notebook too). */
  private executedNotebook(): { notebook: Notebook; fingerprints: string[] } {
    const cells = [...this.cells.entries()].map(([key, c]) => ({
      id: nbformatCellId(key),
      cell_type: "code" as const,
      metadata: {},
      source: c.source,
      outputs: c.outputs as CodeCell["outputs"],
      execution_count: c.executionCount,
    }));
    const notebook: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: this.kernelName ?? "nbrewind", display_name: "Python 3 (NBRewind)", language: "python" }, language_info: { name: "python" } },
      cells,
    };
    return { notebook, fingerprints: [...this.cells.values()].map((c) => c.fingerprint) };
  }

  private noteRecord(record: RecordedCell): void {
    const seen = this.latestByKey.get(record.cell_id);
    if (!seen || seen.recorded_at <= record.recorded_at) this.latestByKey.set(record.cell_id, record);
  }

  /** What `%nbrewind status` prints. */
  statusLines(): string[] {
    return [`mode: ${this.command}, bundle ${this.bundle.dir}`, ...this.core.summaryLines()];
  }

  /** What `%nbrewind explain` prints: every cell this session decided on, and why. */
  explainLines(): string[] {
    if (this.decisions.length === 0) return ["no cell executed in this mode yet"];
    return this.decisions.map(({ plan, decision, why }) => `execution ${plan.number} (cell ${plan.id}): ${decision === "reused" ? "reused" : "ran"} because ${why}`);
  }

  /** Close the run in the manifest (the kernel keeps running: engines stay up until it shuts down). */
  async end(status: "ok" | "interrupted" | "kernel-died", options: { shutdownEngines: boolean }): Promise<void> {
    if (options.shutdownEngines) await this.core.shutdownEngines();
    await this.core.flushLogs();
    if (!this.kernelName) return;
    const c = this.core.counts;
    if (this.cells.size > 0 || !existsSync(join(this.bundle.dir, NOTEBOOK_FILE))) {
      const { notebook, fingerprints } = this.executedNotebook();
      await this.bundle.setCells(fingerprints);
      await this.core.finishTasks(fingerprints);
      await this.bundle.writeNotebook(notebook);
    }
    await this.bundle.finishRun(this.core.runId, {
      finished_at: new Date().toISOString(),
      status,
      cells: { reused: c.reused, restored: c.restored_values, run: c.run },
      ...(this.environmentDigest ? { environment_digest: this.environmentDigest } : {}),
    });
    if (this.options.signer) await this.bundle.sign(this.options.signer);
  }
}

/** nbformat cell ids are 1-64 of [a-zA-Z0-9-_]; frontends send UUIDs, which fit. */
function nbformatCellId(key: string): string {
  return key.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64) || "cell";
}

/** The one line a reused cell shows: that it was reused, and the time it saved. */
export function reusedLine(record: RecordedCell): string {
  return `[nbrewind] reused from the bundle: not executed, saved ${formatSeconds(record.duration_s)}`;
}

export function formatSeconds(s: number): string {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(s < 10 ? 2 : 1)} s`;
}


/**
 * The task settings of a kernel's session: nbrewind.yaml found upward from
 * the notebook's folder (the kernel's, when the notebook is not named), else
 * the bundle's recorded pins. Pins that select cells by tag read the notebook
 * file, when the kernel knows it and it is on disk.
 */
export async function kernelTaskSettings(notebookPath: string | undefined, folder: string, bundleDir: string): Promise<TaskSettings> {
  const path = notebookPath ?? join(folder, "notebook.ipynb");
  const empty: Notebook = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
  // A notebook that cannot be read only loses its tag-selected pins: those tasks are then keyed by their code (they run, never reuse wrongly).
  const notebook = notebookPath && existsSync(notebookPath) ? await readNotebook(notebookPath).catch(() => empty) : empty;
  return TaskSettings.load(path, notebook, bundleDir);
}
