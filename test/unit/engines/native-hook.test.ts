import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
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

  it("record a cell's many new reads alike: the C batch's stat and sha256 equal Python's, a seed stands for the hash, a link is its target, a pipe, a folder and a file gone are left out", () => {
    const native = runCases("native-batch", {});
    const plain = runCases("python-batch", { NBREWIND_NATIVE_HOOK: "0" });
    expect(native.files_status).toBe(canBuild ? "native" : expect.stringMatching(/^python/));
    expect(plain.files_status).toBe("python (NBREWIND_NATIVE_HOOK=0)");
    // Every digest below was computed by hashlib in the Python run: the C one must agree to the byte.
    expect(native.batch).toEqual(plain.batch);
    const byName = new Map<string, [string, number, string]>(plain.batch.map((e: [string, number, string]) => [e[0], e]));
    expect(plain.batch).toHaveLength(122); // 120 files, the link, the seeded file
    expect(byName.get("many/f000.bin")![2]).toBe(createHash("sha256").update(Buffer.alloc(0)).digest("hex"));
    const f119 = Buffer.from(Array.from({ length: 119 * 37 }, (_, j) => (119 * 7 + j) % 251));
    expect(byName.get("many/f119.bin")).toEqual(["many/f119.bin", f119.length, createHash("sha256").update(f119).digest("hex")]);
    expect(byName.get("many/link.bin")![2]).toBe(byName.get("many/f005.bin")![2]);
    expect(byName.get("many/seeded.bin")![2]).toBe("5eed".repeat(16));
    for (const gone of ["many/pipe", "many/folder", "many/brief.bin"]) expect(byName.has(gone)).toBe(false);
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
    // One per C module (the hook, the stat-and-hash batch), each recorded where the next kernel looks.
    expect(readdirSync(native).filter((f) => f.endsWith(".failed"))).toHaveLength(2);
    expect(first.files_status).toMatch(/^python \(false exited 1/);
    const again = runCases("failed-again", env);
    expect(again.hook).toBe("python");
    expect(again.status).toMatch(/^python \(an earlier build failed .*false exited 1/);
    expect(again.files_status).toMatch(/^python \(an earlier build failed .*false exited 1/);
  }, 240_000);
});
