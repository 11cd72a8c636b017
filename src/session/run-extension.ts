import type { JupyterRuntime } from "../jupyter/jupyter-runtime.js";
import type { CellHooks, NotebookRun } from "../jupyter/notebook-executor.js";
import type { Notebook } from "../notebook/types.js";

/** A notebook read and parameterised: everything about the input that can be wrong has failed before a server starts. */
export interface Prepared {
  path: string;
  notebook: Notebook;
  parameters: Record<string, unknown>;
}

/**
 * What audit and repeat add to a plain run: hooks into the cell loop once the
 * kernel is up, a last word whatever happened, and lines for the summary.
 */
export interface RunExtension {
  /** False when no cell will execute (everything reused): then no server or kernel is started at all. */
  needsKernel(): boolean;
  /** CPU work attach() will need, done while the server and kernel start (it must be safe to call more than once). */
  warmUp?(): void;
  /** Called once the kernel is up (or, without a kernel, with none). */
  attach(runtime: JupyterRuntime | undefined, log: (line: string) => void): Promise<CellHooks>;
  /**
   * Called after the notebook is written and before the kernel is shut down, also after a failure.
   * `releaseKernel` starts the kernel's shutdown: called once the extension needs the kernel no
   * more, the shutdown overlaps the rest of its work (otherwise it starts after finish).
   */
  finish(result: NotebookRun | undefined, failure: unknown, releaseKernel?: () => void): Promise<void>;
  summary?(): { fields: Record<string, unknown>; lines: string[] };
}
