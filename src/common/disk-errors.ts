/**
 * A disk that is full, read-only or not ours to write is the user's
 * environment, not a bug: it gets a sentence naming the path and what to do,
 * exit 2, never a stack trace. These turn Node's errno errors (and the
 * kernel shim's, which carry the same codes) into that sentence.
 */
import { ExitCode, NbrewindError } from "./errors.js";

const WHAT: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exhausted",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
};

export const DISK_ERROR_CODES = Object.keys(WHAT);

/** The disk refused a write: exit 2, with the path. */
export class DiskError extends NbrewindError {
  constructor(
    readonly code: string,
    readonly path: string | undefined,
    details: string[] = [],
  ) {
    super(describeDiskProblem(code, path), ExitCode.badInput, details);
  }
}

export function describeDiskProblem(code: string, path: string | undefined): string {
  const what = WHAT[code] ?? code;
  const where = path ? ` writing ${path}` : "";
  const fix = code === "ENOSPC" || code === "EDQUOT" ? "free some space there, or choose another folder" : "choose a folder you can write";
  return `${what}${where} (${code}): ${fix}; every cell and record completed before it is kept`;
}

/** The DiskError an fs error stands for, or undefined when it is something else. */
export function diskErrorFrom(err: unknown): DiskError | undefined {
  if (err instanceof DiskError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e !== "object" || typeof e.code !== "string" || !(e.code in WHAT)) return undefined;
  // A syscall the user cannot act on (kill, for one) is not about a disk.
  if (e.syscall && !/^(open|write|mkdir|mkdtemp|rename|copyfile|link|symlink|fsync|close|ftruncate|utime|chmod|unlink|rmdir|rm|access|writev|fdatasync)$/.test(e.syscall)) return undefined;
  return new DiskError(e.code, e.path ?? (e as { dest?: string }).dest);
}

/** `err` as a DiskError naming `where` when the failed call did not say which file (writes through a file handle); else `err` as it is. */
export function diskErrorAt(err: unknown, where: string): unknown {
  const disk = diskErrorFrom(err);
  if (!disk) return err;
  return disk.path ? disk : new DiskError(disk.code, where);
}
