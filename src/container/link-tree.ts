import { createHash } from "node:crypto";
import { copyFile, link, lstat, mkdir, readdir, readFile, readlink, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";

export type PathFilter = (relativePath: string, isDirectory: boolean) => boolean;

/**
 * Put a copy of `src` at `dest`, hard-linking files where the filesystem
 * allows (a build context of a few hundred MB costs no copy) and copying
 * otherwise; symlinks stay symlinks. Nothing in `src` is modified.
 */
export async function linkTree(src: string, dest: string, keep: PathFilter = () => true, root = src): Promise<void> {
  const s = await lstat(src);
  if (src === root) await mkdir(dirname(dest), { recursive: true });
  if (s.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
  } else if (s.isDirectory()) {
    await mkdir(dest, { recursive: true });
    for (const name of (await readdir(src)).sort()) {
      const child = join(src, name);
      const isDir = (await lstat(child)).isDirectory();
      if (keep(relative(root, child), isDir)) await linkTree(child, join(dest, name), keep, root);
    }
  } else if (s.isFile()) {
    await link(src, dest).catch(() => copyFile(src, dest));
  }
}

/** sha256 over every file's relative path and content under `dir` (sorted), symlinks by target. */
export async function treeDigest(dir: string, keep: PathFilter = () => true): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path);
    const rel = relative(dir, path);
    if (s.isSymbolicLink()) hash.update(`L ${rel}\0${await readlink(path)}\0`);
    else if (s.isFile()) hash.update(`F ${rel}\0${s.size}\0`).update(await readFile(path));
    else if (s.isDirectory()) {
      for (const name of (await readdir(path)).sort()) {
        const child = join(path, name);
        if (keep(relative(dir, child), (await lstat(child)).isDirectory())) await walk(child);
      }
    }
  };
  await walk(dir);
  return hash.digest("hex");
}
