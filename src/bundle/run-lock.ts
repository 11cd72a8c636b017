/**
 * One audit or repeat at a time per bundle. Two runs of the same bundle at
 * once would both execute every cell they plan and the last to finish would
 * overwrite the other's output notebook: work doubled, a result silently
 * lost. So a run holds a lock for its whole length (plan, kernel, records,
 * notebook, signature), and a second one waits, saying for whom; once it
 * gets the lock it plans against what the first recorded, so it reuses that
 * work instead of repeating it. With --no-wait it fails at once instead.
 *
 * The lock is a folder beside the bundle (`.NAME.nbrewind.run-lock`): it
 * exists before an audit creates the bundle, and is never packed or signed.
 * A lock whose holder died (a killed run) is taken over, not waited on.
 */
import { mkdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { withDirectoryLock } from "../common/directory-lock.js";
import { NbrewindError, ExitCode } from "../common/errors.js";

export function runLockDir(bundleDir: string): string {
  return join(dirname(bundleDir), `.${basename(bundleDir)}.run-lock`);
}

/** Another run holds the bundle and --no-wait was given. */
export class BundleBusyError extends NbrewindError {
  constructor(message: string) {
    super(message, ExitCode.badInput);
  }
}

export async function withBundleRunLock<T>(
  bundleDir: string,
  options: { command: string; wait: boolean; log: (line: string) => void; signal?: AbortSignal },
  body: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(bundleDir), { recursive: true });
  const holder = (pid: number | undefined) => `another audit or repeat${pid ? ` (pid ${pid})` : ""}`;
  return withDirectoryLock(runLockDir(bundleDir), options.log, body, {
    wait: options.wait,
    waiting: (pid) => `${options.command}: waiting for ${holder(pid)} of ${bundleDir} to finish; what it records will be reused (--no-wait fails instead)`,
    ...(options.signal ? { signal: options.signal } : {}),
    interrupted: () => new NbrewindError(`interrupted while waiting for ${bundleDir}; nothing was run`, ExitCode.interrupted),
    busy: (pid) => new BundleBusyError(`${bundleDir} is in use by ${holder(pid)}; not waiting (--no-wait). Run again when it has finished, or drop --no-wait to wait for it`),
  });
}
