import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InfrastructureError } from "../common/errors.js";
import { freePort } from "./connection-file.js";
import { launchEnv } from "./launch-env.js";
import { killProcessesMarkedWith, settlesWithin } from "./process-sweep.js";
import { createRuntimeDir } from "./runtime-dirs.js";
import type { ServerEndpoint } from "./server-endpoint.js";

export interface EmbeddedServerOptions {
  /** Interpreter of the managed env; the server and its kernels run on it. */
  python: string;
  /** The server's root: kernels start here, so relative paths in notebooks work. */
  rootDir: string;
  /** Extra environment for the server and, through it, every kernel. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Called once the server process is spawned, before waiting for it to answer (see RuntimeOptions.whileStarting). */
  onSpawned?: () => void;
}

const LOG_TAIL_LINES = 40;

/**
 * A Jupyter Server we start, own and always stop: 127.0.0.1, a free port, a
 * random token. Every process it spawns (kernels, their engine workers)
 * inherits a run marker in its environment, so stop() can find and end any
 * that survived the server's own shutdown.
 */
export class EmbeddedServer {
  readonly runId = randomUUID();
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly logTail: string[] = [];
  private runtimeDir: string | undefined;
  private stopping: Promise<void> | undefined;
  endpoint: ServerEndpoint | undefined;

  constructor(private readonly options: EmbeddedServerOptions) {}

  /** The last lines the server wrote, for error reports. */
  recentLog(): string[] {
    return [...this.logTail];
  }

  async start(): Promise<ServerEndpoint> {
    // A port can be taken between our probe and the server's bind: retry on a fresh one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce(await freePort());
      } catch (err) {
        await this.stop();
        const portTaken = this.logTail.some((l) => /Address already in use|port .* is already in use/i.test(l));
        if (!portTaken || attempt >= 3) throw err;
        this.stopping = undefined;
      }
    }
  }

  private async startOnce(port: number): Promise<ServerEndpoint> {
    const token = randomBytes(24).toString("hex");
    this.runtimeDir = createRuntimeDir();
    // The token goes through a file only we can read (the folder is 0700 too), never the command line: any local user sees that in ps.
    const tokenFile = join(this.runtimeDir, "token");
    writeFileSync(tokenFile, token, { mode: 0o600, flag: "wx" });
    const env: NodeJS.ProcessEnv = { ...launchEnv({ python: this.options.python, env: this.options.env, runId: this.runId, runtimeDir: this.runtimeDir }), JUPYTER_TOKEN_FILE: tokenFile };
    // The server prefers JUPYTER_TOKEN to the file: a value the user exported for another server must not decide ours.
    delete env.JUPYTER_TOKEN;
    const args = [
      "-m",
      "nbrewind.jupyter_server_launcher",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      "--ServerApp.open_browser=False",
      `--ServerApp.root_dir=${this.options.rootDir}`,
      "--ServerApp.allow_remote_access=False",
      "--ServerApp.disable_check_xsrf=False",
      // Our kernels must not be culled or restarted behind our back mid-run.
      "--MappingKernelManager.cull_idle_timeout=0",
      // A notebook runner has no use for terminals; fewer extensions start faster.
      "--ServerApp.terminals_enabled=False",
      // The IOPub rate limiter protects a browser from a flood by replacing output with a notice;
      // we record output, so every byte must arrive (output-collector.ts fails a cell if a notice ever does).
      "--ZMQChannelsWebsocketConnection.limit_rate=False",
    ];
    // Containers and CI commonly run as root; the server refuses that unless told.
    if (process.getuid?.() === 0) args.push("--ServerApp.allow_root=True");
    const child = spawn(this.options.python, args, { env, stdio: ["ignore", "pipe", "pipe"], cwd: this.options.rootDir });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const record = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (!line.trim()) continue;
        this.logTail.push(line.replace(token, "<token>"));
        if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
      }
    };
    child.stdout!.on("data", record);
    child.stderr!.on("data", record);
    const spawnError = new Promise<never>((_, reject) =>
      child.once("error", (err) => reject(new InfrastructureError(`cannot start the Jupyter server with ${this.options.python}: ${err.message}`))),
    );

    if (this.options.onSpawned) setImmediate(this.options.onSpawned);
    const baseUrl = `http://127.0.0.1:${port}/`;
    const endpoint: ServerEndpoint = { baseUrl, token, embedded: true };
    await Promise.race([this.waitUntilAnswering(endpoint), spawnError]);
    this.endpoint = endpoint;
    return endpoint;
  }

  private async waitUntilAnswering(endpoint: ServerEndpoint): Promise<void> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    let exitedEarly = false;
    void this.exited.then(() => (exitedEarly = true));
    while (Date.now() < deadline) {
      if (exitedEarly) {
        throw new InfrastructureError("the Jupyter server exited while starting", this.recentLog());
      }
      try {
        const res = await fetch(new URL("api/status", endpoint.baseUrl), {
          headers: { Authorization: `token ${endpoint.token}` },
          signal: AbortSignal.timeout(2000),
        });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new InfrastructureError(`the Jupyter server did not answer within ${Math.round((this.options.startTimeoutMs ?? 60_000) / 1000)} s`, this.recentLog());
  }

  /**
   * Stop the server and everything it started. Idempotent and safe to call
   * from signal handlers: a polite REST shutdown (kernels first), then SIGTERM,
   * then SIGKILL, then a sweep for any process that still carries our marker.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (this.endpoint) {
        try {
          await fetch(new URL("api/shutdown", this.endpoint.baseUrl), {
            method: "POST",
            headers: { Authorization: `token ${this.endpoint.token}` },
            signal: AbortSignal.timeout(3000),
          });
        } catch {
          // fall through to signals
        }
      }
      if (!(await settlesWithin(this.exited, 8000))) {
        child.kill("SIGTERM");
        if (!(await settlesWithin(this.exited, 5000))) {
          child.kill("SIGKILL");
          await settlesWithin(this.exited, 5000);
        }
      }
    }
    await killProcessesMarkedWith("NBREWIND_RUN_ID", this.runId);
    if (this.runtimeDir) rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}
