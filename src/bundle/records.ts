/**
 * The files of a bundle, as types. Each has a JSON Schema in schemas/ that
 * is checked on every read (schemas.ts); keep the two in step.
 */
import type { EngineBoundWrite } from "../common/engine-bound.js";
import { allFiles, type FileActivity } from "../common/file-record.js";
import type { EngineUse, TaskRecord } from "../common/task-record.js";
import { outputDigests } from "./output-blobs.js";

/** Layout version of the bundle folder. A reader refuses a newer one. */
export const BUNDLE_FORMAT_VERSION = 1;
export { HASHING_SCHEME } from "../common/hashing-scheme.js";

export const BUNDLE_FORMAT = "nbrewind-bundle";

/** The format_version of a cell record that holds an output as a blob reference. */
export const RECORD_FORMAT_WITH_OUTPUT_BLOBS = 2;

export type RunCommand = "audit" | "repeat";
export type RunStatus = "running" | "ok" | "cell-error" | "timeout" | "interrupted" | "kernel-died";

export interface RunEntry {
  /** Safe as a file name: logs/<run_id>.jsonl. */
  run_id: string;
  command: RunCommand;
  started_at: string;
  finished_at: string | null;
  status: RunStatus;
  kernel: string;
  parameters: Record<string, unknown>;
  cells: { reused: number; restored: number; run: number };
  /** sha256 of environment.json as this run wrote it. */
  environment_digest?: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  format_version: typeof BUNDLE_FORMAT_VERSION;
  hashing_scheme: number;
  created_at: string;
  updated_at: string;
  /** Basename of the notebook the bundle belongs to: no absolute paths anywhere in a bundle. */
  source_notebook: string;
  notebook: "notebook.ipynb";
  /** Fingerprints of the latest run's code cells, in notebook order. */
  cells: string[];
  /** Appended per audit / repeat. */
  runs: RunEntry[];
}

export type WriteEntry =
  /** holds_path: the value names the notebook's folder (its record's `folder`): reused only in that folder. */
  | { name: string; status: "stored" | "unchanged"; digest: string; size: number; type: string; reaches_engines?: string[]; holds_path?: true }
  | { name: string; status: "unserialisable"; type: string; reason: string }
  | EngineBoundWrite
  | { name: string; status: "deleted" };

export interface ReadEntry {
  name: string;
  producer_cell_id: string;
  producer_fingerprint: string;
}

/** A cell's task graph and engines: one format with the shim's reports (common/task-record.ts). */
export type { EngineUse, TaskRecord };

export interface CellRecord {
  /** 2 when an output is stored as a blob (output-blobs.ts): older readers refuse it rather than show a reference. */
  format_version: typeof BUNDLE_FORMAT_VERSION | typeof RECORD_FORMAT_WITH_OUTPUT_BLOBS;
  /** sha256 hex; also the file name, cells/<fingerprint>.json. */
  fingerprint: string;
  cell_id: string;
  /** Index in notebook.cells at record time. */
  index: number;
  /** sha256 of the normalised source. */
  source_hash: string;
  status: "ok" | "error";
  reads: ReadEntry[];
  writes: WriteEntry[];
  opaque: boolean;
  /** nbformat outputs as written in the notebook; one over 1 MiB is a reference to its blob (output-blobs.ts). */
  outputs: unknown[];
  execution_count: number | null;
  duration_s: number;
  checkpoint_s: number;
  checkpoint_bytes: number;
  recorded_at: string;
  run_id: string;
  /** Hash of the source and of the values the cell read when it ran; see schemas/cell-record.schema.json. */
  value_key: string;
  /** The tasks the cell submitted to an engine: its task graph. */
  tasks?: TaskRecord[];
  engines?: EngineUse;
  /** The scheme the task keys were computed under; present with tasks. */
  task_key_scheme?: number;
  /** Bytes of task results this run of the cell wrote into the bundle (its dispatched tasks' stored results). */
  task_bytes?: number;
  /** The files the cell read and wrote (schemas/file-record.schema.json). */
  files?: FileActivity;
  /** The notebook's folder (real path) when it ran: present when a value or task result holds a path into it (planner/moved-folder.ts). */
  folder?: string;
}

export interface RunLogEvent {
  time: string;
  run_id: string;
  event: string;
  cell_id?: string;
  [key: string]: unknown;
}

export interface EnvironmentRecord {
  captured_at: string;
  python: { version: string; implementation: string; [key: string]: string };
  platform: { system: string; release: string; machine: string; [key: string]: string };
  hostname: string;
  /** Kernelspec name. */
  kernel: string;
  /** Distribution name -> version. */
  packages: Record<string, string>;
  /** dask / parsl / ray -> version, null when not installed. */
  engines: Record<string, string | null>;
  nbrewind_version: string;
}

/** One thing wrong with a bundle: `file` relative to the bundle, `path` a JSON path inside it. */
export interface BundleProblem {
  file: string;
  path?: string;
  message: string;
}

export function formatProblem(p: BundleProblem): string {
  return p.path ? `${p.file}: ${p.path}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** The blobs a task's outcome is stored in: its result (or the pack holding it), and the blobs the result refers to. */
export function taskDigests(t: TaskRecord): string[] {
  return t.result_digest ? [t.result_pack?.digest ?? t.result_digest, ...(t.result_blobs ?? [])] : [];
}

/** The blobs holding the files a cell wrote (those over the size limit have none). */
export function fileDigests(rec: CellRecord): string[] {
  return allFiles(rec).written.flatMap((w) => ("blob" in w && w.blob ? [w.sha256] : []));
}

/** The digests a record's values, task results, written files and large outputs are stored under. */
export function recordDigests(rec: CellRecord): string[] {
  const out: string[] = outputDigests(rec);
  for (const w of rec.writes) if (w.status === "stored" || w.status === "unchanged") out.push(w.digest);
  for (const t of rec.tasks ?? []) out.push(...taskDigests(t));
  out.push(...fileDigests(rec));
  return out;
}
