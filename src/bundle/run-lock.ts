/**
 * One audit or repeat at a time per bundle, and no pack while one runs. Two runs of the same bundle at
 * once would both execute every cell they plan and the last to finish would
 * overwrite the other's output notebook: work doubled, a result silently
 * lost. So a run holds a lock for its whole length (plan, kernel, records,
 * notebook, signature), and a second one waits, saying for whom; once it
 * gets the lock it plans against what the first recorded, so it reuses that
 * work instead of repeating it. `pack` takes the same lock, so it never packs
 * a bundle half written (records without their notebook, a digest list not
 * yet re-signed), and no run starts while it reads. With --no-wait either
 * fails at once instead.
 *
 * The lock is a folder beside the bundle (`.NAME.nbrewind.run-lock`): it
 * exists before an audit creates the bundle, and is never packed or signed.
 * A lock whose holder died (a killed run) is taken over, not waited on.
 */
import { readFileSync } from "node:fs";
import { access, constants, mkdir, writeFile } from "node:fs/promises";
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

/** What holds or takes a bundle's run lock: a run writing it, or a pack reading all of it. */
export type RunLockCommand = "audit" | "repeat" | "pack";

/** Inside the lock folder: the command holding it, for the message of whoever waits. */
const HOLDER_FILE = "command";

export async function withBundleRunLock<T>(
  bundleDir: string,
  options: { command: RunLockCommand; wait: boolean; log: (line: string) => void; signal?: AbortSignal; onWait?: () => void },
  body: () => Promise<T>,
): Promise<T> {
  const lockDir = runLockDir(bundleDir);
  if (options.command === "pack") {
    // A bundle in a folder we cannot write: no lock can be taken there, and no run of ours can be writing it.
    if (!(await writable(dirname(bundleDir)))) return body();
  } else {
    await mkdir(dirname(bundleDir), { recursive: true });
  }
  const holder = (pid: number | undefined) => `${describeHolder(lockDir, options.command)}${pid ? ` (pid ${pid})` : ""}`;
  const why = () =>
    options.command === "pack" ? "; a bundle is packed only when no run is writing it" : holderCommand(lockDir) === "pack" ? "" : "; what it records will be reused";
  return withDirectoryLock(
    lockDir,
    options.log,
    async () => {
      await writeFile(join(lockDir, HOLDER_FILE), options.command).catch(() => {});
      return body();
    },
    {
      wait: options.wait,
      waiting: (pid) => {
        options.onWait?.();
        return `${options.command}: waiting for ${holder(pid)} of ${bundleDir} to finish${why()} (--no-wait fails instead)`;
      },
      ...(options.signal ? { signal: options.signal } : {}),
      interrupted: () => new NbrewindError(`interrupted while waiting for ${bundleDir}; nothing was ${options.command === "pack" ? "packed" : "run"}`, ExitCode.interrupted),
      busy: (pid) => new BundleBusyError(`${bundleDir} is in use by ${holder(pid)}; not waiting (--no-wait). Run again when it has finished, or drop --no-wait to wait for it`),
    },
  );
}

function holderCommand(lockDir: string): string | undefined {
  try {
    return readFileSync(join(lockDir, HOLDER_FILE), "utf8");
  } catch {
    return undefined; // not written yet, or the lock is gone
  }
}

/** "another audit or repeat", or "a pack" / "another pack" when the holder said it packs. */
function describeHolder(lockDir: string, self: RunLockCommand): string {
  if (holderCommand(lockDir) !== "pack") return "another audit or repeat";
  return self === "pack" ? "another pack" : "a pack";
}

async function writable(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
}
