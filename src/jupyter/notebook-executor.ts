import { executeCell, type CellRun, type CellStatus } from "./cell-executor.js";
import type { KernelClient } from "./kernel-client.js";
import { DisplayRegistry, type CellOutput } from "./output-collector.js";

/**
 * The part of an nbformat v4 notebook the executor touches. Structural on
 * purpose: jupyter/ sits below notebook/ in neither direction; callers pass
 * notebooks read and validated by src/notebook.
 */
export interface ExecutableCell {
  id?: string;
  cell_type: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}
export interface ExecutableNotebook {
  cells: ExecutableCell[];
}

export type RunStatus = "ok" | "cell-error" | "timeout" | "interrupted" | "kernel-died";

export interface CellReport {
  index: number;
  id: string | undefined;
  status: CellStatus | "skipped" | "not-run" | "reused";
  durationMs: number;
  executionCount: number | null;
  outputs: number;
  error?: { ename: string; evalue: string };
}

export interface NotebookRun {
  status: RunStatus;
  cells: CellReport[];
  /** Index (in notebook.cells) of the cell that stopped the run. */
  failedCell?: number;
  durationMs: number;
}

export interface ExecutionEvents {
  cellStarted?(cell: ExecutableCell, index: number, ordinal: number, total: number): void;
  cellOutput?(index: number, outputs: number): void;
  cellFinished?(report: CellReport, ordinal: number, total: number, cell: ExecutableCell): void;
}

/**
 * How audit and repeat take part in the run without a loop of their own:
 * before a code cell they may fill it from a record instead of running it
 * (after restoring what it needs), and after it ran they checkpoint it.
 */
export interface CellHooks {
  /** "run" to execute the cell; "reused" when the hook filled its outputs itself. */
  beforeCell?(cell: ExecutableCell, index: number): Promise<"run" | "reused">;
  afterCell?(cell: ExecutableCell, index: number, run: CellRun): Promise<void>;
}

export interface ExecuteNotebookOptions {
  hooks?: CellHooks;
  cellTimeoutMs?: number;
  /** Keep going after a cell raises (the error is recorded in its outputs). */
  allowErrors?: boolean;
  signal?: AbortSignal;
  events?: ExecutionEvents;
}

export function sourceText(cell: ExecutableCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/**
 * Run the code cells in order, writing outputs, execution counts and timing
 * into the notebook in place, so that whatever happens (error, timeout,
 * Ctrl-C, a dead kernel) the notebook holds exactly what ran.
 */
export async function executeNotebook(nb: ExecutableNotebook, kernel: KernelClient | undefined, options: ExecuteNotebookOptions = {}): Promise<NotebookRun> {
  const started = performance.now();
  const registry = new DisplayRegistry();
  const codeCells = nb.cells.map((c, i) => [c, i] as const).filter(([c]) => c.cell_type === "code");
  // Outputs of a previous run would be indistinguishable from ours in a partial result.
  for (const [cell] of codeCells) {
    cell.outputs = [];
    cell.execution_count = null;
    delete cell.metadata.execution;
  }

  const reports: CellReport[] = [];
  let status: RunStatus = "ok";
  let failedCell: number | undefined;
  for (const [ordinal, [cell, index]] of codeCells.entries()) {
    if (status !== "ok" && !(status === "cell-error" && options.allowErrors)) {
      reports.push({ index, id: cell.id, status: "not-run", durationMs: 0, executionCount: null, outputs: 0 });
      continue;
    }
    const code = sourceText(cell);
    if (!code.trim()) {
      reports.push({ index, id: cell.id, status: "skipped", durationMs: 0, executionCount: null, outputs: 0 });
      continue;
    }
    if ((await options.hooks?.beforeCell?.(cell, index)) === "reused") {
      const report: CellReport = { index, id: cell.id, status: "reused", durationMs: 0, executionCount: cell.execution_count ?? null, outputs: cell.outputs?.length ?? 0 };
      reports.push(report);
      options.events?.cellFinished?.(report, ordinal + 1, codeCells.length, cell);
      continue;
    }
    // No kernel is started when every cell is reused; reaching here without one is a planning bug.
    // (Numbered as every message numbers cells: 1-based among all cells, notebook/cell-label.ts.)
    if (!kernel) throw new Error(`internal: cell ${index + 1} must run but no kernel was started`);
    options.events?.cellStarted?.(cell, index, ordinal + 1, codeCells.length);
    const run = await executeCell(kernel, code, {
      registry,
      timeoutMs: options.cellTimeoutMs,
      signal: options.signal,
      onOutput: (n) => options.events?.cellOutput?.(index, n),
    });
    recordRun(cell, run);
    await options.hooks?.afterCell?.(cell, index, run);
    const report: CellReport = {
      index,
      id: cell.id,
      status: run.status,
      durationMs: run.durationMs,
      executionCount: run.executionCount,
      outputs: run.outputs.length,
    };
    if (run.error) report.error = run.error;
    reports.push(report);
    options.events?.cellFinished?.(report, ordinal + 1, codeCells.length, cell);
    if (run.status !== "ok" && failedCell === undefined) {
      failedCell = index;
      status = run.status === "error" ? "cell-error" : run.status;
    }
  }
  const result: NotebookRun = { status, cells: reports, durationMs: performance.now() - started };
  if (failedCell !== undefined) result.failedCell = failedCell;
  return result;
}

function recordRun(cell: ExecutableCell, run: CellRun): void {
  const outputs: CellOutput[] = [...run.outputs];
  if (run.status === "kernel-died") {
    outputs.push({ output_type: "error", ename: "DeadKernelError", evalue: "The kernel died while executing this cell.", traceback: ["DeadKernelError: The kernel died while executing this cell."] });
  }
  cell.outputs = outputs;
  cell.execution_count = run.executionCount;
  cell.metadata.execution = { ...run.timing };
  cell.metadata.nbrewind = { ...(cell.metadata.nbrewind as object | undefined), duration_s: Math.round(run.durationMs) / 1000, status: run.status };
}
