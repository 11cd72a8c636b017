import { randomUUID } from "node:crypto";
import type { ValidateFunction } from "ajv";
import { DiskError } from "../common/disk-errors.js";
import type { FileRead } from "../common/file-record.js";
import { InfrastructureError, InputError } from "../common/errors.js";
import type { CommEnd, CommHandlers, KernelClient } from "./kernel-client.js";
import * as commProtocol from "../validators/generated/comm-protocol.js";
import { shimPayload } from "./shim-payload.js";
import {
  COMM_TARGET,
  HASHING_SCHEME,
  PROTOCOL_VERSION,
  type EnvironmentReply,
  type HelloReply,
  type ObserveFilesRequest,
  type PostCellReply,
  type ReplyPayloads,
  type RequestType,
  type RestoreReply,
  type ShimFailure,
  type ShimRequest,
  type ShutdownEnginesReply,
  TASK_KEY_SCHEME,
  type KnownTask,
  type TaskStoreMode,
  type TasksKnownReply,
  type TaskSettingsReply,
  type TaskSettingsRequest,
} from "./shim-protocol.js";

export type { AdapterStatus, EnvironmentReply, HelloReply, KnownTask, PostCellReply, RestoreReply, ShimTaskRecord, WriteEntry } from "./shim-protocol.js";

/** The shim could not do what was asked (its message is shown as is); exit code 3. */
export class ShimError extends InfrastructureError {
  constructor(
    message: string,
    readonly requestType: string,
    /** The Python traceback, for failures the shim did not expect. */
    readonly traceback?: string,
  ) {
    super(message, traceback ? traceback.trimEnd().split("\n").slice(-6) : []);
  }
}

/** A blob to restore is missing or corrupt: the bundle is bad input, not the machinery; exit code 2. */
export class ShimBlobError extends InputError {
  constructor(
    message: string,
    readonly requestType: string,
  ) {
    super(message);
  }
}

export interface ShimClientOptions {
  /** Absolute path of the store's blob root: the shim writes `sha256/` and `tmp/` under it. */
  blobsDir: string;
  /**
   * Timeout of every request, when set. By default 2 min for hello, pre_cell
   * and environment, 10 min for post_cell and restore (serialising large
   * values takes time). A request queues behind a running cell on the kernel's
   * shell channel, so send it after the cell's execute request completed.
   */
  timeoutMs?: number;
}

const SHORT_TIMEOUT_MS = 120_000;
const DATA_TIMEOUT_MS = 600_000;

interface Pending {
  type: RequestType;
  resolve: (payload: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The TypeScript end of the kernel-side shim: loads it into the kernel, opens
 * the "nbrewind" comm and turns requests into promises of their replies.
 * Only small records travel here; value bytes go from the kernel to the store.
 */
export class ShimClient {
  private readonly pending = new Map<string, Pending>();
  private closed: Error | undefined;
  /** The last full read list post_cell sent, under its token: a cell reading the same files again is sent as the token. */
  private heldReads: { token: string; read: FileRead[] } | undefined;
  hello: HelloReply | undefined;

  private constructor(
    private readonly comm: ShimComm,
    private readonly options: ShimClientOptions,
  ) {}

  /**
   * The CPU work of a first attach, done ahead (while a kernel starts): the
   * shim's payload and the reply validators. Both are cached; calling again costs nothing.
   */
  static warmUp(): void {
    shimPayload();
    replyValidators();
  }

  /** Attach over a kernel the CLI started (launched directly, or on a Jupyter server). */
  static attach(kernel: KernelClient, options: ShimClientOptions): Promise<ShimClient> {
    return ShimClient.connect(kernelChannel(kernel, options.timeoutMs ?? SHORT_TIMEOUT_MS), options);
  }

  /**
   * Attach over any way of reaching the kernel: a KernelClient (`attach`)
   * or the NBRewind kernel's own ZeroMQ connection to its inner ipykernel. The channel must deliver comm messages on the main shell, in
   * order with execute requests.
   */
  static async connect(channel: ShimChannel, options: ShimClientOptions): Promise<ShimClient> {
    // First without the payload: the shim is usually installed in the kernel's file system
    // already (shim_bootstrap.py); only when it is not does the ~130 KB loader travel.
    try {
      return await ShimClient.connectWith(channel, options, shimPayload().installedCode);
    } catch (err) {
      if (!(err instanceof ShimNotInstalledError)) throw err;
    }
    return ShimClient.connectWith(channel, options, shimLoaderCode());
  }

  private static async connectWith(channel: ShimChannel, options: ShimClientOptions, loader: string): Promise<ShimClient> {
    // The loader, the comm's opening and hello are sent at once: the kernel handles them in
    // order on its shell, so the comm opens after the shim registered its target. When the
    // loader fails, the kernel closes the comm (its target is unknown) and hello fails with it.
    const loaded = channel.loadShim(loader);
    const ref: { client?: ShimClient } = {};
    const comm = channel.openComm(COMM_TARGET, {
      onMsg: (data) => ref.client?.onMessage(data),
      // The kernel closes a comm whose target it does not know, and the comm dies with the kernel.
      onClose: () => ref.client?.failAll(new InfrastructureError("the kernel closed the nbrewind comm")),
    });
    const client = (ref.client = new ShimClient(comm, options));
    channel.died.catch((err: Error) => client.failAll(err));
    const hello = client.request<"hello">({ type: "hello", protocol_version: PROTOCOL_VERSION, blobs_dir: options.blobsDir, hashing_scheme: HASHING_SCHEME });
    hello.catch(() => {}); // when the loader failed, its reason is the one to report
    await loaded;
    client.hello = await hello;
    return client;
  }

  async preCell(cellId: string, declaredReads: string[] = []): Promise<void> {
    await this.request<"pre_cell">({ type: "pre_cell", cell_id: cellId, ...(declaredReads.length ? { declared_reads: declaredReads } : {}) });
  }

  /** From now on, post_cell reports the files each cell read and wrote (and stores the written ones). */
  async observeFiles(request: Omit<ObserveFilesRequest, "type" | "request_id">): Promise<void> {
    await this.request<"observe_files">({ type: "observe_files", ...request });
  }

  async postCell(cellId: string, candidates: string[], opaque: boolean): Promise<PostCellReply> {
    const held = this.heldReads;
    const wire = await this.request<"post_cell">({ type: "post_cell", cell_id: cellId, candidates, opaque, ...(held ? { reads_held: held.token } : {}) });
    const { files, reads_token: token, ...reply } = wire;
    if (!files) return reply;
    const { read_as: readAs, read: sent, ...rest } = files as typeof files & { read?: FileRead[]; read_as?: string };
    if (readAs !== undefined && readAs !== held?.token) throw new InfrastructureError(`the nbrewind shim named a read list this client does not hold (${readAs})`);
    // Copies: the session may keep or change what it is given; the held list stays as sent.
    const read = sent ?? held!.read.map((e) => ({ ...e }));
    if (sent && token) this.heldReads = { token, read: sent.map((e) => ({ ...e })) };
    return { ...reply, files: { ...rest, read } };
  }

  restore(values: Record<string, string>): Promise<RestoreReply> {
    return this.request<"restore">({ type: "restore", values });
  }

  environment(): Promise<EnvironmentReply> {
    return this.request<"environment">({ type: "environment" });
  }

  /** Repeat: the task results the bundle holds, so the engine adapters serve them instead of dispatching. */
  tasksKnown(entries: KnownTask[]): Promise<TasksKnownReply> {
    return this.request<"tasks_known">({ type: "tasks_known", task_key_scheme: TASK_KEY_SCHEME, entries });
  }

  /** Which task results the engine adapters store (see TaskStoreMode). */
  async taskPolicy(store: TaskStoreMode): Promise<void> {
    await this.request<"task_policy">({ type: "task_policy", store });
  }

  /** Pins and task caches for the engine adapters (before any cell runs). */
  taskSettings(settings: Omit<TaskSettingsRequest, "type" | "request_id">): Promise<TaskSettingsReply> {
    return this.request<"task_settings">({ type: "task_settings", ...settings });
  }

  /** Close every engine runtime the shim saw started (a Dask cluster and its workers) before the kernel goes. */
  shutdownEngines(): Promise<ShutdownEnginesReply> {
    return this.request<"shutdown_engines">({ type: "shutdown_engines" });
  }

  /** Close the comm; pending requests reject. The kernel keeps the shim loaded for a later attach. */
  close(): void {
    if (this.closed) return;
    this.failAll(new InfrastructureError("the nbrewind shim client was closed"));
    this.comm.close();
  }

  private request<T extends RequestType>(body: DistributiveOmit<Extract<ShimRequest, { type: T }>, "request_id">): Promise<ReplyPayloads[T]> {
    if (this.closed) return Promise.reject(this.closed);
    const requestId = randomUUID();
    const type = body.type as T;
    const timeoutMs = this.options.timeoutMs ?? (type === "post_cell" || type === "restore" || type === "shutdown_engines" ? DATA_TIMEOUT_MS : SHORT_TIMEOUT_MS);
    return new Promise<ReplyPayloads[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new InfrastructureError(`the nbrewind shim did not answer ${type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(requestId, { type, resolve: resolve as (p: unknown) => void, reject, timer });
      try {
        // The comm's future only tracks the kernel going idle; the answer comes as a comm message.
        this.comm.send({ ...body, request_id: requestId });
      } catch (err) {
        this.settle(requestId)?.reject(new InfrastructureError(`cannot send ${type} to the nbrewind shim: ${(err as Error).message}`));
      }
    });
  }

  private settle(requestId: string): Pending | undefined {
    const pending = this.pending.get(requestId);
    if (!pending) return undefined;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    return pending;
  }

  private onMessage(payload: Record<string, unknown>): void {
    const data = payload as { request_id?: unknown; ok?: unknown };
    const pending = typeof data.request_id === "string" ? this.settle(data.request_id) : undefined;
    if (!pending) return; // a late answer to a request that timed out
    const problem = replyProblem(pending.type, data);
    if (problem) {
      pending.reject(new InfrastructureError(`the nbrewind shim sent a malformed ${pending.type} reply: ${problem}`));
    } else if (data.ok === true) {
      const { type: _t, request_id: _r, ok: _o, ...payload } = data as Record<string, unknown>;
      pending.resolve(payload);
    } else {
      const { error } = data as ShimFailure;
      // A write through a file descriptor names no file: the store it was writing is the place to free.
      if (error.kind === "disk") pending.reject(new DiskError(error.code ?? "ENOSPC", error.path ?? this.options.blobsDir));
      else pending.reject(error.kind === "bad_blob" ? new ShimBlobError(error.message, pending.type) : new ShimError(`nbrewind shim (${pending.type}): ${error.message}`, pending.type, error.traceback));
    }
  }

  private failAll(err: Error): void {
    this.closed ??= err;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One comm, as the shim client uses it: JSON payloads out and in. */
export type ShimComm = CommEnd;

/** How the shim client reaches a kernel. */
export interface ShimChannel {
  /** Run the loader silently (no count, no history, no output); reject with a readable reason when it fails. */
  loadShim(code: string): Promise<void>;
  openComm(target: string, handlers: CommHandlers): ShimComm;
  /** Rejects when the kernel dies. */
  died: Promise<never>;
}

/**
 * The loader: ships the shim to the kernel and loads it. Its source travels
 * in the request (shim-payload.ts), so the kernel may run anywhere the server
 * puts it (the NBRewind kernel's inner ipykernel gets the same payload, so
 * both paths load one shim the same way); the code runs in a throwaway
 * namespace so it binds nothing in the user's. Run it silently: no execution
 * count, no history, no output.
 */
export function shimLoaderCode(): string {
  return shimPayload().code;
}

/** The loader without the payload found no installed copy of this shim: send the payload. */
export class ShimNotInstalledError extends InfrastructureError {}

/** Why loading failed, in words: the reply's error and what the shim needs. */
export function shimLoadFailure(reply: { status?: string; ename?: string; evalue?: string } | undefined): InfrastructureError {
  if (reply?.ename === "NbrewindShimNotInstalled") return new ShimNotInstalledError(`the nbrewind shim ${reply.evalue ?? ""} is not installed in the kernel's file system`);
  return new InfrastructureError(`cannot load the nbrewind shim into the kernel: ${reply?.ename ?? reply?.status ?? "no reply"}: ${reply?.evalue ?? ""}`, [
    "the kernel's environment needs Python 3.10 or newer, ipykernel 6 or newer and cloudpickle (nbrewind-engine doctor -k KERNEL checks it)",
  ]);
}

/** The channel over a KernelClient: the transport keeps comm messages on the main shell. */
export function kernelChannel(kernel: KernelClient, timeoutMs: number): ShimChannel {
  return {
    died: kernel.died,
    loadShim: (code) => loadShim(kernel, code, timeoutMs),
    openComm: (target, handlers) => kernel.openComm(target, handlers),
  };
}

async function loadShim(kernel: KernelClient, code: string, timeoutMs: number): Promise<void> {
  let reply: Record<string, unknown> | undefined;
  const execution = kernel.execute({ code, silent: true, store_history: false, allow_stdin: false, stop_on_error: false }, { onReply: (msg) => (reply = msg.content) });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InfrastructureError(`loading the nbrewind shim did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([execution.done, timeout, kernel.died]);
  } finally {
    clearTimeout(timer);
    execution.dispose();
  }
  if (reply?.status !== "ok") throw shimLoadFailure(reply as { status?: string; ename?: string; evalue?: string } | undefined);
}

let validators: Map<string, ValidateFunction> | undefined;

/**
 * Check a reply against schemas/comm-protocol.schema.json. Always on: replies
 * are small records and a compiled validator costs microseconds, while a
 * shim from another version must fail loudly, not corrupt a bundle.
 */
function replyProblem(type: RequestType, data: unknown): string | undefined {
  const validate = replyValidators().get(type)!;
  if (validate(data)) return undefined;
  const errors = validate.errors ?? [];
  return errors
    .slice(0, 3)
    .map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`)
    .join("; ");
}

/** The reply validators, precompiled from schemas/comm-protocol.schema.json by scripts/validators.ts. */
export function replyValidators(): Map<string, ValidateFunction> {
  if (!validators) {
    const compiled = commProtocol as unknown as Record<string, ValidateFunction>;
    validators = new Map();
    for (const t of ["hello", "pre_cell", "post_cell", "restore", "environment", "tasks_known", "task_policy", "task_settings", "shutdown_engines", "observe_files"]) {
      const fn = compiled[`${t}_reply`];
      if (!fn) throw new Error(`no precompiled validator for ${t}_reply of comm-protocol.schema.json; run 'npm run validators'`);
      validators.set(t, fn);
    }
  }
  return validators;
}
