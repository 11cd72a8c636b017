import { CommsOverSubshells, KernelManager, KernelSpecAPI, ServerConnection, type Kernel } from "@jupyterlab/services";
import WebSocket from "ws";
import { InfrastructureError, InputError } from "../common/errors.js";
import { KernelDiedError } from "./kernel-died.js";
import type { ServerEndpoint } from "./server-endpoint.js";

export { KernelDiedError };

export interface KernelSpecSummary {
  name: string;
  displayName: string;
  language: string;
}

export function serverSettings(endpoint: ServerEndpoint): ServerConnection.ISettings {
  const wsUrl = endpoint.baseUrl.replace(/^http/, "ws");
  return ServerConnection.makeSettings({
    baseUrl: endpoint.baseUrl,
    wsUrl,
    token: endpoint.token,
    // Node has no browser cookies: the token must travel in the websocket URL.
    appendToken: true,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    fetch: (input, init) => fetch(input, init),
    Request,
    Headers,
  });
}

export async function listKernelSpecs(endpoint: ServerEndpoint): Promise<{ default: string; specs: KernelSpecSummary[] }> {
  let model: Awaited<ReturnType<typeof KernelSpecAPI.getSpecs>>;
  try {
    model = await KernelSpecAPI.getSpecs(serverSettings(endpoint));
  } catch (err) {
    throw new InfrastructureError(`cannot list kernelspecs from ${endpoint.baseUrl}: ${describe(err)}`);
  }
  const specs = Object.values(model.kernelspecs)
    .filter((s): s is NonNullable<typeof s> => Boolean(s))
    .map((s) => ({ name: s.name, displayName: s.display_name, language: s.language }));
  return { default: model.default, specs };
}

/**
 * Which kernelspec to start: an explicit --kernel must exist; otherwise the
 * notebook's own kernelspec when the server has it, else python3.
 */
export function chooseKernelSpec(
  available: KernelSpecSummary[],
  explicit: string | undefined,
  fromNotebook: string | undefined,
): { name: string; note?: string } {
  const names = available.map((s) => s.name);
  if (explicit) {
    if (!names.includes(explicit)) {
      throw new InputError(`kernel '${explicit}' is not available on this server`, [`available kernelspecs: ${names.join(", ") || "(none)"}`]);
    }
    return { name: explicit };
  }
  if (fromNotebook && names.includes(fromNotebook)) return { name: fromNotebook };
  const fallback = names.includes("python3") ? "python3" : names[0];
  if (!fallback) throw new InfrastructureError("the Jupyter server offers no kernelspec at all");
  const note = fromNotebook ? `the notebook's kernel '${fromNotebook}' is not available here; using '${fallback}'` : undefined;
  return note ? { name: fallback, note } : { name: fallback };
}

/**
 * One kernel on one server, started by us and shut down by us. `died` rejects
 * as soon as the server reports the kernel dead or restarting on its own
 * (a kernel that os._exit()s is auto-restarted by the server: its state is gone).
 */
export class KernelSession {
  private manager: KernelManager | undefined;
  kernel: Kernel.IKernelConnection | undefined;
  readonly died: Promise<never>;
  private rejectDied!: (err: Error) => void;
  private shuttingDown = false;

  constructor(private readonly endpoint: ServerEndpoint) {
    this.died = new Promise<never>((_, reject) => (this.rejectDied = reject));
    this.died.catch(() => {}); // observed by whoever races it
  }

  async start(kernelName: string, startTimeoutMs = 60_000): Promise<Kernel.IKernelConnection> {
    this.manager = new KernelManager({ serverSettings: serverSettings(this.endpoint) });
    try {
      await this.manager.ready;
      // Comms must be handled on the main shell, in order with execute requests:
      // the shim's checkpoint after a cell must see the finished cell, which a
      // comm on a kernel subshell (the library's default with ipykernel 7) does not.
      this.kernel = await this.manager.startNew({ name: kernelName }, { handleComms: true, commsOverSubshells: CommsOverSubshells.Disabled });
    } catch (err) {
      throw new InfrastructureError(`cannot start kernel '${kernelName}' on ${this.endpoint.baseUrl}: ${describe(err)}`);
    }
    const kernel = this.kernel;
    kernel.statusChanged.connect((_, status) => {
      if (this.shuttingDown) return;
      if (status === "dead" || status === "autorestarting" || status === "restarting") {
        this.rejectDied(new KernelDiedError(`the kernel died (status '${status}')`));
      }
    });
    await this.waitForIdle(kernel, startTimeoutMs);
    return kernel;
  }

  private async waitForIdle(kernel: Kernel.IKernelConnection, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InfrastructureError(`the kernel did not become ready within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      // The connection sends kernel_info itself once its websocket is open; the
      // reply proves the shell and iopub channels are both live.
      await Promise.race([kernel.info, timeout, this.died]);
    } finally {
      clearTimeout(timer);
    }
  }

  async interrupt(): Promise<void> {
    await this.kernel?.interrupt();
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const kernel = this.kernel;
    this.kernel = undefined;
    try {
      if (kernel && !kernel.isDisposed) await kernel.shutdown();
    } catch {
      // the server may already be gone; the embedded server's stop() sweeps what is left
    } finally {
      kernel?.dispose();
      this.manager?.dispose();
    }
  }
}

export function describe(err: unknown): string {
  if (err instanceof ServerConnection.ResponseError) return `${err.response.status} ${err.message}`;
  if (err instanceof ServerConnection.NetworkError) return `network error: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
