/**
 * The files a cell (or a task) read and wrote, as the kernel-side shim
 * reports them and the bundle keeps them (schemas/file-record.schema.json).
 * One type for the comm protocol, the cell records and the planner.
 */

/** A file read: its state at the end of the cell. A path under the notebook's folder is relative to it. */
export interface FileRead {
  path: string;
  size: number;
  /** st_mtime_ns as a decimal string (it does not fit a double). */
  mtime_ns: string;
  sha256: string;
  /** Declared (pragma or nbrewind.reads()), not seen by the audit hook. */
  declared?: true;
}

export type FileWritten =
  | {
      path: string;
      size: number;
      mtime_ns: string;
      sha256: string;
      /** The content is in the store under sha256; false: over the size limit, digest only. */
      blob: boolean;
      /** Only appended to: an output that is never restored (see README, "Files"). */
      appended?: true;
    }
  | { path: string; deleted: true };

export interface FileActivity {
  read: FileRead[];
  written: FileWritten[];
  /** Written outside the notebook's folder: reported, not recorded as outputs. */
  outside?: string[];
  warnings?: string[];
}

export function isDeletion(w: FileWritten): w is { path: string; deleted: true } {
  return "deleted" in w;
}

/**
 * Everything a cell's result depends on and made on disk: its own files and
 * those of the tasks it submitted (a cell is reused whole, so a file one of
 * its tasks read decides its reuse too, and a file a task wrote comes back
 * with it).
 */
export function allFiles(rec: { files?: FileActivity; tasks?: { files?: FileActivity }[] }): { read: FileRead[]; written: FileWritten[] } {
  const read = [...(rec.files?.read ?? [])];
  const written = [...(rec.files?.written ?? [])];
  for (const t of rec.tasks ?? []) {
    read.push(...(t.files?.read ?? []));
    written.push(...(t.files?.written ?? []));
  }
  return { read, written };
}
