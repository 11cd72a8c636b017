import { copyFile, lstat, mkdir, readdir, symlink } from "node:fs/promises";
import { join } from "node:path";

export interface StageCounts {
  copied: number;
  linked: number;
}

const MANIFEST = "manifest.json";
const BLOBS = "blobs";
const LOCK = ".lock";

/**
 * Make `dest` a writable stand-in for the read-only `src`, for a repeat to
 * run in: every file is copied, except the blob objects of each bundle
 * (a folder holding manifest.json), which become symlinks to the read-only
 * originals. A repeat only ever adds blobs (new names, written to a temp file
 * and renamed into place) and replaces JSON files by rename, so it never
 * writes through a link; reads follow them, and every blob is still checked
 * against its digest when it is restored. So a bundle of any size costs only
 * a copy of its small metadata. A bundle's lock folder is not copied: it
 * belongs to processes on the host.
 */
export async function stageWorkDir(src: string, dest: string): Promise<StageCounts> {
  const counts: StageCounts = { copied: 0, linked: 0 };
  await walk(src, dest, false, counts);
  return counts;
}

async function walk(src: string, dest: string, linkFiles: boolean, counts: StageCounts): Promise<void> {
  await mkdir(dest, { recursive: true });
  const names = await readdir(src);
  const isBundle = names.includes(MANIFEST);
  for (const name of names) {
    if (isBundle && name === LOCK) continue;
    const from = join(src, name);
    const to = join(dest, name);
    const s = await lstat(from);
    if (s.isDirectory()) {
      await walk(from, to, linkFiles || (isBundle && name === BLOBS), counts);
    } else if (s.isFile()) {
      if (linkFiles) {
        await symlink(from, to);
        counts.linked++;
      } else {
        await copyFile(from, to);
        counts.copied++;
      }
    }
    // Symlinks and special files in a work dir are not followed: an unpacked
    // bundle has none, and following one could read outside the mount.
  }
}
