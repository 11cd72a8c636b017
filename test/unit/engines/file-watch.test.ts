import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * A cell's end records each file it read without a stat when inotify vouches
 * for it (watched before its last stat, no event since). Here, in a plain
 * Python process, the observer's records after each kind of change are
 * compared with a fresh stat and sha256 of every file, and the stats of the
 * files the cell's end made are counted.
 */
function runCases(): any {
  const python = findManagedEnv()?.python ?? basePython();
  const script = join(packageRoot(), "test", "unit", "engines", "file-watch", "cases.py");
  const r = spawnSync(python, [script, packageRoot()], { encoding: "utf8", timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("cell-end file records under inotify", () => {
  let out: any;
  beforeAll(() => {
    out = runCases();
  }, 120_000);

  it("runs on a local file system (else every case below is the stat fallback)", () => {
    expect(out.local).toBe(true);
  });

  it("an unchanged file read again is recorded as it is, without a stat, from the third time (the second sets up its watch)", () => {
    expect(out.changes.first).toEqual({ true: true, stats: 8, read: 8 });
    expect(out.changes.second).toEqual({ true: true, stats: 8, read: 8 });
    expect(out.changes.unchanged).toEqual({ true: true, stats: 0, read: 8 });
  });

  it("every change while watched is seen: in place from another process, mtime put back, renamed over, through a hard link elsewhere, a folder above swapped, deleted", () => {
    const { changes } = out;
    expect(changes.written_in_place).toEqual({ true: true, stats: 1, read: 8 });
    expect(changes.mtime_put_back).toEqual({ true: true, stats: 1, read: 8 });
    expect(changes.renamed_over).toEqual({ true: true, stats: 1, read: 8 });
    expect(changes.written_through_hard_link).toEqual({ true: true, stats: 1, read: 8 });
    // A file with two links is stat'ed at every cell's end from then on.
    expect(changes.hard_link_stays_stated).toEqual({ true: true, stats: 1, read: 8 });
    expect(changes.folder_above_swapped).toEqual({ true: true, stats: 8, read: 8 });
    expect(changes.deleted).toEqual({ true: true, stats: 1, read: 7 });
    expect(changes.after_all).toEqual({ true: true, stats: 1, read: 7 });
  });

  it("falls back to a stat per file where the watches cannot vouch: a folder through a link, a non-local file system, no watches left, turned off", () => {
    const { fallbacks } = out;
    for (const name of ["symlinked_folder", "not_local", "out_of_watches", "turned_off"]) expect(fallbacks[name], name).toEqual({ true: true, stats: 4, read: 4 });
  });

  it("a file this process opened to write is stat'ed at every cell's end (a write through mmap raises no event)", () => {
    expect(out.fallbacks.written_here).toEqual({ true: true, stats: 1, read: 4 });
  });

  it("a forked child does not read the parent's events: the parent still sees the change", () => {
    expect(out.fork).toEqual({ true: true, stats: 1, read: 4 });
  });
});
