/**
 * Piscina task: the streaming sha256 of one file. Failures are returned, not
 * thrown, so the caller can tell a missing file from a broken worker.
 */
import { hashFile } from "./digest.js";

export interface HashTask {
  path: string;
}

export type HashResult = { ok: true; digest: string; size: number } | { ok: false; code: string; message: string };

export default async function hashTask(task: HashTask): Promise<HashResult> {
  try {
    const { digest, size } = await hashFile(task.path);
    return { ok: true, digest, size };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, code: e.code ?? "ERROR", message: e.message };
  }
}
