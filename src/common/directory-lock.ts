import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A lock folder with no pid inside after this long was left by a process that died between mkdir and writing its pid. */
const UNCLAIMED_STALE_MS = 10_000;
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;

/**
 * A cross-process lock made of a folder: mkdir is atomic. The holder then
 * renames its pid file into the folder (atomic too, so a waiter never reads a
 * half-written pid and mistakes a live holder for a dead one). A lock left by
 * a dead process is taken over rather than waited on forever: the waiter
 * renames the stale folder aside (only one waiter can win that rename) and
 * removes it.
 */
export interface LockWaitOptions {
  /** false: do not wait for a live holder; `busy` says what to throw instead. */
  wait?: boolean;
  busy?: (holderPid: number | undefined) => Error;
  /** The line shown once when a live holder makes us wait. */
  waiting?: (holderPid: number | undefined) => string;
  /** Stops the wait (Ctrl-C): the signal's reason is thrown, or `interrupted()`. */
  signal?: AbortSignal;
  interrupted?: () => Error;
}

export async function withDirectoryLock<T>(lockDir: string, progress: (line: string) => void, body: () => Promise<T>, options: LockWaitOptions = {}): Promise<T> {
  let announced = false;
  let pollMs = FIRST_POLL_MS;
  for (;;) {
    if (tryAcquire(lockDir)) break;
    if (holderIsDead(lockDir)) {
      takeOver(lockDir);
      continue;
    }
    if (options.wait === false) throw options.busy?.(holderPid(lockDir)) ?? new Error(`${lockDir} is held by another process`);
    if (options.signal?.aborted) throw options.interrupted?.() ?? new Error(`interrupted while waiting for ${lockDir}`);
    if (!announced) progress(options.waiting?.(holderPid(lockDir)) ?? `waiting for another process that holds ${lockDir}`);
    announced = true;
    await new Promise((r) => setTimeout(r, pollMs));
    pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
  }
  try {
    return await body();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function tryAcquire(lockDir: string): boolean {
  try {
    mkdirSync(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  const staging = join(lockDir, `pid.${process.pid}.tmp`);
  writeFileSync(staging, String(process.pid));
  renameSync(staging, join(lockDir, "pid"));
  return true;
}

function holderPid(lockDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(lockDir, "pid"), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function holderIsDead(lockDir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(lockDir, "pid"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return false;
    return unclaimedFor(lockDir) > UNCLAIMED_STALE_MS;
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return unclaimedFor(lockDir) > UNCLAIMED_STALE_MS;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** How long the lock folder has existed (0 when it is gone: then nothing is stale). */
function unclaimedFor(lockDir: string): number {
  try {
    return Date.now() - statSync(lockDir).mtimeMs;
  } catch {
    return 0;
  }
}

function takeOver(lockDir: string): void {
  const aside = `${lockDir}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(lockDir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // another waiter took it over first
    throw err;
  }
  rmSync(aside, { recursive: true, force: true });
}
