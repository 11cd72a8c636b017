import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { cacheRoot } from "../common/cache-dir.js";
import { tempPathFor } from "../common/atomic-file.js";

/**
 * The base interpreter's "version platform machine", which names the managed
 * env. Asking Python costs a process start on every command (0.05 s of CPU,
 * most of a second of wall on a busy 2-core machine), so the answer is
 * remembered per interpreter file: keyed by its resolved path and the file's
 * identity (device, inode, size, modification time). A replaced, upgraded or
 * re-linked interpreter is a new key and is asked again; anything unusual
 * (no such file, an unreadable cache) just asks.
 */
export function rememberedPythonVersion(python: string, probe: (python: string) => string): string {
  const key = fileKey(python);
  if (!key) return probe(python);
  const file = join(cacheRoot(), "base-python.json");
  const known = readKnown(file);
  const hit = known[key];
  if (typeof hit === "string") return hit;
  const version = probe(python);
  try {
    mkdirSync(cacheRoot(), { recursive: true });
    const temp = tempPathFor(file);
    writeFileSync(temp, JSON.stringify({ ...known, [key]: version }, null, 2) + "\n");
    renameSync(temp, file);
  } catch {
    // Only a shortcut: the next command asks again.
  }
  return version;
}

function fileKey(python: string): string | undefined {
  const found = isAbsolute(python) || python.includes("/") ? python : onPath(python);
  if (!found) return undefined;
  try {
    const real = realpathSync(found);
    const s = statSync(real);
    return `${real}|${s.dev}|${s.ino}|${s.size}|${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readKnown(file: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Ask the interpreter itself (what rememberedPythonVersion avoids repeating). */
export function askPythonVersion(python: string): SpawnSyncReturns<string> {
  return spawnSync(python, ["-c", "import sys,platform;print(platform.python_version(), sys.platform, platform.machine())"], { encoding: "utf8" });
}
