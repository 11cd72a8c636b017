import { ExitCode } from "../common/errors.js";

/**
 * When the server auto-restarts a kernel that died, @jupyterlab/services
 * reconnects from a fire-and-forget promise of its own; disposing the
 * connection at shutdown then rejects that promise with nobody to catch it,
 * and Node would end the process with exit code 1 — as if a cell had failed —
 * before our cleanup finishes. We own the connection's lifetime, so these
 * rejections carry no news. Anything else unhandled is our bug: report it as
 * an internal error (exit 3) instead of Node's bare stack.
 */
const EXPECTED_AFTER_DISPOSE = [/^Kernel connection disconnected$/, /^Canceled future for /, /^Kernel (?:connection )?(?:is )?disposed/i];

export function guardLibraryRejections(stderr: NodeJS.WritableStream): void {
  process.on("unhandledRejection", (reason) => {
    const message = reason instanceof Error ? reason.message : String(reason);
    if (EXPECTED_AFTER_DISPOSE.some((re) => re.test(message))) {
      if (process.env.NBREWIND_DEBUG) stderr.write(`[debug] ignored after dispose: ${message}\n`);
      return;
    }
    stderr.write(`nbrewind-engine: internal error (unhandled rejection): ${reason instanceof Error ? (reason.stack ?? message) : message}\n`);
    process.exitCode = ExitCode.infrastructure;
  });
}
