import { afterEach, describe, expect, it, vi } from "vitest";
import { attemptWaitMs, untilKernelReady } from "../../../src/jupyter/kernel-ready.js";

/**
 * A kernel just launched: the first kernel_info's idle status is often
 * published before our IOPub subscription reaches the kernel, so that attempt
 * never completes. The next one must follow soon, not after half a second.
 */
describe("waiting for a kernel to be ready", () => {
  afterEach(() => vi.useRealTimers());

  it("asks again 100 ms after an attempt that never completes while the kernel starts, and every 500 ms after 3 s", () => {
    expect(attemptWaitMs(0)).toBe(100);
    expect(attemptWaitMs(2999)).toBe(100);
    expect(attemptWaitMs(3000)).toBe(500);
  });

  it("is ready at the second attempt when the first one's idle was lost, a tenth of a second after the first", async () => {
    vi.useFakeTimers();
    const sentAt: number[] = [];
    const start = Date.now();
    const never = new Promise<unknown>(() => {});
    const ask = (onIopub: () => void) => {
      sentAt.push(Date.now() - start);
      if (sentAt.length === 1) return { done: never }; // the reply came, its idle never did
      onIopub();
      return { done: Promise.resolve() };
    };
    const ready = untilKernelReady(ask, never, 60_000);
    await vi.advanceTimersByTimeAsync(150);
    await expect(ready).resolves.toBe("ready");
    expect(sentAt).toEqual([0, 100]);
  });

  it("says the kernel is gone when its process ends, and times out on a kernel that never answers", async () => {
    vi.useFakeTimers();
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const silent = () => ({ done: new Promise<unknown>(() => {}) });
    const gone = untilKernelReady(silent, ended, 60_000);
    end();
    await vi.advanceTimersByTimeAsync(10);
    await expect(gone).resolves.toBe("gone");
    const timeout = untilKernelReady(silent, new Promise(() => {}), 5_000);
    await vi.advanceTimersByTimeAsync(6_000);
    await expect(timeout).resolves.toBe("timeout");
  });
});
