import type { KernelMessage } from "@jupyterlab/services";
import { InfrastructureError } from "../common/errors.js";
import { CellOutputs, type CellOutput, type DisplayRegistry } from "./output-collector.js";
import type { KernelSession } from "./kernel-session.js";

export type CellStatus = "ok" | "error" | "timeout" | "interrupted" | "kernel-died";

/** What one execute request produced, with nbclient-style timing marks. */
export interface CellRun {
  status: CellStatus;
  executionCount: number | null;
  outputs: CellOutput[];
  durationMs: number;
  /** Kernel-side timestamps, under the keys nbclient writes to cell.metadata.execution. */
  timing: Record<string, string>;
  error?: { ename: string; evalue: string };
}

export interface ExecuteCellOptions {
  registry: DisplayRegistry;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called whenever the visible outputs change, with their count. */
  onOutput?: (count: number) => void;
  /** How long an interrupted kernel gets to answer before we call it unresponsive. */
  interruptGraceMs?: number;
}

export async function executeCell(session: KernelSession, code: string, options: ExecuteCellOptions): Promise<CellRun> {
  const kernel = session.kernel;
  if (!kernel) throw new InfrastructureError("no kernel to execute on");
  const collector = new CellOutputs(options.registry);
  const timing: Record<string, string> = {};
  const started = performance.now();
  let reply: KernelMessage.IExecuteReplyMsg["content"] | undefined;

  const future = kernel.requestExecute({ code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true }, false);
  const handle = (msg: KernelMessage.IIOPubMessage) => {
    if (collector.handle(msg)) options.onOutput?.(collector.outputs.length);
  };
  // @jupyterlab/services routes update_display_data to the future that first
  // showed that display (possibly an earlier cell's, long disposed); we take
  // them from the kernel-wide stream, by our own request's id.
  const onAnyIOPub = (_: unknown, msg: KernelMessage.IIOPubMessage) => {
    if (msg.header.msg_type === "update_display_data" && msg.parent_header && "msg_id" in msg.parent_header && msg.parent_header.msg_id === future.msg.header.msg_id) handle(msg);
  };
  kernel.iopubMessage.connect(onAnyIOPub);
  future.onIOPub = (msg) => {
    const type = msg.header.msg_type;
    if (type === "update_display_data") return;
    if (type === "status") {
      const state = (msg.content as { execution_state?: string }).execution_state;
      if (state === "busy" || state === "idle") timing[`iopub.status.${state}`] = msg.header.date;
    } else if (type === "execute_input") {
      timing["iopub.execute_input"] = msg.header.date;
    }
    handle(msg);
  };
  future.onReply = (msg) => {
    reply = msg.content;
    timing["shell.execute_reply"] = msg.header.date;
  };

  const done = future.done.then(() => "done" as const);
  const died = session.died.catch(() => "died" as const);
  // One listener and one timer per cell, both removed when the cell ends:
  // a long notebook must not pile them up on the run's AbortSignal.
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<"timeout" | "interrupted">((resolve) => {
    if (options.timeoutMs) timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
    if (options.signal?.aborted) resolve("interrupted");
    onAbort = () => resolve("interrupted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  const cleanup = () => {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  };

  const outcome = await Promise.race([done, died, stopped]).finally(cleanup);
  let status: CellStatus;
  if (outcome === "timeout" || outcome === "interrupted") {
    await session.interrupt().catch(() => {});
    const graceMs = options.interruptGraceMs ?? 10_000;
    const grace = new Promise<"unresponsive">((r) => setTimeout(() => r("unresponsive"), graceMs).unref());
    const afterInterrupt = await Promise.race([done, died, grace]);
    if (afterInterrupt === "unresponsive") {
      future.dispose();
      kernel.iopubMessage.disconnect(onAnyIOPub);
      throw new InfrastructureError(`the kernel did not respond to an interrupt within ${graceMs / 1000} s`);
    }
    status = afterInterrupt === "died" ? "kernel-died" : outcome;
    if (status === "timeout") {
      collector.removeErrors("KeyboardInterrupt");
      const seconds = (options.timeoutMs ?? 0) / 1000;
      collector.addError("CellTimeoutError", `Cell execution timed out after ${seconds} s (--cell-timeout); the kernel was interrupted.`);
    }
  } else if (outcome === "died") {
    status = "kernel-died";
  } else {
    // Output the server dropped makes the cell's result incomplete: a failure, never a record.
    status = reply?.status === "ok" && !collector.dropped ? "ok" : "error";
    if (status === "error" && !collector.outputs.some((o) => o.output_type === "error")) {
      // An aborted or failed reply without an error message on IOPub: still show why.
      const c = reply as { ename?: string; evalue?: string; traceback?: string[] } | undefined;
      collector.addError(c?.ename ?? "ExecutionAborted", c?.evalue ?? `execution ${reply?.status ?? "failed"}`, c?.traceback);
    }
  }
  future.dispose();
  kernel.iopubMessage.disconnect(onAnyIOPub);

  const errorOut = collector.outputs.find((o) => o.output_type === "error");
  const run: CellRun = {
    status,
    executionCount: typeof reply?.execution_count === "number" ? reply.execution_count : null,
    outputs: collector.outputs,
    durationMs: performance.now() - started,
    timing,
  };
  if (status === "kernel-died") run.error = { ename: "DeadKernelError", evalue: "the kernel died while executing this cell" };
  else if (errorOut?.output_type === "error") run.error = { ename: errorOut.ename, evalue: errorOut.evalue };
  return run;
}
