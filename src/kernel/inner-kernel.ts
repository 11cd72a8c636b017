/**
 * The real ipykernel the NBRewind kernel runs inside: its process and the
 * client end of its five channels. The proxy forwards the frontend's
 * messages through these sockets; the NBRewind kernel's own requests (the
 * shim's comm, silent executions) go through them too and are answered to
 * callbacks here, never shown to the frontend.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dealer, Subscriber } from "zeromq";
import { InfrastructureError } from "../common/errors.js";
import { endpoint, writeLoopbackConnectionFile, type ConnectionInfo } from "../jupyter/connection-file.js";
import { untilKernelReady } from "../jupyter/kernel-ready.js";
import { receiveLoop, SerialSender } from "../jupyter/zmq-sockets.js";
import { WireMessage, type MessageFactory } from "../jupyter/wire.js";

export interface InnerKernelOptions {
  python: string;
  key: string;
  signatureScheme: string;
  factory: MessageFactory;
  log: (line: string) => void;
}

/** What the inner kernel sends that the proxy routes (messages that answer our own requests never reach these). */
export interface InnerRoutes {
  shell(msg: WireMessage): void;
  control(msg: WireMessage): void;
  stdin(msg: WireMessage): void;
  iopub(msg: WireMessage): void;
}

/** One of our own requests in flight: its reply and the IOPub messages it caused. */
interface OwnRequest {
  onReply?: (msg: WireMessage) => void;
  onIopub?: (msg: WireMessage) => void;
  /** Settled once the reply and the kernel's idle for it have both arrived. */
  replied: boolean;
  idle: boolean;
  done: () => void;
}

export class InnerKernel {
  readonly shell: Dealer;
  readonly control: Dealer;
  readonly stdin: Dealer;
  readonly iopub = new Subscriber();
  private readonly senders: { shell: SerialSender; control: SerialSender; stdin: SerialSender };
  private process: ChildProcess | undefined;
  private dir: string | undefined;
  private readonly own = new Map<string, OwnRequest>();
  private readonly commHandlers = new Map<string, (data: Record<string, unknown>) => void>();
  private readonly commClosers = new Map<string, () => void>();
  readonly exited: Promise<number | null>;
  private resolveExited!: (code: number | null) => void;
  private stopping = false;

  constructor(private readonly options: InnerKernelOptions) {
    // The shell and stdin sockets share one identity: ipykernel sends an
    // input_request to the stdin peer named like the shell peer that asked.
    const routingId = `nbrewind-${randomUUID()}`;
    this.shell = new Dealer({ routingId, linger: 0 });
    this.stdin = new Dealer({ routingId, linger: 0 });
    this.control = new Dealer({ linger: 0 });
    this.senders = { shell: new SerialSender(this.shell), control: new SerialSender(this.control), stdin: new SerialSender(this.stdin) };
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Start ipykernel, connect, and wait until its shell answers and its IOPub reaches us. */
  async start(routes: InnerRoutes, timeoutMs = 60_000): Promise<void> {
    // Beside the frontend's connection files when Jupyter names a runtime dir: one place to look for what a kernel left.
    this.dir = await mkdtemp(join(process.env.JUPYTER_RUNTIME_DIR || tmpdir(), "nbrewind-kernel-"));
    const file = join(this.dir, "inner-kernel.json");
    const info = await writeLoopbackConnectionFile(file, this.options.key, this.options.signatureScheme);
    this.process = spawn(this.options.python, ["-m", "ipykernel_launcher", "-f", file], {
      stdio: ["ignore", "inherit", "inherit"],
      // ipykernel polls this pid and exits when we are gone, even after a SIGKILL.
      env: { ...process.env, JPY_PARENT_PID: String(process.pid) },
    });
    this.process.on("exit", (code) => this.resolveExited(code));
    this.process.on("error", (err) => {
      this.options.log(`cannot start ${this.options.python}: ${err.message}`);
      this.resolveExited(null);
    });
    this.connect(info);
    const log = (err: unknown) => this.options.log(`inner kernel: ${(err as Error).message}`);
    void receiveLoop(this.shell, (f) => this.route(f, routes.shell), log);
    void receiveLoop(this.control, (f) => this.route(f, routes.control), log);
    void receiveLoop(this.stdin, (f) => routes.stdin(wireFrom(f)), log);
    void receiveLoop(this.iopub, (f) => this.routeIopub(f, routes.iopub), log);
    await this.waitReady(timeoutMs);
  }

  private connect(info: ConnectionInfo): void {
    this.shell.connect(endpoint(info, "shell"));
    this.control.connect(endpoint(info, "control"));
    this.stdin.connect(endpoint(info, "stdin"));
    this.iopub.connect(endpoint(info, "iopub"));
    this.iopub.subscribe();
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const ready = await untilKernelReady((onIopub) => ({ done: this.request("shell", "kernel_info_request", {}, { onIopub }) }), this.exited, timeoutMs);
    if (ready === "ready") return;
    throw new InfrastructureError(ready === "gone" ? "the inner ipykernel exited while starting" : `the inner ipykernel did not answer within ${timeoutMs / 1000} s`, [`python: ${this.options.python}`]);
  }

  /** Send a message of the frontend's, as is. */
  forward(channel: "shell" | "control" | "stdin", msg: WireMessage): Promise<void> {
    return this.senders[channel].send(msg.frames());
  }

  /** A request of our own; resolves when both its reply and the kernel's idle for it arrived. */
  request(channel: "shell" | "control", msgType: string, content: unknown, handlers: { onReply?: (msg: WireMessage) => void; onIopub?: (msg: WireMessage) => void } = {}): Promise<void> {
    const msg = this.options.factory.make(msgType, content);
    return this.send(channel, msg, handlers);
  }

  /** Send a message we built (or rebuilt), routing its reply and IOPub to the handlers instead of the frontend. */
  send(channel: "shell" | "control", msg: WireMessage, handlers: { onReply?: (msg: WireMessage) => void; onIopub?: (msg: WireMessage) => void } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      const id = msg.header.msg_id;
      const entry: OwnRequest = { ...handlers, replied: false, idle: false, done: () => resolve() };
      this.own.set(id, entry);
      void this.exited.then(() => {
        if (this.own.delete(id)) resolve();
      });
      this.senders[channel].send(msg.frames()).catch(() => {
        this.own.delete(id);
        resolve();
      });
    });
  }

  /** Run code without a trace for the user: no count, no history, no output. Returns the reply's content. */
  async runSilently(code: string, userExpressions: Record<string, string> = {}): Promise<Record<string, unknown>> {
    let reply: Record<string, unknown> = { status: "aborted" };
    await this.request("shell", "execute_request", { code, silent: true, store_history: false, user_expressions: userExpressions, allow_stdin: false, stop_on_error: false }, { onReply: (m) => (reply = m.content) });
    return reply;
  }

  /** Our end of a comm: messages for it are answered here, never forwarded. */
  openComm(target: string, onMsg: (data: Record<string, unknown>) => void, onClose: () => void): { send(data: Record<string, unknown>): void; close(): void } {
    const commId = randomUUID();
    this.commHandlers.set(commId, onMsg);
    const closeHandlers = () => {
      if (this.commHandlers.delete(commId)) onClose();
    };
    this.commClosers.set(commId, closeHandlers);
    void this.request("shell", "comm_open", { comm_id: commId, target_name: target, data: {} });
    return {
      send: (data) => void this.request("shell", "comm_msg", { comm_id: commId, data }),
      close: () => {
        if (!this.commHandlers.delete(commId)) return;
        this.commClosers.delete(commId);
        void this.request("shell", "comm_close", { comm_id: commId, data: {} });
      },
    };
  }

  private route(frames: Buffer[], toFrontend: (msg: WireMessage) => void): void {
    const msg = wireFrom(frames);
    const own = this.own.get(String(msg.parentHeader.msg_id ?? ""));
    if (!own) return toFrontend(msg);
    own.onReply?.(msg);
    own.replied = true;
    this.settle(msg.parentHeader.msg_id!, own);
  }

  private routeIopub(frames: Buffer[], toFrontend: (msg: WireMessage) => void): void {
    const msg = wireFrom(frames);
    const type = msg.msgType;
    if (type === "comm_msg" || type === "comm_close") {
      const commId = String(msg.content.comm_id ?? "");
      if (type === "comm_msg" && this.commHandlers.has(commId)) return this.commHandlers.get(commId)!(msg.content.data as Record<string, unknown>);
      if (type === "comm_close" && this.commClosers.has(commId)) return this.commClosers.get(commId)!();
    }
    const parentId = String(msg.parentHeader.msg_id ?? "");
    const own = this.own.get(parentId);
    if (!own) return toFrontend(msg);
    own.onIopub?.(msg);
    if (type === "status" && msg.content.execution_state === "idle") {
      own.idle = true;
      this.settle(parentId, own);
    }
  }

  private settle(id: string, own: OwnRequest): void {
    if (!own.replied || !own.idle) return;
    this.own.delete(id);
    own.done();
  }

  /** Send a signal to the kernel process (SIGINT interrupts the running cell). */
  signal(sig: NodeJS.Signals): void {
    if (this.process?.exitCode === null) this.process.kill(sig);
  }

  get stoppingNow(): boolean {
    return this.stopping;
  }

  /** Close the sockets and make sure the process is gone: asked politely first, then killed. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    const proc = this.process;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!gone) {
        proc.kill("SIGKILL");
        await this.exited;
      }
    }
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) s.close();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

function wireFrom(frames: Buffer[]): WireMessage {
  return WireMessage.fromFrames(frames);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
