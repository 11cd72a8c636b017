import { CommsOverSubshells, KernelManager, KernelSpecAPI, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import WebSocket from "ws";
import { InfrastructureError } from "../common/errors.js";
import type { CommEnd, CommHandlers, ExecuteHandlers, ExecuteRequestContent, Execution, JupyterMessage, KernelClient } from "./kernel-client.js";
import { KernelDiedError } from "./kernel-died.js";
import { chooseKernelSpec, type KernelSpecSummary } from "./kernelspec-choice.js";
import type { ServerEndpoint } from "./server-endpoint.js";

export { chooseKernelSpec, KernelDiedError, type KernelSpecSummary };

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
 * One kernel on one server, started by us and shut down by us, through
 * @jupyterlab/services. `died` rejects as soon as the server reports the
 * kernel dead or restarting on its own (a kernel that os._exit()s is
 * auto-restarted by the server: its state is gone).
 */
export class KernelSession implements KernelClient {
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

  execute(content: ExecuteRequestContent, handlers: ExecuteHandlers): Execution {
    const kernel = this.connection();
    const future = kernel.requestExecute(content, false);
    const msgId = future.msg.header.msg_id;
    // @jupyterlab/services routes update_display_data to the future that first
    // showed that display (possibly an earlier cell's, long disposed); we take
    // them from the kernel-wide stream, by our own request's id.
    const onAnyIOPub = (_: unknown, msg: KernelMessage.IIOPubMessage) => {
      if (msg.header.msg_type === "update_display_data" && msg.parent_header && "msg_id" in msg.parent_header && msg.parent_header.msg_id === msgId) handlers.onIopub?.(asMessage(msg));
    };
    kernel.iopubMessage.connect(onAnyIOPub);
    future.onIOPub = (msg) => {
      if (msg.header.msg_type !== "update_display_data") handlers.onIopub?.(asMessage(msg));
    };
    future.onReply = (msg) => handlers.onReply?.(asMessage(msg));
    return {
      msgId,
      done: future.done.then(() => undefined),
      dispose() {
        future.dispose();
        kernel.iopubMessage.disconnect(onAnyIOPub);
      },
    };
  }

  openComm(target: string, handlers: CommHandlers): CommEnd {
    const kernel = this.connection();
    // @jupyterlab/services 7.6 sends comm messages over a kernel subshell by
    // default: ipykernel then handles them in another thread *while a cell runs*
    // (measured: post_cell saw a half-run cell). Our requests must be handled on
    // the main shell, in order with execute requests, so snapshots and pickling
    // never race user code. Set before createComm: a comm takes the mode when built.
    // (This applies to every comm of this connection; nbrewind wants that for all.)
    if (kernel.commsOverSubshells !== CommsOverSubshells.Disabled) kernel.commsOverSubshells = CommsOverSubshells.Disabled;
    const comm = kernel.createComm(target);
    comm.onMsg = (msg) => handlers.onMsg(msg.content.data as Record<string, unknown>);
    comm.onClose = () => handlers.onClose();
    comm.open({}).done.catch(() => {});
    return {
      // The comm's future only tracks the kernel going idle; the answer comes as a comm message.
      send: (data) => void comm.send(data as unknown as CommData).done.catch(() => {}),
      close() {
        if (comm.isDisposed) return;
        try {
          comm.close().done.catch(() => {});
        } catch {
          // the kernel is already gone
        }
      },
    };
  }

  async interrupt(): Promise<void> {
    await this.kernel?.interrupt();
  }

  private connection(): Kernel.IKernelConnection {
    if (!this.kernel) throw new InfrastructureError("no kernel to talk to: it was not started, or is shut down");
    return this.kernel;
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

type CommData = Parameters<Kernel.IComm["send"]>[0];

/** The library's typed messages, as our structural JupyterMessage (the same four JSON parts). */
function asMessage(msg: KernelMessage.IMessage): JupyterMessage {
  return msg as unknown as JupyterMessage;
}

export function describe(err: unknown): string {
  if (err instanceof ServerConnection.ResponseError) return `${err.response.status} ${err.message}`;
  if (err instanceof ServerConnection.NetworkError) return `network error: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
