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
  status: "hit" | "dispatched" | "uncached" | "failed";
  reason?: string;
  result_digest?: string;
  result_size?: number;
  /** Other blobs the result refers to (a Parsl app's output files). */
  result_blobs?: string[];
  /** The files it opened where it ran (common/file-record.ts). */
  files?: FileActivity;
  /** A small result without a blob of its own: its bytes at `offset` in the pack blob `digest`. */
  result_pack?: { digest: string; offset: number };
  duration_s?: number;
  where?: { host?: string; pid?: number; thread?: string; worker?: string; client?: boolean };
  cell_id?: string;
}

/** Engine runtimes a cell started and submitted work to, as labels such as "dask:distributed". */
export interface EngineUse {
  started: string[];
  used: string[];
}
