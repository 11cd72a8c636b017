import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * The file observer's audit hook exists twice: in C (built by the kernel's
 * Python when it has a C compiler and its headers) and in Python (everywhere
 * else). A scripted cell and two concurrent tasks must be recorded the same
 * through either, and a failed build must fall back to the Python hook, say
 * why, and not be tried again.
 */
const python = findManagedEnv()?.python ?? basePython();
const work = mkdtempSync(join(tmpdir(), "nbrewind-native-hook-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runCases(name: string, env: Record<string, string>): any {
  const folder = join(work, name);
  const script = join(packageRoot(), "test", "unit", "engines", "native-hook", "cases.py");
  const r = spawnSync(python, [script, packageRoot(), folder], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

// Whether this machine has what the build needs, as native_hook itself decides it.
const canBuild = (() => {
  const code = "import sys; sys.path.insert(0, sys.argv[1]); from nbrewind import native_hook; print(native_hook._missing_tools() is None)";
  const r = spawnSync(python, ["-c", code, join(packageRoot(), "engines", "python")], { encoding: "utf8" });
  return r.stdout.trim() === "True";
})();

const expected = {
  cell: {
    read: [["data/a.txt", []], ["data/b.txt", []], ["data/c.txt", []], ["data/d.txt", []]],
    written: [["data/gone.txt", ["deleted"]], ["data/new.txt", []], ["data/old.txt", ["deleted"]], ["log.txt", ["appended"]], ["result.txt", []]],
  },
  tasks: { "t1.txt": ["data/t1.txt"], "t2.txt": ["data/t2.txt"] },
  cell_around_tasks: [],
};

describe("the C audit hook and the Python one", () => {
  it("record the same reads (absolute, relative, pathlib, bytes, os.open), writes, appends, renames and removals, and each task's own reads", () => {
    const native = runCases("native", {});
    const plain = runCases("python", { NBREWIND_NATIVE_HOOK: "0" });
    expect(plain.hook).toBe("python");
    expect(plain.status).toBe("python (NBREWIND_NATIVE_HOOK=0)");
    // This machine has a C compiler and Python's headers (CI's does): the kernel's hook is the C one.
    expect(native.hook).toBe(canBuild ? "native" : "python");
    for (const got of [native, plain]) {
      expect(got.cell).toEqual(expected.cell);
      expect(got.tasks).toEqual(expected.tasks);
      expect(got.cell_around_tasks).toEqual(expected.cell_around_tasks);
    }
  }, 240_000);

  it("a build that fails leaves the Python hook in use, says why, and is not tried again", () => {
    const cache = join(work, "cache");
    const env = { XDG_CACHE_HOME: cache, CC: "false" };
    const first = runCases("failed-build", env);
    expect(first.hook).toBe("python");
    expect(first.status).toMatch(canBuild ? /^python \(false exited 1/ : /^python \(no (C compiler|Python\.h)/);
    expect(first.cell).toEqual(expected.cell);
    if (!canBuild) return;
    const native = join(cache, "nbrewind-engine", "native");
    expect(readdirSync(native).filter((f) => f.endsWith(".failed"))).toHaveLength(1);
    const again = runCases("failed-again", env);
    expect(again.hook).toBe("python");
    expect(again.status).toMatch(/^python \(an earlier build failed .*false exited 1/);
  }, 240_000);
});
