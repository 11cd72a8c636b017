/**
 * Putting back the files a reused cell wrote, at its place in the run (at
 * repeat, and at replay in another folder), from the blobs the shim stored.
 *
 * A record is input: it can never make us write outside the notebook's
 * folder tree. Paths that are absolute, contain `..`, or reach the target
 * through a symbolic link are refused (an InputError naming the record and
 * the field) before anything is written; each file is written to a
 * temporary name beside it, synced, and renamed over the target, so a reader
 * sees the old content or the new one, never a mix.
 */
import { lstat, mkdir, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, sep } from "node:path";
import { writeFileAtomic } from "../common/atomic-file.js";
import { InputError } from "../common/errors.js";
import { allFiles, isDeletion, type FileWritten } from "../common/file-record.js";
import type { FileView } from "../planner/files.js";
import type { RecordedCell } from "../planner/recorded.js";
import type { BlobStore } from "../store/index.js";

/** Why a recorded written path may not be written, or undefined when it is a plain path inside the folder. */
export function unsafeWrittenPath(path: string): string | undefined {
  if (isAbsolute(path) || /^[A-Za-z]:[\\/]/.test(path)) return "is an absolute path";
  const parts = path.split(/[\\/]/);
  if (parts.includes("..")) return "contains `..`";
  if (parts.some((p) => p === "" || p === ".")) return "is not a normalised relative path";
  if (path.includes("\0")) return "contains a NUL byte";
  return undefined;
}

/** Refuse, before anything runs, any record that names a written file outside the notebook's folder. */
export function checkRecordedWrites(records: Iterable<RecordedCell>): void {
  for (const rec of records) {
    const fields = [...(rec.files?.written ?? []).map((w, i) => [w, `files.written[${i}]`] as const), ...(rec.tasks ?? []).flatMap((t, k) => (t.files?.written ?? []).map((w, i) => [w, `tasks[${k}].files.written[${i}]`] as const))];
    for (const [w, field] of fields) {
      const why = unsafeWrittenPath(w.path);
      if (why) {
        throw new InputError(
          `cells/${rec.fingerprint}.json: ${field}.path \`${w.path}\` ${why}: a record may only name files inside the notebook's folder; refusing to use this bundle (nothing was written)`,
        );
      }
    }
  }
}

export interface RestoredFiles {
  files: string[];
  bytes: number;
}

/**
 * Make the folder hold what the cell wrote: files that are absent or differ
 * are written from their blobs; files the cell removed are removed. Appended
 * files (logs) are left alone; see planner/files.ts for the rule.
 */
export async function restoreWrittenFiles(record: RecordedCell, notebookDir: string, blobs: BlobStore, view: FileView): Promise<RestoredFiles> {
  const out: RestoredFiles = { files: [], bytes: 0 };
  for (const [i, w] of allFiles(record).written.entries()) {
    if (!isDeletion(w) && w.appended) continue;
    const why = unsafeWrittenPath(w.path);
    if (why) throw new InputError(`cells/${record.fingerprint}.json: files.written[${i}].path \`${w.path}\` ${why}`);
    if (view.holds(w)) {
      view.noteWritten(w);
      continue;
    }
    const target = await safeTarget(notebookDir, w.path, `cells/${record.fingerprint}.json: files.written[${i}].path`);
    if (isDeletion(w)) {
      await unlink(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    } else {
      if (!w.blob) throw new InputError(`cells/${record.fingerprint}.json: \`${w.path}\` was recorded by digest only (over the size limit) and is not on disk as recorded: it cannot be put back`);
      const data = await blobs.readVerified(w.sha256);
      await mkdir(dirname(target), { recursive: true });
      await writeFileAtomic(target, data);
      out.bytes += data.length;
    }
    out.files.push(w.path);
    view.noteWritten(w);
  }
  return out;
}

/** The target path, after checking that no existing part of it below the folder is a link or a non-folder. */
async function safeTarget(notebookDir: string, path: string, field: string): Promise<string> {
  const parts = path.split(/[\\/]/);
  let current = notebookDir;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    let st;
    try {
      st = await lstat(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
      throw err;
    }
    if (st.isSymbolicLink()) throw new InputError(`${field} \`${path}\`: ${parts.slice(0, i + 1).join(sep)} is a symbolic link; refusing to write through it`);
    if (i < parts.length - 1 && !st.isDirectory()) throw new InputError(`${field} \`${path}\`: ${parts.slice(0, i + 1).join(sep)} is not a folder`);
    if (i === parts.length - 1 && !st.isFile()) throw new InputError(`${field} \`${path}\`: it exists and is not a regular file`);
  }
  return join(notebookDir, path);
}

export type { FileWritten };
