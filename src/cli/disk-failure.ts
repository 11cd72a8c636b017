/**
 * After a disk refused a write mid-run, the run still tries to leave what it
 * can: the partial notebook, the bundle's run record. Those writes may fail
 * too (the disk is still full); then the first failure stays the one
 * reported, and the lost write is added to its details, never replacing it
 * with a stack trace.
 */
import { DiskError, diskErrorFrom } from "../common/disk-errors.js";

export async function afterDiskFailure(failure: unknown, what: string, path: string | undefined, write: () => Promise<void>): Promise<unknown> {
  try {
    await write();
    if (failure instanceof DiskError && path) failure.details.push(`${what} was written to ${path}`);
    return failure;
  } catch (err) {
    const disk = diskErrorFrom(err);
    if (!disk) {
      if (failure) return failure; // the first failure is what the user must see
      throw err;
    }
    if (!(failure instanceof DiskError)) return failure ?? disk;
    failure.details.push(`${what} could not be written either: ${disk.message.replace(/; every cell.*$/, "")}`);
    return failure;
  }
}
