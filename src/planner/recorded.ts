/**
 * What the planner needs to know of an earlier run's cell. Structural on
 * purpose: the bundle's CellRecord satisfies it, and the planner does not
 * depend on how records are stored.
 */
export type RecordedWrite =
  | { name: string; status: "stored" | "unchanged"; digest: string; size: number; type: string }
  | { name: string; status: "unserialisable"; type: string; reason: string }
  | { name: string; status: "deleted" };

export interface RecordedRead {
  name: string;
  producer_cell_id: string;
  producer_fingerprint: string;
}

/** A task the cell submitted to an engine when it was recorded (the bundle's TaskRecord). */
export interface RecordedTask {
  key: string | null;
  engine: string;
  function: string;
  arg_keys: string[];
  upstream: string[];
  engine_key: string;
  status: "hit" | "dispatched" | "uncached" | "failed";
  reason?: string;
  result_digest?: string;
  result_size?: number;
  /** Other blobs the result refers to (a Parsl app's output files). */
  result_blobs?: string[];
  /** A small result without a blob of its own: its bytes at `offset` in the pack blob `digest`. */
  result_pack?: { digest: string; offset: number };
  cell_id?: string;
}

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
}
