import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { cacheRoot } from "../common/cache-dir.js";

/**
 * Where TaskVine (cctools: the `ndcctools.taskvine` module and `vine_worker`)
 * is, for doctor. It is optional: not on any registry the managed env uses, so
 * a user gets it from a conda `ndcctools`, or builds it with
 * `scripts/taskvine.sh` into the cache folder (cctools-<digest>, complete once
 * it holds the build's marker file).
 */
export interface TaskVineInstall {
  found: boolean;
  /** The folder holding vine_worker, or why none was found. */
  where: string;
  /** A source build that is not on PATH yet: the prefix to put there. */
  builtPrefix?: string;
}

const BUILT_MARKER = ".nbrewind-built";

export function findTaskVine(path = process.env.PATH ?? ""): TaskVineInstall {
  for (const dir of path.split(delimiter)) {
    if (dir && existsSync(join(dir, "vine_worker"))) return { found: true, where: dir };
  }
  const root = process.env.NBREWIND_CACHE_DIR ?? cacheRoot();
  let built: string | undefined;
  try {
    built = readdirSync(root)
      .filter((name) => /^cctools-[0-9a-f]+$/.test(name) && existsSync(join(root, name, BUILT_MARKER)))
      .map((name) => join(root, name))[0];
  } catch {
    built = undefined;
  }
  if (built) return { found: true, where: join(built, "bin"), builtPrefix: built };
  return { found: false, where: "no vine_worker on PATH and no source build in " + root };
}
