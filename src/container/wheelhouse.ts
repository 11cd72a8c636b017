import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EnvironmentRecord } from "../bundle/index.js";
import { cacheRoot } from "../common/cache-dir.js";
import { InfrastructureError, InputError } from "../common/errors.js";
import { basePython, findManagedEnv, runLogged } from "../pyenv/managed-env.js";

/** The recorded packages as pip requirements, `name==version`, sorted. */
export function recordedPins(env: EnvironmentRecord): string[] {
  return Object.entries(env.packages)
    .map(([name, version]) => `${name}==${version}`)
    .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

/** `3.11` of `3.11.7`. */
export function minorVersion(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new InputError(`environment.json: python.version ${JSON.stringify(version)} is not a Python version`);
  return `${m[1]}.${m[2]}`;
}

/** A host interpreter with pip whose minor version is the recorded one: its wheels fit the image's Python. */
function hostPipPython(minor: string): string | undefined {
  const candidates = [findManagedEnv()?.python, basePython(), `python${minor}`, "python3"].filter((p): p is string => Boolean(p));
  for (const python of new Set(candidates)) {
    const probe = spawnSync(python, ["-c", "import sys, pip; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
    if (probe.status === 0 && probe.stdout.trim() === minor) return python;
  }
  return undefined;
}

/**
 * A folder with one wheel per recorded pin, made on the host with the host's
 * pip (its index, proxy and certificate settings; its cache), so that the
 * image build needs no network: sdists are built into wheels here. Cached by
 * the pins, so a second replay of the same environment downloads nothing.
 */
export async function ensureWheelhouse(pins: string[], pythonVersion: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const minor = minorVersion(pythonVersion);
  const digest = createHash("sha256").update(`cp${minor}\n${pins.join("\n")}\n`).digest("hex").slice(0, 16);
  const dir = join(cacheRoot(), "container", "wheels", digest);
  if (existsSync(join(dir, ".complete"))) return dir;
  const python = hostPipPython(minor);
  if (!python) {
    throw new InfrastructureError(`the bundle was recorded with Python ${pythonVersion}; building its wheels needs a Python ${minor} with pip on this machine, and none was found`, [
      `fix: install Python ${minor} (with pip), or set NBREWIND_PYTHON to one`,
    ]);
  }
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, "wheels"), { recursive: true });
  const requirements = join(partial, "requirements.txt");
  await writeFile(requirements, pins.join("\n") + "\n");
  onProgress(`wheels: ${pins.length} recorded package(s) for Python ${minor}, with ${python} -m pip (cached for later replays)`);
  const args = ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--no-input", "-w", join(partial, "wheels"), "-r", requirements];
  await runLogged(python, args, (line) => onProgress(`wheels: ${line}`), { show: /^Building wheel/, signal }).catch(async (err: Error) => {
    await rm(partial, { recursive: true, force: true });
    if (!(err instanceof InfrastructureError)) throw err;
    throw new InfrastructureError("pip could not make a wheel for every recorded package", [
      ...err.details,
      "fix: a package that the index the host's pip uses does not have cannot be replayed in a container; see the lines above",
    ]);
  });
  await writeFile(join(partial, ".complete"), new Date().toISOString() + "\n");
  onProgress(`wheels: ${(await readdir(join(partial, "wheels"))).length} wheel(s) ready`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, ".."), { recursive: true });
  await rename(partial, dir);
  return dir;
}
