import { InfrastructureError, InputError } from "../common/errors.js";
import { timings } from "../common/phase-timings.js";
import { DirectKernel } from "./direct-kernel.js";
import { EmbeddedServer } from "./embedded-server.js";
import type { KernelClient } from "./kernel-client.js";
import { chooseKernelSpec } from "./kernelspec-choice.js";
import { findLocalKernelSpecs } from "./local-kernelspecs.js";
import { normaliseServerUrl, type ServerEndpoint } from "./server-endpoint.js";

/**
 * How a command reaches its kernel when no --server-url is given: "direct"
 * launches ipykernel and speaks ZeroMQ to it (the default: no server process
 * to start and stop); "server" starts an embedded Jupyter server and a kernel
 * on it, through its REST API and websocket, as before.
 */
export type KernelTransport = "direct" | "server";

export interface RuntimeOptions {
  /** Connect to this server instead of starting one. */
  serverUrl?: string;
  token?: string;
  /** Interpreter of the managed env, for the embedded server. */
  python: string;
  /** Working directory of the kernel (embedded server's root). */
  rootDir: string;
  /** Without serverUrl: launch the kernel directly (default) or through an embedded server. */
  transport?: KernelTransport;
  kernel?: string;
  notebookKernel?: string;
  env?: Record<string, string>;
  log?: (line: string) => void;
  /**
   * CPU work of the caller's to do while the server and kernel processes
   * start (on another core): called once they are spawned, not awaited.
   */
  whileStarting?: () => void;
}

/**
 * A running kernel, and the server it lives on when there is one, opened and
 * closed as one: close() leaves no kernel we started and, for a kernel we
 * launched or an embedded server, no process at all.
 */
export class JupyterRuntime {
  private constructor(
    /** The kernel, through the transport it was reached by. */
    readonly session: KernelClient,
    readonly kernelName: string,
    private readonly logTail: () => string[],
    private readonly server: EmbeddedServer | undefined,
  ) {}

  static async open(options: RuntimeOptions): Promise<JupyterRuntime> {
    if (!options.serverUrl && (options.transport ?? "direct") === "direct") return JupyterRuntime.openDirect(options);
    return JupyterRuntime.openOnServer(options);
  }

  /** Launch the kernel ourselves: its kernelspec from the managed env's Jupyter data path. */
  private static async openDirect(options: RuntimeOptions): Promise<JupyterRuntime> {
    const opened = performance.now();
    const specs = findLocalKernelSpecs(options.python, { ...process.env, ...options.env });
    const choice = chooseKernelSpec(specs, options.kernel, options.notebookKernel, "in the Jupyter data path (jupyter kernelspec list)");
    if (choice.note) options.log?.(choice.note);
    const spec = specs.find((s) => s.name === choice.name)!;
    if (spec.problem) throw new InputError(spec.problem);
    options.log?.(`starting kernel '${choice.name}'`);
    const kernel = await DirectKernel.start({
      python: options.python,
      spec,
      rootDir: options.rootDir,
      ...(options.env ? { env: options.env } : {}),
      ...(options.whileStarting ? { onSpawned: options.whileStarting } : {}),
    });
    timings.span("kernel start", performance.now() - opened);
    return new JupyterRuntime(kernel, choice.name, () => kernel.recentLog(), undefined);
  }

  /** An embedded server we start, or the one at --server-url, and a kernel on it. */
  private static async openOnServer(options: RuntimeOptions): Promise<JupyterRuntime> {
    const opened = performance.now();
    // The Jupyter client library loads only on this path.
    const { KernelSession, listKernelSpecs } = await import("./kernel-session.js");
    let server: EmbeddedServer | undefined;
    let endpoint: ServerEndpoint;
    if (options.serverUrl) {
      if (!options.token) throw new InputError("--server-url needs --token (or JUPYTER_TOKEN)");
      endpoint = { baseUrl: normaliseServerUrl(options.serverUrl), token: options.token, embedded: false };
      await checkReachable(endpoint);
    } else {
      server = new EmbeddedServer({ python: options.python, rootDir: options.rootDir, env: options.env ?? {}, ...(options.whileStarting ? { onSpawned: options.whileStarting } : {}) });
      options.log?.("starting an embedded Jupyter server");
      try {
        endpoint = await server.start();
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    const serverUp = performance.now();
    timings.span(server ? "server start" : "server check", serverUp - opened);
    const session = new KernelSession(endpoint);
    try {
      const { specs } = await listKernelSpecs(endpoint);
      const choice = chooseKernelSpec(specs, options.kernel, options.notebookKernel);
      if (choice.note) options.log?.(choice.note);
      options.log?.(`starting kernel '${choice.name}'`);
      const starting = session.start(choice.name);
      // A server we did not start has nothing of ours to wait for before this.
      if (!server && options.whileStarting) setTimeout(options.whileStarting, 10);
      await starting;
      timings.span("kernel start", performance.now() - serverUp);
      return new JupyterRuntime(session, choice.name, () => server?.recentLog() ?? [], server);
    } catch (err) {
      await session.shutdown();
      await server?.stop();
      if (err instanceof InfrastructureError && server) throw new InfrastructureError(err.message, [...err.details, ...server.recentLog()]);
      throw err;
    }
  }

  /** The last lines the kernel we launched or the embedded server wrote (empty for a server we did not start). */
  recentLog(): string[] {
    return this.logTail();
  }

  async close(): Promise<void> {
    await timings.timeSpan("shutdown: kernel", () => this.session.shutdown());
    if (this.server) await timings.timeSpan("shutdown: server", () => this.server!.stop());
  }
}


async function checkReachable(endpoint: ServerEndpoint): Promise<void> {
  let res: Response;
  try {
    res = await fetch(new URL("api/status", endpoint.baseUrl), {
      headers: { Authorization: `token ${endpoint.token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new InfrastructureError(`no Jupyter server answers at ${endpoint.baseUrl}: ${(err as Error).message}`);
  }
  if (res.status === 403 || res.status === 401) throw new InputError(`the Jupyter server at ${endpoint.baseUrl} rejected the token (HTTP ${res.status})`);
  if (!res.ok) throw new InfrastructureError(`the Jupyter server at ${endpoint.baseUrl} answered HTTP ${res.status} to /api/status`);
}
