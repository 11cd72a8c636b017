/**
 * The NBRewind kernel: binds the five channels of the connection file the
 * frontend gave it, runs a real ipykernel (with the nbrewind shim loaded)
 * behind a second, private connection, and forwards every message between
 * the two unchanged, except execute requests (execute-handler.ts) and the
 * shutdown, which closes the engines and the bundle's run first.
 */
import { Publisher, Reply, Router } from "zeromq";
import { shimLoaderCode, shimLoadFailure, type ShimChannel } from "../jupyter/shim-client.js";
import { endpoint, type ConnectionInfo } from "../jupyter/connection-file.js";
import { ExecuteHandler } from "./execute-handler.js";
import { InnerKernel } from "./inner-kernel.js";
import { Modes } from "./modes.js";
import { warmUp } from "./warm-up.js";
import { withoutSubshells } from "./kernel-info.js";
import { receiveLoop, SerialSender } from "../jupyter/zmq-sockets.js";
import { MessageFactory, Signer, WireMessage } from "../jupyter/wire.js";

export interface KernelOptions {
  python: string;
  kernelName: string;
  log: (line: string) => void;
}

export class NbrewindKernel {
  private readonly signer: Signer;
  private readonly factory: MessageFactory;
  private readonly shell = new Router({ linger: 0 });
  private readonly control = new Router({ linger: 0 });
  private readonly stdin = new Router({ linger: 0 });
  private readonly iopub = new Publisher({ linger: 0 });
  private readonly hb = new Reply({ linger: 0 });
  private readonly out: { shell: SerialSender; control: SerialSender; stdin: SerialSender; iopub: SerialSender };
  private readonly inner: InnerKernel;
  private readonly modes: Modes;
  private readonly executes: ExecuteHandler;
  private shuttingDown = false;
  /** Resolves with the process exit code once the kernel has stopped. */
  readonly stopped: Promise<number>;
  private resolveStopped!: (code: number) => void;

  constructor(
    private readonly connection: ConnectionInfo,
    private readonly options: KernelOptions,
  ) {
    this.signer = new Signer(connection.key, connection.signature_scheme);
    this.factory = new MessageFactory(this.signer);
    this.out = { shell: new SerialSender(this.shell), control: new SerialSender(this.control), stdin: new SerialSender(this.stdin), iopub: new SerialSender(this.iopub) };
    this.inner = new InnerKernel({ python: options.python, key: connection.key, signatureScheme: connection.signature_scheme, factory: this.factory, log: options.log });
    this.modes = new Modes({
      channel: this.shimChannel(),
      probeNotebookFile: () => this.probeNotebookFile(),
      kernelName: options.kernelName,
      env: process.env,
      cwd: process.cwd(),
    });
    this.executes = new ExecuteHandler(
      {
        factory: this.factory,
        signer: this.signer,
        inner: this.inner,
        publish: (msg) => void this.out.iopub.send(msg.frames()),
        reply: (msg) => void this.out.shell.send(msg.frames()),
        log: options.log,
      },
      this.modes,
    );
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  async start(): Promise<void> {
    const c = this.connection;
    await Promise.all([
      this.shell.bind(endpoint(c, "shell")),
      this.control.bind(endpoint(c, "control")),
      this.stdin.bind(endpoint(c, "stdin")),
      this.iopub.bind(endpoint(c, "iopub")),
      this.hb.bind(endpoint(c, "hb")),
    ]);
    // The heartbeat answers from the start: the frontend must not think us dead while ipykernel starts.
    void receiveLoop(this.hb, (frames) => this.hb.send(frames), () => {});
    setTimeout(() => void warmUp(this.options.log), 0);
    await this.inner.start({
      shell: (msg) => {
        if (!this.executes.takeShellReply(msg)) void this.out.shell.send(withoutSubshells(msg, this.signer).frames());
      },
      control: (msg) => void this.out.control.send(withoutSubshells(msg, this.signer).frames()),
      stdin: (msg) => void this.out.stdin.send(msg.frames()),
      iopub: (msg) => {
        if (!this.executes.takeIopub(msg)) void this.out.iopub.send(msg.frames());
      },
    });
    void this.inner.exited.then((code) => this.onInnerExit(code));
    // Loaded before any cell, so the engine adapters see the user's first import of Dask, Parsl or Ray.
    const loaded = await this.inner.runSilently(shimLoaderCode());
    if (loaded.status !== "ok") this.options.log(shimLoadFailure(loaded as { status?: string; ename?: string; evalue?: string }).message);
    const log = (err: unknown) => this.options.log(`frontend: ${(err as Error).message}`);
    void receiveLoop(this.shell, (f) => this.onShell(f), log);
    void receiveLoop(this.control, (f) => this.onControl(f), log);
    void receiveLoop(this.stdin, (f) => void this.inner.forward("stdin", WireMessage.fromFrames(f)), log);
  }

  private parse(frames: Buffer[]): WireMessage | undefined {
    const msg = WireMessage.fromFrames(frames);
    if (this.signer.verify(msg)) return msg;
    this.options.log(`dropped a message with an invalid signature (${msg.header.msg_type ?? "?"})`);
    return undefined;
  }

  private onShell(frames: Buffer[]): void {
    const msg = this.parse(frames);
    if (!msg) return;
    switch (msg.msgType) {
      case "execute_request":
        return this.executes.enqueue(msg);
      case "shutdown_request":
        return void this.shutdown(msg, "shell");
      default:
        void this.inner.forward("shell", msg);
    }
  }

  private onControl(frames: Buffer[]): void {
    const msg = this.parse(frames);
    if (!msg) return;
    if (msg.msgType === "shutdown_request") return void this.shutdown(msg, "control");
    if (msg.msgType === "interrupt_request") return this.executes.interrupt(() => void this.inner.forward("control", msg));
    // debug_request and the rest: ipykernel answers them itself.
    void this.inner.forward("control", msg);
  }

  /** A SIGINT to us (a frontend in signal interrupt mode) interrupts the inner kernel's cell. */
  interrupt(): void {
    this.executes.interrupt(() => this.inner.signal("SIGINT"));
  }

  /**
   * Close what the cells started and the bundle's run while the inner kernel
   * is still up, then let ipykernel answer the shutdown (a restart is the
   * frontend starting a new NBRewind kernel) and go.
   */
  private async shutdown(msg: WireMessage, channel: "shell" | "control"): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    try {
      await withTimeout(this.modes.close("ok"), 30_000);
    } catch (err) {
      this.options.log(`shutdown: ${(err as Error).message}`);
    }
    await this.inner.forward(channel, msg);
    await Promise.race([this.inner.exited, sleep(5000)]);
    await this.stop(0);
  }

  /** SIGTERM (a frontend that gave up on a polite shutdown): close the run in the bundle, then stop. */
  async terminate(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    await withTimeout(this.modes.close("interrupted"), 5000).catch(() => {});
    await this.stop(143);
  }

  private async onInnerExit(code: number | null): Promise<void> {
    if (this.shuttingDown) return;
    // The kernel the user's cells ran in is gone: so is everything they held. Say so and go; the
    // frontend restarts us (as it would a plain ipykernel) with a fresh history.
    this.options.log(`the inner ipykernel exited (code ${String(code)}); the NBRewind kernel stops too`);
    this.shuttingDown = true;
    await this.modes.close("kernel-died").catch(() => {});
    await this.stop(1);
  }

  async stop(code: number): Promise<void> {
    await this.inner.stop();
    // Let the last replies leave before the sockets close.
    await sleep(100);
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
    this.resolveStopped(code);
  }

  private shimChannel(): ShimChannel {
    const died = this.inner.exited.then<never>(() => {
      throw new Error("the inner ipykernel exited");
    });
    died.catch(() => {}); // observed by the shim client
    return {
      died,
      loadShim: async (code) => {
        const reply = await this.inner.runSilently(code);
        if (reply.status !== "ok") throw shimLoadFailure(reply as { status?: string; ename?: string; evalue?: string });
      },
      openComm: (target, handlers) => this.inner.openComm(target, handlers.onMsg, handlers.onClose),
    };
  }

  private async probeNotebookFile(): Promise<string | undefined> {
    const reply = await this.inner.runSilently("", { f: "globals().get('__vsc_ipynb_file__') or ''" });
    const repr = (reply.user_expressions as Record<string, { data?: Record<string, string> }> | undefined)?.f?.data?.["text/plain"];
    const value = repr?.replace(/^'(.*)'$/s, "$1");
    return value ? value : undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
