/**
 * Messages on the "nbrewind" comm between us and the kernel-side shim
 * (engines/python/nbrewind). The JSON Schema schemas/comm-protocol.schema.json
 * is the contract; these types mirror it.
 */

import type { EngineBound } from "../common/engine-bound.js";
import { HASHING_SCHEME } from "../common/hashing-scheme.js";
import type { FileActivity } from "../common/file-record.js";
import type { EngineUse, TaskRecord } from "../common/task-record.js";

export { HASHING_SCHEME };
export const COMM_TARGET = "nbrewind";
export const PROTOCOL_VERSION = 2;
/**
 * How the shim computes task keys (engines/python/nbrewind/tasks/keys.py
 * TASK_KEY_SCHEME). Recorded task keys are offered back only under the same
 * scheme; the shim refuses others (an error, never a silent miss or hit).
 */
export const TASK_KEY_SCHEME = 3;

export interface HelloRequest {
  type: "hello";
  request_id: string;
  protocol_version: typeof PROTOCOL_VERSION;
  /** Absolute path of the store's blob root (holds sha256/ and tmp/). */
  blobs_dir: string;
  hashing_scheme: typeof HASHING_SCHEME;
}

export interface PreCellRequest {
  type: "pre_cell";
  request_id: string;
  cell_id: string;
  /** Files (paths or globs) the cell declares it reads: inputs the audit hook cannot see. */
  declared_reads?: string[];
}

export interface ObserveFilesRequest {
  type: "observe_files";
  request_id: string;
  /** Absolute: paths under it are recorded relative to it. */
  notebook_dir: string;
  /** Folders never recorded (the bundle). */
  exclude?: string[];
  ignore?: string[];
  blob_limit?: number;
  /** Recorded name -> the digest of the file as of its plan-time stat (FileView.digestSeeds). */
  seed_digests?: Record<string, { stamp: string; sha256: string }>;
}

export interface PostCellRequest {
  type: "post_cell";
  request_id: string;
  cell_id: string;
  /** The analysis's static binds, mutates and deletes. */
  candidates: string[];
  /** The analysis cannot bound what the cell writes: every user name is examined. */
  opaque: boolean;
  /** The token of the files' read list this client holds (its last reply's reads_token). */
  reads_held?: string;
}

export interface RestoreRequest {
  type: "restore";
  request_id: string;
  /** name -> digest of the blob to load. */
  values: Record<string, string>;
}

export interface EnvironmentRequest {
  type: "environment";
  request_id: string;
}

export interface KnownTask {
  key: string;
  /** The cell that submitted it, and which of that cell's submissions of `key` it was (from 0). */
  cell_id: string;
  occurrence: number;
  digest: string;
  size: number;
  /** Other blobs the result refers to: the shim serves it only when they are all in the store. */
  blobs?: string[];
  /** A small result's place in a pack blob. */
  pack?: { digest: string; offset: number };
  /** The files it read and wrote: served only while its reads hold. */
  files?: FileActivity;
  /** Its result names the notebook's folder (engines/python/nbrewind/folder_scan.py): a hit on it is recorded so too. */
  holds_path?: true;
}

export interface TasksKnownRequest {
  type: "tasks_known";
  request_id: string;
  task_key_scheme: typeof TASK_KEY_SCHEME;
  entries: KnownTask[];
}

/** Which task results are stored: "cost" leaves out what is cheaper to recompute than to store and load; "all" keeps every one. */
export type TaskStoreMode = "cost" | "all";

export interface TaskPolicyRequest {
  type: "task_policy";
  request_id: string;
  store: TaskStoreMode;
}

/** nbrewind.yaml's pins and the task caches the shim consults after the bundle (see src/config, src/store/task-cache). */
export interface TaskSettingsRequest {
  type: "task_settings";
  request_id: string;
  pins: { function: string; version: string; cells?: string[]; selector: string }[];
  caches: string[];
}

export interface ShutdownEnginesRequest {
  type: "shutdown_engines";
  request_id: string;
}

export type ShimRequest =
  | HelloRequest
  | PreCellRequest
  | PostCellRequest
  | RestoreRequest
  | EnvironmentRequest
  | TasksKnownRequest
  | TaskPolicyRequest
  | TaskSettingsRequest
  | ShutdownEnginesRequest
  | ObserveFilesRequest;
export type RequestType = ShimRequest["type"];

export interface HelloReply {
  shim_version: string;
  protocol_version: number;
  /** platform.python_version() of the kernel, e.g. "3.11.7". */
  python: string;
  pid: number;
  task_key_scheme: number;
}

/** What post_cell found for one name. */
export type WriteEntry =
  /** New content; its blob is in the store. */
  | { status: "stored"; digest: string; size: number; type: string; reaches_engines?: string[]; holds_path?: true; serialise_s: number }
  /** Same digest as the name's last stored or restored value: nothing written. */
  | { status: "unchanged"; digest: string; size: number; type: string; reaches_engines?: string[]; holds_path?: true }
  /** A live handle or a pickling failure: the producing cell must re-run when needed. */
  | { status: "unserialisable"; type: string; reason: string }
  /** Bound to a live engine (a future, a persisted collection, an ObjectRef): not stored; its cell runs again when needed. */
  | EngineBound
  | { status: "deleted" };

/** What post_cell reports of the cell's tasks and engines (common/task-record.ts). */
export type { EngineUse };
export type ShimTaskRecord = TaskRecord;

export interface PostCellReply {
  names: Record<string, WriteEntry>;
  elapsed_s: number;
  tasks: ShimTaskRecord[];
  engines: EngineUse;
  /** Every engine imported so far and whether its adapter memoizes it (absent from older shims). */
  adapters?: AdapterStatus[];
  /** Present once observe_files was sent. */
  files?: FileActivity;
}

/**
 * post_cell's reply as sent. A cell that read the very files of the read
 * list the client holds, none changed since, names that list by its token
 * (files.read_as) instead of sending 10,000 entries again; a full list comes
 * with the token to hold it under (reads_token). ShimClient.postCell gives
 * the session the full list either way.
 */
export interface PostCellWireReply extends Omit<PostCellReply, "files"> {
  files?: Omit<FileActivity, "read"> & ({ read: FileActivity["read"] } | { read_as: string });
  reads_token?: string;
}

/** An engine adapter's state in the kernel (engines/python/nbrewind/engine_guard.py). */
export interface AdapterStatus {
  engine: string;
  /** unmemoized: outside the supported versions, or a patch or key computation failed; the engine runs as without nbrewind. */
  status: "memoized" | "unmemoized";
  /** Installed distributions the supported range names: name -> version. */
  versions: Record<string, string>;
  reason?: string;
}

export interface TasksKnownReply {
  count: number;
}

export interface TaskSettingsReply {
  pins: number;
  caches: number;
}

export interface ShutdownEnginesReply {
  closed: { engine: string; handle: string; status: string }[];
}

export interface RestoreReply {
  restored: Record<string, { size: number; load_s: number }>;
}

export interface EnvironmentReply {
  python: { version: string; implementation: string; executable: string };
  platform: { system: string; release: string; machine: string };
  hostname: string;
  /** Every installed distribution: name -> version. */
  packages: Record<string, string>;
  engines: { dask: string | null; distributed: string | null; parsl: string | null; ray: string | null };
}

/** Reply payloads by request type (without type, request_id and ok). */
export interface ReplyPayloads {
  hello: HelloReply;
  pre_cell: Record<string, never>;
  post_cell: PostCellWireReply;
  restore: RestoreReply;
  environment: EnvironmentReply;
  tasks_known: TasksKnownReply;
  task_policy: Record<string, never>;
  task_settings: TaskSettingsReply;
  observe_files: Record<string, never>;
  shutdown_engines: ShutdownEnginesReply;
}

export interface ShimFailure {
  type: string;
  request_id: string;
  ok: false;
  error: {
    message: string;
    traceback?: string;
    /** bad_blob: a blob to restore is missing or corrupt (bad input, not broken machinery); disk: a write the disk refused. */
    kind?: "bad_blob" | "disk";
    /** disk: the errno name and the file. */
    code?: string;
    path?: string;
  };
}

export type ShimReply<T extends RequestType = RequestType> =
  | ({ type: `${T}_reply`; request_id: string; ok: true } & ReplyPayloads[T])
  | ShimFailure;
