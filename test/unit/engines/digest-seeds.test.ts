import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { FileView } from "../../../src/planner/files.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * At repeat the planner has stat'ed every recorded file (and hashed the ones
 * whose stat moved). It hands the kernel those digests with the stat they hold
 * for, so a fresh kernel does not hash every input its cells read again; a file
 * written after the plan (even to the same size and mtime) is hashed.
 */
const python = findManagedEnv()?.python ?? basePython();
const dir = mkdtempSync(join(tmpdir(), "nbrewind-seeds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

function record(files: { path: string; content: string; mtimeNs: string }[]): RecordedCell {
  return {
    fingerprint: "f".repeat(64),
    cell_id: "c1",
    source_hash: "s".repeat(64),
    status: "ok",
    reads: [],
    writes: [],
    outputs: [],
    execution_count: 1,
    duration_s: 1,
    recorded_at: "2026-12-02T00:00:00Z",
    value_key: "v".repeat(64),
    files: { read: files.map((f) => ({ path: f.path, size: f.content.length, mtime_ns: f.mtimeNs, sha256: sha(f.content) })), written: [] },
  } as RecordedCell;
}

describe("digests the planner seeds into the kernel's file observer", () => {
  it("a file unchanged since the plan is not hashed again; one changed before the plan is seeded with its new digest; one written after the plan is hashed", async () => {
    mkdirSync(join(dir, "data"));
    const put = (name: string, text: string) => writeFileSync(join(dir, name), text);
    const mtime = (name: string) => statSync(join(dir, name), { bigint: true }).mtimeNs.toString();
    put("data/same.txt", "same content");
    put("data/before.txt", "old content");
    put("data/after.txt", "after: 1");
    const rec = record([
      { path: "data/same.txt", content: "same content", mtimeNs: mtime("data/same.txt") },
      { path: "data/before.txt", content: "old content", mtimeNs: mtime("data/before.txt") },
      { path: "data/after.txt", content: "after: 1", mtimeNs: mtime("data/after.txt") },
    ]);
    put("data/before.txt", "new content!"); // changed before the plan: the planner hashes it
    const view = await FileView.probe(dir, [rec]);
    const seeds = view.digestSeeds();
    expect(Object.keys(seeds).sort()).toEqual(["data/after.txt", "data/before.txt", "data/same.txt"]);
    expect(seeds["data/before.txt"]!.sha256).toBe(sha("new content!"));
    expect(seeds["data/same.txt"]!.sha256).toBe(sha("same content"));

    // Written after the plan, same size, mtime put back: only the ctime tells.
    const st = statSync(join(dir, "data/after.txt"));
    put("data/after.txt", "after: 2");
    utimesSync(join(dir, "data/after.txt"), st.atime, st.mtime);
    writeFileSync(join(dir, "seeds.json"), JSON.stringify(seeds));
    const r = spawnSync(python, [join(packageRoot(), "test", "unit", "engines", "digest-seeds", "cases.py"), packageRoot(), dir, join(dir, "seeds.json"), "data/same.txt", "data/before.txt", "data/after.txt"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(got.hashed).toEqual(["data/after.txt"]);
    const content = (name: string) => sha(readFileSync(join(dir, name), "utf8"));
    expect(got.read).toEqual({ "data/same.txt": content("data/same.txt"), "data/before.txt": content("data/before.txt"), "data/after.txt": sha("after: 2") });
  }, 60_000);
});
