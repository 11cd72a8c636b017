/**
 * One task a cell submitted to an engine, as the shim reports it and the
 * bundle keeps it (schemas/task-record.schema.json). One type for the comm
 * protocol, the cell records and the planner: it is one format.
 */
import type { FileActivity } from "./file-record.js";
export interface TaskRecord {
  /** null: the task could not be keyed soundly (status uncached, reason says why). */
  key: string | null;
  engine: string;
  /** module.qualname of the task's function. */
  function: string;
  /** Positional argument keys, then keyword ones by name. */
  arg_keys: string[];
  /** Keys of the tasks whose results it reads. */
  upstream: string[];
  engine_key: string;
  /**
   * Which submission of `key` by the submitting cell it was within its run, from 0: every
   * submission is a task of its own, served at repeat only what its own occurrence was recorded with.
   */
  occurrence?: number;
  status: "hit" | "dispatched" | "uncached" | "failed";
  reason?: string;
  result_digest?: string;
  result_size?: number;
  /** Other blobs the result refers to (a Parsl app's output files). */
  result_blobs?: string[];
  /** The files it opened where it ran (common/file-record.ts). */
  files?: FileActivity;
  /** Its result names the notebook's folder (the cell record's `folder`): served only in that folder. */
  holds_path?: true;
  /** A small result without a blob of its own: its bytes at `offset` in the pack blob `digest`. */
  result_pack?: { digest: string; offset: number };
  duration_s?: number;
  where?: { host?: string; pid?: number; thread?: string; worker?: string; client?: boolean };
  /** The cell that submitted it (not the one during which it finished). */
  cell_id?: string;
  /** Uncached because its result was cheaper to recompute than to store and load (the reason gives the figures). */
  not_stored?: boolean;
  /** Dispatched: why a recorded key was computed again in this run (its dependents are too). */
  recomputed?: string;
  /** The pin whose version stood for the function's code in its key. */
  pin?: TaskPin;
}

export interface TaskPin {
  version: string;
  /** "decorator" or "nbrewind.yaml: SELECTOR". */
  by: string;
  /** The function's code identity when it ran (null: not keyable); compared at the next run. */
  code?: string | null;
  /** What the run said about it, e.g. that the code changed under the pin. */
  note?: string;
}

/** Engine runtimes a cell started and submitted work to, as labels such as "dask:distributed". */
export interface EngineUse {
  started: string[];
  used: string[];
}

/**
 * The same submission reported twice (a future reported `dispatched` at the
 * end of its cell, then complete at a later one; a retried task reported
 * failed, then with its result): the submitting cell, the occurrence and the
 * key name it. Tasks without a key or an occurrence are never reported twice.
 */
function submissionOf(t: TaskRecord): string | undefined {
  return t.key !== null && t.occurrence !== undefined ? `${t.cell_id ?? ""}\0${t.occurrence}\0${t.key}` : undefined;
}

/** `earlier` with each task of `later` in place of the earlier report of the same submission, or appended. */
export function mergeTaskReports(earlier: readonly TaskRecord[], later: readonly TaskRecord[]): TaskRecord[] {
  const merged = [...earlier];
  const at = new Map<string, number>();
  merged.forEach((t, i) => {
    const id = submissionOf(t);
    if (id !== undefined) at.set(id, i);
  });
  for (const t of later) {
    const id = submissionOf(t);
    const i = id === undefined ? undefined : at.get(id);
    if (i !== undefined) merged[i] = t;
    else {
      if (id !== undefined) at.set(id, merged.length);
      merged.push(t);
    }
  }
  return merged;
}

/** The tasks of one post_cell reply: those the cell submitted, and those earlier cells submitted that finished during it, by submitting cell. */
export function splitBySubmitter(tasks: readonly TaskRecord[], cellId: string): { own: TaskRecord[]; earlier: Map<string, TaskRecord[]> } {
  const own: TaskRecord[] = [];
  const earlier = new Map<string, TaskRecord[]>();
  for (const t of tasks) {
    if (t.cell_id === undefined || t.cell_id === cellId) own.push(t);
    else earlier.set(t.cell_id, [...(earlier.get(t.cell_id) ?? []), t]);
  }
  return { own: mergeTaskReports([], own), earlier };
}

/** Bytes of task results a cell's run wrote into the bundle (what it dispatched and stored; hits add nothing). */
export function storedTaskBytes(tasks: readonly TaskRecord[]): number {
  return tasks.reduce((sum, t) => sum + (t.status === "dispatched" && t.result_digest !== undefined ? (t.result_size ?? 0) : 0), 0);
}
