import { createHash } from "node:crypto";
import { join } from "node:path";
import { cacheRoot } from "../common/cache-dir.js";
import { basePython, basePythonVersion, createVenv, type ProgressSink } from "./managed-env.js";

/**
 * A small Python environment named by its pins, like the managed one: the
 * version-matrix test's kernels (one engine version each) are created once per
 * machine and reused while their pins are the same. Creation goes through
 * pip's own cache, so environments that share wheels build in parallel
 * without downloading them twice.
 */
export interface PinnedEnv {
  dir: string;
  python: string;
  pins: string[];
}

/** ~/.cache/nbrewind-engine/envs/<label>-<digest of pins and base Python>. */
export function pinnedEnvDir(label: string, pins: string[], python = basePython()): { dir: string; digest: string } {
  const digest = createHash("sha256")
    .update(JSON.stringify([...pins].sort()))
    .update("\0")
    .update(basePythonVersion(python))
    .digest("hex");
  return { dir: join(cacheRoot(), "envs", `${label}-${digest.slice(0, 12)}`), digest };
}

export async function ensurePinnedEnv(label: string, pins: string[], progress: ProgressSink = () => {}): Promise<PinnedEnv> {
  const python = basePython();
  const { dir, digest } = pinnedEnvDir(label, pins, python);
  await createVenv(python, dir, digest, pins, progress);
  return { dir, python: join(dir, "bin", "python"), pins };
}
