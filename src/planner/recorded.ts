/**
 * What the planner needs to know of an earlier run's cell. Structural on
 * purpose: the bundle's CellRecord satisfies it, and the planner does not
 * depend on how records are stored.
 */
import type { EngineBoundWrite } from "../common/engine-bound.js";
import type { FileActivity } from "../common/file-record.js";
import type { TaskRecord } from "../common/task-record.js";

export type RecordedWrite =
  /** reaches_engines: the engine families whose objects the value holds (a lazy collection, an app, a remote function); absent in older records. */
  | { name: string; status: "stored" | "unchanged"; digest: string; size: number; type: string; reaches_engines?: string[]; holds_path?: true }
  | { name: string; status: "unserialisable"; type: string; reason: string }
  | EngineBoundWrite
  | { name: string; status: "deleted" };

export interface RecordedRead {
  name: string;
  producer_cell_id: string;
  producer_fingerprint: string;
}

/** A task the cell submitted to an engine when it was recorded. */
export type RecordedTask = TaskRecord;

export interface RecordedCell {
  fingerprint: string;
  cell_id: string;
  source_hash: string;
  status: "ok" | "error";
  reads: RecordedRead[];
  writes: RecordedWrite[];
  outputs: unknown[];
  execution_count: number | null;
  duration_s: number;
  recorded_at: string;
  /** Hash of the source and of the values the cell read when it ran (see value-state.ts). */
  value_key: string;
  tasks?: RecordedTask[];
  task_key_scheme?: number;
  /** Engine runtimes the cell started and submitted work to, as the shim observed them. */
  engines?: { started: string[]; used: string[] };
  /** The files the cell read and wrote when it ran. */
  files?: FileActivity;
  /** The notebook's folder (real path) when it ran, recorded when a value or a task result holds a path into it. */
  folder?: string;
}
