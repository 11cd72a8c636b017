/**
 * A kernel we launch ourselves and speak to over ZeroMQ, as nbclient does
 * through jupyter_client's KernelManager: no Jupyter server in between. We
 * write a connection file (loopback ports, a random HMAC key) in a private
 * runtime folder, start the kernelspec's argv in a process group of its own,
 * and talk on its shell, control and IOPub channels.
 *
 * Liveness is the process itself (it is our child, as KernelManager.is_alive
 * polls it): its exit rejects `died` at once, where a heartbeat would only
 * notice after a missed beat. Interrupts follow the kernelspec's
 * interrupt_mode; shutdown asks on the control channel, then signals the
 * group, then sweeps every process carrying this run's marker (engine
 * workers the kernel started), and removes the connection file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Dealer, Subscriber } from "zeromq";
import { InfrastructureError } from "../common/errors.js";
import { endpoint, writeLoopbackConnectionFile, type ConnectionInfo } from "./connection-file.js";
import { KernelDiedError } from "./kernel-died.js";
import type { CommEnd, CommHandlers, ExecuteHandlers, ExecuteRequestContent, Execution, JupyterMessage, KernelClient } from "./kernel-client.js";
import { launchEnv } from "./launch-env.js";
import { launchCommand, specEnvironment, batchKernelCommand, type LocalKernelSpec } from "./local-kernelspecs.js";
import { killProcessesMarkedWith, settlesWithin } from "./process-sweep.js";
import { createRuntimeDir } from "./runtime-dirs.js";
import { MessageFactory, Signer, WireMessage } from "./wire.js";
import { untilKernelReady } from "./kernel-ready.js";
import { receiveLoop, SerialSender } from "./zmq-sockets.js";

export interface DirectKernelOptions {
  /** The managed env's interpreter: what a kernelspec's bare `python` means, and whose env is activated. */
  python: string;
  spec: LocalKernelSpec;
  /** The kernel's working folder (the notebook's). */
  rootDir: string;
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Called once the kernel process is spawned, before waiting for it (see RuntimeOptions.whileStarting). */
  onSpawned?: () => void;
}

/**
 * We connect before the kernel has bound its ports, so the first attempts are
 * refused and ZeroMQ tries again every reconnect interval: at its default
 * 100 ms, the channels reached a kernel 0-100 ms after it was listening, and
 * every start waited for that (measured: kernel start spans bunched at
 * ~0.43 s, 0.26-0.38 s with 10 ms; bench/README.md, "Wave 6"). Retrying a
 * refused loopback connection every 10 ms costs nothing worth counting.
 */
const SOCKET_OPTIONS = { linger: 0, reconnectInterval: 10 };

/** jupyter_client's shutdown_wait_time: how long a kernel gets to leave after shutdown_request. */
const SHUTDOWN_GRACE_MS = 5000;
const LOG_TAIL_LINES = 40;

/** A request of ours in flight: done once its reply and, for shell requests, its idle status arrived. */
interface Pending {
  handlers: ExecuteHandlers;
  replied: boolean;
  idle: boolean;
  done: () => void;
}

export class DirectKernel implements KernelClient {
  readonly runId = randomUUID();
  readonly died: Promise<never>;
  private rejectDied!: (err: Error) => void;
  private readonly shell = new Dealer(SOCKET_OPTIONS);
  private readonly control = new Dealer(SOCKET_OPTIONS);
  private readonly iopub = new Subscriber(SOCKET_OPTIONS);
  private readonly senders = { shell: new SerialSender(this.shell), control: new SerialSender(this.control) };
  /** The connection's HMAC key: in the connection file (0600, in a 0700 folder), never on a command line. */
  private readonly key = randomBytes(32).toString("hex");
  private readonly signer = new Signer(this.key);
  private readonly factory = new MessageFactory(this.signer);
  private readonly pending = new Map<string, Pending>();
  private readonly comms = new Map<string, CommHandlers>();
  private readonly logTail: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private runtimeDir: string | undefined;
  private stopping: Promise<void> | undefined;
  private shuttingDown = false;

  private constructor(private readonly options: DirectKernelOptions) {
    this.died = new Promise<never>((_, reject) => (this.rejectDied = reject));
    this.died.catch(() => {}); // observed by whoever races it
  }

  /** Launch the kernel and wait until its shell answers and its IOPub reaches us; on failure nothing is left running. */
  static async start(options: DirectKernelOptions): Promise<DirectKernel> {
    const kernel = new DirectKernel(options);
    try {
      await kernel.launch();
      return kernel;
    } catch (err) {
      await kernel.shutdown();
      if (err instanceof InfrastructureError) throw new InfrastructureError(err.message, [...err.details, ...kernel.recentLog()]);
      throw err;
    }
  }

  /** The last lines the kernel process wrote to its stdout and stderr (tracebacks of a crash, a failed start). */
  recentLog(): string[] {
    return [...this.logTail];
  }

  private async launch(): Promise<void> {
    const { spec, python } = this.options;
    this.runtimeDir = createRuntimeDir();
    const file = join(this.runtimeDir, `kernel-${this.runId}.json`);
    const info = await writeLoopbackConnectionFile(file, this.key, "hmac-sha256");
    // Audit, repeat and run are batch runs: no debugger frontend ever attaches to this kernel.
    const [command, ...args] = batchKernelCommand(launchCommand(spec, python, file));
    const env = specEnvironment(spec, { ...launchEnv({ python, env: this.options.env, runId: this.runId, runtimeDir: this.runtimeDir }), JPY_PARENT_PID: String(process.pid) });
    // A process group of its own, as jupyter_client starts kernels: an interrupt reaches
    // what the kernel started too, and the terminal's Ctrl-C reaches us alone (we interrupt).
    const child = spawn(command!, args, { env, cwd: this.options.rootDir, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child = child;
    // "exit", not "close": engine workers the kernel started may hold its stdout open long after it is gone.
    this.exited = new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve()); // never spawned: nothing to wait for
    });
    child.once("exit", (code, signal) => {
      if (!this.shuttingDown) this.rejectDied(new KernelDiedError(`the kernel died (${signal ? `signal ${signal}` : `exit code ${String(code)}`})`, this.recentLog().slice(-15)));
    });
    const record = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (!line.trim()) continue;
        this.logTail.push(line);
        if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
      }
    };
    child.stdout!.on("data", record);
    child.stderr!.on("data", record);
    const spawnError = new Promise<never>((_, reject) => child.once("error", (err) => reject(new InfrastructureError(`cannot start kernel '${spec.name}' (${command}): ${err.message}`))));
    spawnError.catch(() => {});
    if (this.options.onSpawned) setImmediate(this.options.onSpawned);
    this.connect(info);
    await Promise.race([this.waitReady(this.options.startTimeoutMs ?? 60_000), spawnError]);
  }

  private connect(info: ConnectionInfo): void {
    this.shell.connect(endpoint(info, "shell"));
    this.control.connect(endpoint(info, "control"));
    this.iopub.connect(endpoint(info, "iopub"));
    this.iopub.subscribe();
    const log = (err: unknown) => this.note(`kernel channel: ${(err as Error).message}`);
    void receiveLoop(this.shell, (frames) => this.onReply(frames), log);
    void receiveLoop(this.control, (frames) => this.onReply(frames), log);
    void receiveLoop(this.iopub, (frames) => this.onIopub(frames), log);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const ready = await untilKernelReady((onIopub) => this.request("shell", "kernel_info_request", {}, { onIopub }), this.died, timeoutMs);
    if (ready === "ready") return;
    if (ready === "gone") throw new InfrastructureError(`kernel '${this.options.spec.name}' exited while starting`);
    throw new InfrastructureError(`kernel '${this.options.spec.name}' did not answer within ${timeoutMs / 1000} s`);
  }

  execute(content: ExecuteRequestContent, handlers: ExecuteHandlers): Execution {
    return this.request("shell", "execute_request", { user_expressions: {}, ...content }, handlers);
  }

  private request(channel: "shell" | "control", msgType: string, content: unknown, handlers: ExecuteHandlers): Execution {
    const msg = this.factory.make(msgType, content);
    const msgId = msg.header.msg_id;
    const done = new Promise<void>((resolve) => {
      // Control requests (interrupt, shutdown) are done at their reply.
      this.pending.set(msgId, { handlers, replied: false, idle: channel === "control", done: resolve });
    });
    this.senders[channel].send(msg.frames()).catch((err: Error) => this.note(`cannot send ${msgType}: ${err.message}`));
    return { msgId, done, dispose: () => void this.pending.delete(msgId) };
  }

  openComm(target: string, handlers: CommHandlers): CommEnd {
    const commId = randomUUID();
    this.comms.set(commId, handlers);
    // Comm messages go on the shell channel, so the kernel handles them in order with execute requests.
    this.send("comm_open", { comm_id: commId, target_name: target, data: {} });
    return {
      send: (data) => this.send("comm_msg", { comm_id: commId, data }),
      close: () => {
        if (this.comms.delete(commId)) this.send("comm_close", { comm_id: commId, data: {} });
      },
    };
  }

  /** A shell message without a reply to wait for (comm traffic). */
  private send(msgType: string, content: unknown): void {
    if (this.shuttingDown) return;
    this.senders.shell.send(this.factory.make(msgType, content).frames()).catch((err: Error) => this.note(`cannot send ${msgType}: ${err.message}`));
  }

  async interrupt(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (this.options.spec.interruptMode === "message") {
      const asked = this.request("control", "interrupt_request", {}, {});
      await Promise.race([asked.done, sleep(5000), this.died.catch(() => {})]);
      asked.dispose();
      return;
    }
    signalGroup(child, "SIGINT");
  }

  shutdown(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.shuttingDown = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const asked = this.request("control", "shutdown_request", { restart: false }, {});
      if (!(await settlesWithin(this.exited, SHUTDOWN_GRACE_MS))) {
        signalGroup(child, "SIGTERM");
        if (!(await settlesWithin(this.exited, 2000))) {
          signalGroup(child, "SIGKILL");
          await settlesWithin(this.exited, 5000);
        }
      }
      asked.dispose();
    }
    for (const socket of [this.shell, this.control, this.iopub]) socket.close();
    await killProcessesMarkedWith("NBREWIND_RUN_ID", this.runId);
    // Whatever still holds the kernel's stdout must not keep this process alive.
    child?.stdout?.destroy();
    child?.stderr?.destroy();
    if (this.runtimeDir) rmSync(this.runtimeDir, { recursive: true, force: true });
  }

  private parse(frames: Buffer[]): JupyterMessage | undefined {
    const wire = WireMessage.fromFrames(frames);
    if (!this.signer.verify(wire)) {
      this.note(`dropped a kernel message with an invalid signature (${wire.msgType})`);
      return undefined;
    }
    return { header: wire.header, parent_header: wire.parentHeader, metadata: wire.metadata, content: wire.content };
  }

  private onReply(frames: Buffer[]): void {
    const msg = this.parse(frames);
    const id = msg?.parent_header.msg_id;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!msg || !pending) return;
    pending.handlers.onReply?.(msg);
    pending.replied = true;
    this.settle(id!, pending);
  }

  private onIopub(frames: Buffer[]): void {
    const msg = this.parse(frames);
    if (!msg) return;
    const type = msg.header.msg_type;
    if (type === "comm_msg" || type === "comm_close") {
      const commId = String(msg.content.comm_id ?? "");
      const comm = this.comms.get(commId);
      if (comm && type === "comm_msg") return comm.onMsg((msg.content.data ?? {}) as Record<string, unknown>);
      if (comm) {
        this.comms.delete(commId);
        return comm.onClose();
      }
    }
    const id = msg.parent_header.msg_id;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending) return;
    pending.handlers.onIopub?.(msg);
    if (type === "status" && msg.content.execution_state === "idle") {
      pending.idle = true;
      this.settle(id!, pending);
    }
  }

  private settle(id: string, pending: Pending): void {
    if (!pending.replied || !pending.idle) return;
    this.pending.delete(id);
    pending.done();
  }

  private note(line: string): void {
    this.logTail.push(`[nbrewind] ${line}`);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
  }
}

/** Signal the kernel's process group (it leads one), or the kernel alone if that fails. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
