/**
 * What the cell executor, the output collector and the shim client need of a
 * running kernel, and nothing more: execute a request and hear its messages,
 * open a comm, interrupt, shut down, learn that the kernel died. Two
 * transports implement it: a kernel launched by us and spoken to over ZeroMQ
 * (direct-kernel.ts, the default), and a kernel on a Jupyter server through
 * its websocket (kernel-session.ts, for --server-url and the embedded server).
 */

/** A Jupyter message as we read it: the protocol's four JSON parts. */
export interface JupyterMessage {
  header: { msg_id: string; msg_type: string; date: string; [key: string]: unknown };
  parent_header: { msg_id?: string; [key: string]: unknown };
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** The content of an execute_request (messaging protocol 5.x). */
export interface ExecuteRequestContent {
  code: string;
  silent: boolean;
  store_history: boolean;
  allow_stdin: boolean;
  stop_on_error: boolean;
  user_expressions?: Record<string, string>;
}

export interface ExecuteHandlers {
  /** Every IOPub message the request caused, update_display_data included, in the kernel's order. */
  onIopub?(msg: JupyterMessage): void;
  onReply?(msg: JupyterMessage): void;
}

/** One execute request in flight. */
export interface Execution {
  readonly msgId: string;
  /**
   * Resolves once both the reply and the kernel's idle status for the request
   * arrived. It never settles when the kernel dies first: race it with `died`.
   */
  readonly done: Promise<void>;
  /** Stop delivering this request's messages to its handlers. */
  dispose(): void;
}

/** Our end of a comm: JSON payloads out and in. */
export interface CommEnd {
  send(data: Record<string, unknown>): void;
  close(): void;
}

export interface CommHandlers {
  onMsg(data: Record<string, unknown>): void;
  /** The kernel closed the comm (or never knew its target). */
  onClose(): void;
}

export interface KernelClient {
  /** Rejects (with KernelDiedError) when the kernel dies or is restarted behind our back; never resolves. */
  readonly died: Promise<never>;
  execute(content: ExecuteRequestContent, handlers: ExecuteHandlers): Execution;
  /**
   * Open a comm from our side. Its messages are handled on the kernel's main
   * shell, in order with execute requests: the shim's checkpoint after a cell
   * must see the finished cell.
   */
  openComm(target: string, handlers: CommHandlers): CommEnd;
  /** Interrupt the running cell, the way the kernelspec asks (signal or message). */
  interrupt(): Promise<void>;
  /** Ask the kernel to shut down, and make sure it is gone; idempotent. */
  shutdown(): Promise<void>;
}
