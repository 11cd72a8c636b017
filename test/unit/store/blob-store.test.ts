import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { InputError } from "../../../src/common/errors.js";
import { BlobStore, CorruptBlobError, MissingBlobError } from "../../../src/store/index.js";
import { errorOf, putBlob, sha256, tempDir } from "./helpers.js";

function flipByte(path: string, at: number): void {
  const data = readFileSync(path);
  data[at] = (data[at] as number) ^ 0x01;
  writeFileSync(path, data);
}

function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

describe("BlobStore", () => {
  test("paths follow the layout shared with the shim", () => {
    const store = new BlobStore("/b/blobs");
    const d = sha256("x");
    expect(store.pathFor(d)).toBe(`/b/blobs/sha256/${d.slice(0, 2)}/${d.slice(2)}`);
  });

  test("a digest that is not 64 lowercase hex is refused before it becomes a path", async () => {
    const store = new BlobStore(tempDir());
    for (const bad of ["../../etc/passwd", "A".repeat(64), "ab", ""]) {
      const err = await errorOf(() => store.pathFor(bad));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain("not a sha256 digest");
    }
  });

  test("writeAtomic stores by content, deduplicates, and leaves no temp file", async () => {
    const root = tempDir();
    const store = new BlobStore(root);
    const first = await store.writeAtomic("hello");
    expect(first).toEqual({ digest: sha256("hello"), size: 5, created: true });
    expect((await store.writeAtomic(Buffer.from("hello"))).created).toBe(false);
    expect(await store.has(first.digest)).toBe(true);
    expect(await store.size(first.digest)).toBe(5);
    expect((await store.readVerified(first.digest)).toString()).toBe("hello");
    expect(await store.list()).toEqual([first.digest]);
    expect(readFileSync(store.pathFor(first.digest), "utf8")).toBe("hello");
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("readVerified refuses a corrupt blob, naming the digest and the path", async () => {
    const root = tempDir();
    const store = new BlobStore(root);
    const digest = putBlob(root, "some value bytes");
    flipByte(store.pathFor(digest), 3);
    const err = await errorOf(() => store.readVerified(digest));
    expect(err).toBeInstanceOf(CorruptBlobError);
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(digest);
    expect(err.message).toContain(store.pathFor(digest));
    expect((err as CorruptBlobError).actualDigest).not.toBe(digest);
    // The streaming check agrees.
    expect(await errorOf(() => store.verify(digest))).toBeInstanceOf(CorruptBlobError);
  });

  test("a missing blob is a MissingBlobError naming digest and path", async () => {
    const store = new BlobStore(tempDir());
    const digest = sha256("absent");
    for (const op of [() => store.readVerified(digest), () => store.size(digest), () => store.verify(digest)]) {
      const err = await errorOf(op);
      expect(err).toBeInstanceOf(MissingBlobError);
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(digest);
      expect(err.message).toContain(store.pathFor(digest));
    }
    expect(await store.has(digest)).toBe(false);
  });

  test("scan lists digests and reports stray files", async () => {
    const root = tempDir();
    const store = new BlobStore(root);
    const a = putBlob(root, "a");
    mkdirSync(join(root, "sha256", "zz"), { recursive: true });
    writeFileSync(join(root, "sha256", a.slice(0, 2), "short"), "x");
    const scan = await store.scan();
    expect(scan.digests).toEqual([a]);
    expect(scan.strays.sort()).toEqual([`sha256/${a.slice(0, 2)}/short`, "sha256/zz"].sort());
  });

  test("gc deletes only unreferenced blobs past the grace period, and stale temp files", async () => {
    const root = tempDir();
    const store = new BlobStore(root);
    const keep = putBlob(root, "keep");
    const old = putBlob(root, "old garbage");
    const fresh = putBlob(root, "fresh, maybe a run in progress");
    age(store.pathFor(keep), 2 * 3600_000);
    age(store.pathFor(old), 2 * 3600_000);
    mkdirSync(store.tmpDir, { recursive: true });
    const staleTmp = join(store.tmpDir, "deadbeef.123.abcd");
    const liveTmp = join(store.tmpDir, "cafe.456.ef01");
    writeFileSync(staleTmp, "partial");
    writeFileSync(liveTmp, "being written");
    age(staleTmp, 2 * 3600_000);

    const result = await store.gc(new Set([keep]));
    expect(result).toEqual({ removed: 1, bytes: "old garbage".length, tmpRemoved: 1 });
    expect(await store.list()).toEqual([keep, fresh].sort());
    expect(existsSync(staleTmp)).toBe(false);
    expect(existsSync(liveTmp)).toBe(true);

    // With no grace period the fresh one goes too.
    expect((await store.gc(new Set([keep]), { graceMs: 0 })).removed).toBe(1);
    expect(await store.list()).toEqual([keep]);
  });
});
