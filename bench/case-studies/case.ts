/**
 * What a case study declares: its notebook and data generator (in its own
 * folder), the engine it drives, and three scripted edits a user would make,
 * each with the IDEAL re-execution it calls for.
 *
 * The ideal is derived by reasoning about the notebook, never by observing
 * nbrewind-engine: a cell belongs to it when the edit changes its source, a
 * value it reads, or a file it (or one of its tasks) reads; a task when its
 * code, an argument or a file it reads changed, or when it consumes the result
 * of such a task. A cell that starts an engine belongs to it when a cell of
 * the ideal must dispatch tasks: a live engine cannot be restored from disk.
 */

export type Engine = "dask-distributed" | "dask-delayed" | "parsl-htex" | "ray";

export type EditKind = "last-step" | "upstream" | "input-file";

/** A change to one cell's source: `from` must occur exactly once in cell `cell` (its id). */
export interface SourceEdit {
  cell: string;
  from: string;
  to: string;
}

export interface CaseEdit {
  kind: EditKind;
  /** What the user changes, in words. */
  why: string;
  /** A source edit, or (input-file) the data generator's `--alter`, which rewrites one file. */
  source?: SourceEdit;
  /**
   * The ideal: every cell id that must run again, with the number of engine
   * tasks it must dispatch (0 for a cell that submits none or only reuses).
   * Any other cell must be reused; any other task served.
   */
  ideal: Record<string, number>;
  /** Why these cells and tasks, and no others. */
  reasoning: string;
}

export interface CaseStudy {
  /** Folder name under bench/case-studies/. */
  name: string;
  title: string;
  engine: Engine;
  /** The file the last cell writes, compared byte for byte with a fresh run's. */
  output: string;
  /** Exactly three: last-step, upstream, input-file, applied in this order, each on top of the previous. */
  edits: [CaseEdit, CaseEdit, CaseEdit];
}
