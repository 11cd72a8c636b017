/**
 * The files that make up a bundle, as pack, the digest list and verify see
 * them: every regular file under the folder, except what only makes sense on
 * this machine (the lock, blobs being written, temp files of atomic writes,
 * the owner mark, which names this folder's path) and the digest list itself.
 * Future folders (task records) are included without change here.
 */
import { lstat, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../common/errors.js";
import { isTempFileName } from "../common/atomic-file.js";
import { isDigest } from "../store/digest.js";
import { BLOBS_DIR, LOCK_DIR } from "./paths.js";
import { DIGESTS_FILE } from "./trust/digest-list.js";
import { OWNER_FILE } from "./trust/owner.js";

export interface BundleFile {
  /** Relative to the bundle folder, '/'-separated. */
  path: string;
  fsPath: string;
  size: number;
  mtimeMs: number;
  /** For blobs/sha256/xx/yyyy: the digest its name says. */
  blobDigest?: string;
}

const SKIPPED_AT_TOP = new Set([LOCK_DIR, DIGESTS_FILE, OWNER_FILE]);
const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/;

export interface ListOptions {
  /**
   * Accept a blob that is a link to a regular file. A container replay stages
   * its writable bundle with blobs linked to the read-only mount; a blob's
   * content is checked against its name whenever it is read, so where it
   * lives does not matter to trust or signing. Pack and verify keep refusing
   * links: what they hand on must be the files themselves.
   */
  blobLinks?: boolean;
}

/** Sorted by path, so a pack is deterministic. Links are refused: a bundle holds files, and a link could point anywhere. */
export async function listBundleFiles(dir: string, options: ListOptions = {}): Promise<BundleFile[]> {
  const out: BundleFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && SKIPPED_AT_TOP.has(entry.name)) continue;
      if (path === `${BLOBS_DIR}/tmp` || isTempFileName(entry.name)) continue;
      const fsPath = join(dir, path);
      const blob = BLOB_PATH.exec(path);
      if (entry.isSymbolicLink()) {
        const target = options.blobLinks && blob ? await stat(fsPath).catch(() => undefined) : undefined;
        if (!target?.isFile()) throw new InputError(`${fsPath} is a symbolic link: a bundle holds only regular files (replace it by the file it points to)`);
        out.push({ path, fsPath, size: target.size, mtimeMs: target.mtimeMs, blobDigest: blob![1]! + blob![2]! });
        continue;
      }
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!entry.isFile()) throw new InputError(`${fsPath} is not a regular file: a bundle holds only regular files`);
      const stats = await lstat(fsPath);
      const digest = blob ? blob[1]! + blob[2]! : undefined;
      out.push({ path, fsPath, size: stats.size, mtimeMs: stats.mtimeMs, ...(digest && isDigest(digest) ? { blobDigest: digest } : {}) });
    }
  };
  await walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
