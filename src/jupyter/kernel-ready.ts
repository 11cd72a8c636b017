/**
 * When a kernel just launched over ZeroMQ can be used: a subscription takes a
 * moment to reach the kernel, and IOPub messages sent before it are lost, so
 * kernel_info is asked until one answer's IOPub status arrives too. Shared by the
 * CLI's direct kernel and the NBRewind kernel's inner one.
 */

export interface KernelInfoAttempt {
  /** Settles when the kernel_info reply (and its idle) arrived. */
  done: Promise<unknown>;
  dispose?: () => void;
}

/**
 * `ask(onIopub)` sends one kernel_info_request whose IOPub messages call `onIopub`;
 * `ended` settles (either way) when the kernel process is gone.
 */
export async function untilKernelReady(ask: (onIopub: () => void) => KernelInfoAttempt, ended: Promise<unknown>, timeoutMs: number): Promise<"ready" | "gone" | "timeout"> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  const settledEnd = ended.then(
    () => (gone = true),
    () => (gone = true),
  );
  while (!gone && Date.now() < deadline) {
    let heard = false;
    const attempt = ask(() => (heard = true));
    const answered = await Promise.race([attempt.done.then(() => true), sleep(500).then(() => false), settledEnd.then(() => false)]);
    attempt.dispose?.();
    if (answered && heard) return "ready";
    if (answered) await sleep(50);
  }
  return gone ? "gone" : "timeout";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
