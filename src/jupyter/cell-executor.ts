import { InfrastructureError } from "../common/errors.js";
import type { KernelClient } from "./kernel-client.js";
import { CellOutputs, type CellOutput, type DisplayRegistry } from "./output-collector.js";

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

export async function executeCell(kernel: KernelClient, code: string, options: ExecuteCellOptions): Promise<CellRun> {
  const collector = new CellOutputs(options.registry);
  const timing: Record<string, string> = {};
  const started = performance.now();
  let reply: Record<string, unknown> | undefined;

  const execution = kernel.execute(
    { code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true },
    {
      onIopub(msg) {
        const type = msg.header.msg_type;
        if (type === "status") {
          const state = msg.content.execution_state;
          if (state === "busy" || state === "idle") timing[`iopub.status.${state}`] = msg.header.date;
        } else if (type === "execute_input") {
          timing["iopub.execute_input"] = msg.header.date;
        }
        if (collector.handle(msg)) options.onOutput?.(collector.outputs.length);
      },
      onReply(msg) {
        reply = msg.content;
        timing["shell.execute_reply"] = msg.header.date;
      },
    },
  );

  const done = execution.done.then(() => "done" as const);
  const died = kernel.died.catch(() => "died" as const);
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
    await kernel.interrupt().catch(() => {});
    const graceMs = options.interruptGraceMs ?? 10_000;
    const grace = new Promise<"unresponsive">((r) => setTimeout(() => r("unresponsive"), graceMs).unref());
    const afterInterrupt = await Promise.race([done, died, grace]);
    if (afterInterrupt === "unresponsive") {
      execution.dispose();
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
  execution.dispose();

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
