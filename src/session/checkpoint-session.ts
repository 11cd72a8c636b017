import { basename, dirname, resolve } from "node:path";
import { buildGraph, loadPythonParser } from "../analysis/index.js";
import { Bundle } from "../bundle/bundle.js";
import { schemaProblems } from "../bundle/schemas.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import { InputError } from "../common/errors.js";
import { timings } from "../common/phase-timings.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import type { JupyterRuntime } from "../jupyter/jupyter-runtime.js";
import type { CellHooks, ExecutableCell, NotebookRun } from "../jupyter/notebook-executor.js";
import { ShimClient } from "../jupyter/shim-client.js";
import { cellLabel } from "../notebook/cell-label.js";
import { inheritCellIds } from "../notebook/cell-id.js";
import { cellSource } from "../notebook/source.js";
import type { Notebook } from "../notebook/types.js";
import { explainPlan, planToJson } from "../planner/explain.js";
import { declaredReads, FileView } from "../planner/files.js";
import { resolveForced, type ForceRequest } from "../planner/forced.js";
import { formatBytes, makePlan, type CellPlan, type Plan } from "../planner/plan.js";
import type { RecordedCell } from "../planner/recorded.js";
import { CellCheckpointer, type CheckpointCommand, type TaskOptions } from "./cell-checkpointer.js";
import { filesIn } from "./file-digest.js";
import { checkRecordedWrites } from "./file-restore.js";
import type { Prepared, RunExtension } from "./run-extension.js";
import type { TaskSettings } from "./task-settings.js";

export { knownTasks, toRecordWrite, type CheckpointCommand } from "./cell-checkpointer.js";

export interface CheckpointOptions extends TaskOptions {
  /** Print, as each cell finishes, why each of its tasks that was not served from the bundle was dispatched. */
  explainTasks?: boolean;
  /** Re-signs the bundle's digest list at the end of the run (see bundle-trust.ts). */
  signer?: SigningKey;
}

/** The code cells of a notebook as the analysis and the planner see them. */
export function codeCells(nb: Notebook): { index: number; id: string; source: string }[] {
  return nb.cells.flatMap((cell, index) => (cell.cell_type === "code" ? [{ index, id: cell.id, source: cellSource(cell) }] : []));
}

function lastRunRecords(records: Map<string, RecordedCell>, fingerprints: readonly string[]): RecordedCell[] {
  return fingerprints.flatMap((fp) => {
    const rec = records.get(fp);
    return rec ? [rec] : [];
  });
}

/**
 * Analyse the notebook and decide, against the bundle's records, what runs;
 * `force` names cells the user makes run (bad input when it names no cell).
 */
export async function planNotebook(
  nb: Notebook,
  records: Map<string, RecordedCell>,
  runAll: boolean,
  force?: ForceRequest,
  notebookPath?: string,
  settings?: TaskSettings,
  /** The latest run's cells, by fingerprint, in notebook order (the manifest's `cells`): what that run left on disk. */
  lastRun: readonly string[] = [],
): Promise<Plan> {
  const forced = force ? resolveForced(force, nb.cells) : undefined;
  await loadPythonParser();
  const cells = codeCells(nb);
  const fileDigest = notebookPath ? filesIn(dirname(notebookPath)) : undefined;
  // With the notebook's path, the files the records read and wrote are probed too (planner/files.ts): a reused cell whose files changed runs.
  const files = notebookPath && !runAll ? await FileView.probe(dirname(resolve(notebookPath)), records.values(), lastRunRecords(records, lastRun)) : undefined;
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
  private readonly core: CellCheckpointer;
  private readonly byIndex: Map<number, CellPlan>;

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
    this.core = new CellCheckpointer(command, bundle, records, {
      explainTasks: options.explainTasks,
      log: () => {},
      notebookPath: prepared.path,
      files: plan.files ?? new FileView(dirname(resolve(prepared.path)), new Map()),
      ...(options.storeAll ? { storeAll: true } : {}),
      ...(options.taskSettings ? { taskSettings: options.taskSettings } : {}),
    });
  }

  needsKernel(): boolean {
    return this.plan.counts.run > 0;
  }

  warmUp(): void {
    ShimClient.warmUp();
    // The bundle files this run writes first once the kernel is up, and last.
    for (const name of ["environment", "run-log-event", "bundle-digests"] as const) schemaProblems(name, {});
  }

  async attach(runtime: JupyterRuntime | undefined, log: (line: string) => void): Promise<CellHooks> {
    this.core.log = log;
    let environmentDigest: string | undefined;
    if (runtime) {
      const shim = await ShimClient.attach(runtime.session, { blobsDir: this.bundle.blobs.root });
      timings.mark("shim load");
      environmentDigest = await this.core.attachShim(shim, this.records.values(), runtime.kernelName);
      timings.mark("shim settings + environment");
    }
    await this.core.beginRun(runtime?.kernelName ?? "", this.prepared.parameters, environmentDigest);
    // The plan as decided, in the run's log: what the report and a comparison of runs read back.
    await this.bundle.appendLog({ time: new Date().toISOString(), run_id: this.core.runId, event: "run_planned", plan: planToJson(this.plan) });
    const c = this.plan.counts;
    log(`plan: ${c.reuse} cell(s) reused, ${c.run} to run, ${c.restores} value(s) to restore (${formatBytes(c.restoreBytes)})`);
    timings.mark("begin run record");
    return {
      beforeCell: (cell, index) => this.beforeCell(cell, index),
      afterCell: (cell, index, run) => this.afterCell(cell, index, run),
    };
  }

  private async beforeCell(cell: ExecutableCell, index: number): Promise<"run" | "reused"> {
    timings.mark("cells + checkpoints");
    try {
      return await this.reuseOrPrepare(cell, index);
    } finally {
      timings.mark("reuse + restores");
    }
  }

  private async reuseOrPrepare(cell: ExecutableCell, index: number): Promise<"run" | "reused"> {
    const plan = this.byIndex.get(index);
    if (!plan) return "run";
    if (plan.decision === "reuse" && plan.record) {
      await this.core.reuse(cell, index, plan, plan.record, "unchanged");
      return "reused";
    }
    // The static plan runs this cell; the values it reads, as the run has
    // actually left them, may still be exactly the recorded ones.
    const sameValues = this.core.sameValuesRecord(plan);
    if (sameValues) {
      plan.decision = "reuse";
      plan.reasons.push("but every value it reads turned out identical to the recorded ones, so it was reused");
      await this.core.reuse(cell, index, plan, sameValues, "same input values");
      await this.core.recordReuse(plan, index, sameValues);
      return "reused";
    }
    await this.core.prepareRun(plan, declaredReads(cellSource(cell as Parameters<typeof cellSource>[0])));
    return "run";
  }

  private async afterCell(cell: ExecutableCell, index: number, run: CellRun): Promise<void> {
    const plan = this.byIndex.get(index);
    if (!plan) return;
    await this.core.checkpoint(cell, index, plan, run);
  }

  async finish(result: NotebookRun | undefined, failure: unknown, releaseKernel?: () => void): Promise<void> {
    await this.core.shutdownEngines();
    this.core.shim?.close();
    timings.mark("engines shutdown");
    // Nothing below speaks to the kernel: the bundle's last writes overlap its shutdown.
    releaseKernel?.();
    const status = result?.status ?? (failure ? "kernel-died" : "ok");
    const c = this.core.counts;
    const fingerprints = this.plan.cells.map((cell) => cell.identity.fingerprint);
    await this.bundle.setCells(fingerprints);
    await this.core.finishTasks(fingerprints);
    await this.bundle.writeNotebook(this.prepared.notebook);
    await this.bundle.finishRun(this.core.runId, {
      finished_at: new Date().toISOString(),
      status,
      cells: { reused: c.reused, restored: c.restored_values, run: c.run },
    });
    if (this.options.signer) await this.bundle.sign(this.options.signer);
  }

  summary(): { fields: Record<string, unknown>; lines: string[] } {
    return {
      fields: { bundle: this.bundle.dir, counts: this.core.counts, plan: planToJson(this.plan), engines: this.core.adapters.list() },
      lines: [...this.core.summaryLines(), `bundle: ${this.bundle.dir}`],
    };
  }

  explain(): string[] {
    return explainPlan(this.plan, firstLinesOf(this.prepared.notebook));
  }
}
