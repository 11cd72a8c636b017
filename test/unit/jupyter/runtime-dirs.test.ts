import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRuntimeDir, sweepStaleRuntimeDirs } from "../../../src/jupyter/runtime-dirs.js";

/** A pid that existed and is gone. */
function deadPid(): number {
  return Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
}

function folder(parent: string, name: string, owner?: number | string, ageMs = 0): string {
  const dir = join(parent, `nbrewind-jupyter-${name}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "jupyter_cookie_secret"), "secret", { mode: 0o600 });
  if (owner !== undefined) writeFileSync(join(dir, "owner.pid"), String(owner));
  if (ageMs) utimesSync(dir, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
  return dir;
}

describe("runtime folders left by killed runs", () => {
  it("are swept when their creator is gone; live, young or in-use ones stay", () => {
    const parent = mkdtempSync(join(tmpdir(), "nbrewind-sweep-"));
    const killed = folder(parent, "killed", deadPid());
    const live = folder(parent, "live", process.pid);
    const oldUnclaimed = folder(parent, "old", undefined, 5 * 60_000);
    const youngUnclaimed = folder(parent, "young");
    const other = join(parent, "not-ours");
    mkdirSync(other);
    expect(sweepStaleRuntimeDirs(parent).sort()).toEqual([killed, oldUnclaimed].sort());
    expect([killed, oldUnclaimed].map(existsSync)).toEqual([false, false]);
    expect([live, youngUnclaimed, other].map(existsSync)).toEqual([true, true, true]);
  });

  it("a new run's folder is 0700, claimed by its pid, and sweeps before it is made", () => {
    const parent = mkdtempSync(join(tmpdir(), "nbrewind-sweep-"));
    const killed = folder(parent, "killed", deadPid());
    const dir = createRuntimeDir(parent);
    expect(existsSync(killed)).toBe(false);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "owner.pid")).mode & 0o777).toBe(0o600);
  });
});
