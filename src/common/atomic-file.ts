/**
 * Writing a file so that a reader, or a process killed half-way, sees either
 * the old content or the new one, never a mix: write a temporary file in the
 * same folder (so the rename cannot cross file systems), fsync it, rename it
 * over the target. The fsync comes before the rename so that after a power
 * loss the new name never points at unwritten data.
 */
import { randomBytes } from "node:crypto";
import { chmod, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temp files are hidden and end in `.tmp`; readers of a folder skip them (see isTempFileName). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

const TEMP_NAME = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/** True for a name tempPathFor made: a leftover of an interrupted write, never content. */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** `mode`, when given, is set exactly (not through the umask): a rewritten file keeps its permissions. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      if (options.mode !== undefined) await chmod(temp, options.mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** JSON with two-space indentation and a final newline: diffable and stable. */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + "\n");
}
