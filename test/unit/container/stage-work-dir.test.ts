import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { stageWorkDir } from "../../../src/container/stage-work-dir.js";

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-stage-test-"));
  const bundle = join(dir, "nb.nbrewind");
  for (const sub of ["cells", "logs", "blobs/sha256/ab", "blobs/tmp", ".lock"]) mkdirSync(join(bundle, sub), { recursive: true });
  writeFileSync(join(dir, "nb.ipynb"), "{}");
  writeFileSync(join(dir, "data.csv"), "a,b\n");
  writeFileSync(join(bundle, "manifest.json"), '{"v":1}');
  writeFileSync(join(bundle, "cells", "f1.json"), "{}");
  writeFileSync(join(bundle, "blobs", "sha256", "ab", "cdef"), "blob bytes");
  writeFileSync(join(bundle, ".lock", "pid"), "123");
  return dir;
}

test("copies the small files, links the bundle's blobs, leaves the host's lock behind", async () => {
  const src = workDir();
  const dest = join(mkdtempSync(join(tmpdir(), "nbrewind-stage-out-")), "in");
  const counts = await stageWorkDir(src, dest);
  expect(counts).toEqual({ copied: 4, linked: 1 });
  const blob = join(dest, "nb.nbrewind", "blobs", "sha256", "ab", "cdef");
  expect(lstatSync(blob).isSymbolicLink()).toBe(true);
  expect(readlinkSync(blob)).toBe(join(src, "nb.nbrewind", "blobs", "sha256", "ab", "cdef"));
  expect(readFileSync(blob, "utf8")).toBe("blob bytes");
  for (const f of ["nb.ipynb", "data.csv", "nb.nbrewind/manifest.json", "nb.nbrewind/cells/f1.json"]) expect(lstatSync(join(dest, f)).isFile()).toBe(true);
  expect(existsSync(join(dest, "nb.nbrewind", ".lock"))).toBe(false);
  expect(lstatSync(join(dest, "nb.nbrewind", "blobs", "tmp")).isDirectory()).toBe(true);
});

test("what a repeat writes lands in the copy, never in the source", async () => {
  const src = workDir();
  const dest = join(mkdtempSync(join(tmpdir(), "nbrewind-stage-out-")), "in");
  await stageWorkDir(src, dest);
  // The store's way: a temp file renamed into place (a new blob, a new manifest).
  const blobs = join(dest, "nb.nbrewind", "blobs");
  writeFileSync(join(blobs, "tmp", "t1"), "new blob");
  mkdirSync(join(blobs, "sha256", "cd"), { recursive: true });
  renameSync(join(blobs, "tmp", "t1"), join(blobs, "sha256", "cd", "ef01"));
  writeFileSync(join(dest, "nb.nbrewind", "manifest.tmp"), '{"v":2}');
  renameSync(join(dest, "nb.nbrewind", "manifest.tmp"), join(dest, "nb.nbrewind", "manifest.json"));
  expect(readFileSync(join(src, "nb.nbrewind", "manifest.json"), "utf8")).toBe('{"v":1}');
  expect(existsSync(join(src, "nb.nbrewind", "blobs", "sha256", "cd"))).toBe(false);
});

test("a folder named blobs outside a bundle is copied like any other", async () => {
  const src = mkdtempSync(join(tmpdir(), "nbrewind-stage-test-"));
  mkdirSync(join(src, "blobs"));
  writeFileSync(join(src, "blobs", "x"), "user data");
  const dest = join(mkdtempSync(join(tmpdir(), "nbrewind-stage-out-")), "in");
  expect(await stageWorkDir(src, dest)).toEqual({ copied: 1, linked: 0 });
  expect(lstatSync(join(dest, "blobs", "x")).isFile()).toBe(true);
});
