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
 * How long one attempt waits for its reply and idle before the next is sent.
 * While a kernel starts (most start within ~0.5 s) a lost first answer must
 * cost little: its idle status is published before our subscription has
 * reached the kernel, so that attempt never completes. A 500 ms wait put every
 * kernel start on a 0.5 s step (measured: 0.517 s for a kernel ready at ~0.35
 * s). Later, a slow kernel is not flooded with requests it answers all at once.
 */
export function attemptWaitMs(sinceStartMs: number): number {
  return sinceStartMs < 3000 ? 100 : 500;
}

/**
 * `ask(onIopub)` sends one kernel_info_request whose IOPub messages call `onIopub`;
 * `ended` settles (either way) when the kernel process is gone.
 */
export async function untilKernelReady(ask: (onIopub: () => void) => KernelInfoAttempt, ended: Promise<unknown>, timeoutMs: number): Promise<"ready" | "gone" | "timeout"> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let gone = false;
  const settledEnd = ended.then(
    () => (gone = true),
    () => (gone = true),
  );
  while (!gone && Date.now() < deadline) {
    let heard = false;
    const attempt = ask(() => (heard = true));
    const answered = await Promise.race([attempt.done.then(() => true), sleep(attemptWaitMs(Date.now() - started)).then(() => false), settledEnd.then(() => false)]);
    attempt.dispose?.();
    if (answered && heard) return "ready";
    if (answered) await sleep(50);
  }
  return gone ? "gone" : "timeout";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
