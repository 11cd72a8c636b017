import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, test } from "vitest";
import { BlobStore, verifyBlobs, type VerifyProgress } from "../../../src/store/index.js";
import { putBlob, sha256, tempDir } from "./helpers.js";

/** Write `size` pseudo-random bytes in 4 MiB pieces, hashing as we go; returns the digest and path. */
function writeLargeBlob(store: BlobStore, size: number): { digest: string; path: string } {
  const piece = Buffer.alloc(4 << 20);
  const hash = createHash("sha256");
  const temp = `${store.root}/large.tmp`;
  mkdirSync(store.root, { recursive: true });
  const fd = openSync(temp, "w");
  let seed = 12345;
  for (let written = 0; written < size; written += piece.length) {
    for (let i = 0; i < piece.length; i += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      piece.writeUInt32LE(seed, i);
    }
    const n = Math.min(piece.length, size - written);
    hash.update(piece.subarray(0, n));
    writeSync(fd, piece, 0, n);
  }
  closeSync(fd);
  const digest = hash.digest("hex");
  const path = store.pathFor(digest);
  mkdirSync(dirname(path), { recursive: true });
  renameSync(temp, path);
  return { digest, path };
}

describe("verifyBlobs", () => {
  test("reports ok, missing and corrupt blobs, in the pool and inline, with progress", async () => {
    const root = tempDir();
    const store = new BlobStore(root);
    const ok = putBlob(root, "fine");
    const bad = putBlob(root, "will be flipped");
    const missing = sha256("never written");
    const fd = openSync(store.pathFor(bad), "r+");
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 5);
    b[0] = (b[0] as number) ^ 0x80;
    writeSync(fd, b, 0, 1, 5);
    closeSync(fd);

    for (const inlineBelowBytes of [0, 1 << 20]) {
      const progress: VerifyProgress[] = [];
      const checks = await verifyBlobs(store, [ok, bad, missing, ok], { inlineBelowBytes, threads: 2, onProgress: (p) => progress.push(p) });
      expect(checks.map((c) => [c.digest, c.status])).toEqual([
        [ok, "ok"],
        [bad, "corrupt"],
        [missing, "missing"],
      ]);
      const corrupt = checks[1];
      expect(corrupt?.status === "corrupt" && corrupt.actual).not.toBe(bad);
      expect(progress.map((p) => p.done).sort()).toEqual([1, 2, 3]);
      expect(progress.at(-1)?.total).toBe(3);
    }
  });

  test("no digests, no work", async () => {
    expect(await verifyBlobs(new BlobStore(tempDir()), [])).toEqual([]);
  });

  test("a 200 MB blob is streamed through the pool and verified", async () => {
    const dir = tempDir();
    try {
      const store = new BlobStore(dir);
      const size = 200 * 1024 * 1024 + 17;
      const { digest } = writeLargeBlob(store, size);
      const checks = await verifyBlobs(store, [digest]);
      expect(checks).toEqual([{ digest, path: store.pathFor(digest), status: "ok", size }]);
      // And the single-blob streaming check in this thread agrees.
      expect(await store.verify(digest)).toEqual({ size });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
