/**
 * The runtime folders of an embedded server or of a kernel launched directly,
 * `$TMPDIR/nbrewind-jupyter-XXXXXX` (mode 0700): the server's token file,
 * cookie secret and server info, and the kernels' connection files (their
 * HMAC keys). The run that created one removes it when
 * it stops; a run that was killed cannot, so every new one first sweeps the
 * folders whose creator is gone, as stale server processes are swept.
 *
 * A folder is swept only when it is ours (same uid) and nobody can still be
 * using it: its creator's pid (in `owner.pid`) is dead, or, for a folder
 * without one (older versions, or a creator killed before writing it), it is
 * older than a minute and no live process has it as JUPYTER_RUNTIME_DIR.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeDirsInUse } from "./process-sweep.js";

export const RUNTIME_DIR_PREFIX = "nbrewind-jupyter-";
const OWNER_FILE = "owner.pid";
const UNCLAIMED_GRACE_MS = 60_000;

/** Sweep what killed runs left, then create this run's folder, claimed by our pid. */
export function createRuntimeDir(parent: string = tmpdir()): string {
  sweepStaleRuntimeDirs(parent);
  const dir = mkdtempSync(join(parent, RUNTIME_DIR_PREFIX));
  const staging = join(dir, `${OWNER_FILE}.tmp`);
  writeFileSync(staging, String(process.pid), { mode: 0o600 });
  renameSync(staging, join(dir, OWNER_FILE));
  return dir;
}

/** Remove the runtime folders left by runs that are gone; returns their paths. */
export function sweepStaleRuntimeDirs(parent: string = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(RUNTIME_DIR_PREFIX));
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  let inUse: Set<string> | undefined;
  const swept: string[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    let info;
    try {
      info = statSync(dir);
    } catch {
      continue;
    }
    if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
    const owner = ownerPid(dir);
    if (owner !== undefined) {
      if (isAlive(owner)) continue;
    } else {
      if (Date.now() - info.mtimeMs < UNCLAIMED_GRACE_MS) continue;
      inUse ??= runtimeDirsInUse();
      if (inUse.has(dir)) continue;
    }
    rmSync(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

function ownerPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
