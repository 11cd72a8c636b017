/**
 * Messages on the "nbrewind" comm between us and the kernel-side shim
 * (engines/python/nbrewind). The JSON Schema schemas/comm-protocol.schema.json
 * is the contract; these types mirror it.
 */

import { HASHING_SCHEME } from "../common/hashing-scheme.js";

export { HASHING_SCHEME };
export const COMM_TARGET = "nbrewind";
export const PROTOCOL_VERSION = 1;

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
}

export interface PostCellRequest {
  type: "post_cell";
  request_id: string;
  cell_id: string;
  /** The analysis's static binds, mutates and deletes. */
  candidates: string[];
  /** The analysis cannot bound what the cell writes: every user name is examined. */
  opaque: boolean;
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

export type ShimRequest = HelloRequest | PreCellRequest | PostCellRequest | RestoreRequest | EnvironmentRequest;
export type RequestType = ShimRequest["type"];

export interface HelloReply {
  shim_version: string;
  protocol_version: number;
  /** platform.python_version() of the kernel, e.g. "3.11.7". */
  python: string;
  pid: number;
}

/** What post_cell found for one name. */
export type WriteEntry =
  /** New content; its blob is in the store. */
  | { status: "stored"; digest: string; size: number; type: string; serialise_s: number }
  /** Same digest as the name's last stored or restored value: nothing written. */
  | { status: "unchanged"; digest: string; size: number; type: string }
  /** A live handle or a pickling failure: the producing cell must re-run when needed. */
  | { status: "unserialisable"; type: string; reason: string }
  | { status: "deleted" };

export interface PostCellReply {
  names: Record<string, WriteEntry>;
  elapsed_s: number;
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
  post_cell: PostCellReply;
  restore: RestoreReply;
  environment: EnvironmentReply;
}

export interface ShimFailure {
  type: string;
  request_id: string;
  ok: false;
  error: {
    message: string;
    traceback?: string;
    /** bad_blob: a blob to restore is missing or corrupt (bad input, not broken machinery). */
    kind?: "bad_blob";
  };
}

export type ShimReply<T extends RequestType = RequestType> =
  | ({ type: `${T}_reply`; request_id: string; ok: true } & ReplyPayloads[T])
  | ShimFailure;
