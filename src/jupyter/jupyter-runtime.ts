import { InfrastructureError, InputError } from "../common/errors.js";
import { timings } from "../common/phase-timings.js";
import { EmbeddedServer } from "./embedded-server.js";
import { chooseKernelSpec, KernelSession, listKernelSpecs } from "./kernel-session.js";
import { normaliseServerUrl, type ServerEndpoint } from "./server-endpoint.js";

export interface RuntimeOptions {
  /** Connect to this server instead of starting one. */
  serverUrl?: string;
  token?: string;
  /** Interpreter of the managed env, for the embedded server. */
  python: string;
  /** Working directory of the kernel (embedded server's root). */
  rootDir: string;
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
 * A running kernel and the server it lives on, opened and closed as one:
 * close() leaves no kernel we started and, for the embedded server, no
 * process at all.
 */
export class JupyterRuntime {
  private constructor(
    readonly endpoint: ServerEndpoint,
    readonly session: KernelSession,
    readonly kernelName: string,
    private readonly server: EmbeddedServer | undefined,
  ) {}

  static async open(options: RuntimeOptions): Promise<JupyterRuntime> {
    const opened = performance.now();
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
      return new JupyterRuntime(endpoint, session, choice.name, server);
    } catch (err) {
      await session.shutdown();
      await server?.stop();
      if (err instanceof InfrastructureError && server) throw new InfrastructureError(err.message, [...err.details, ...server.recentLog()]);
      throw err;
    }
  }

  /** The last lines of the embedded server's log (empty for a server we did not start). */
  serverLog(): string[] {
    return this.server?.recentLog() ?? [];
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
