/**
 * sha256 digests as the store names blobs: 64 lowercase hex characters.
 * Hashing files is always streamed, so a multi-GB blob never sits in memory.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export const DIGEST_ALGORITHM = "sha256";
export const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/** Read size for hashing: large enough to amortise syscalls, small enough to bound memory. */
export const HASH_CHUNK_BYTES = 4 << 20;

/** A digest becomes a path: anything but 64 lowercase hex could escape the store. */
export function isDigest(value: unknown): value is string {
  return typeof value === "string" && DIGEST_PATTERN.test(value);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash(DIGEST_ALGORITHM).update(data).digest("hex");
}

/** Streaming sha256 of a file, with its size. Rejects with the fs error (ENOENT for a missing file). */
export async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash(DIGEST_ALGORITHM);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: HASH_CHUNK_BYTES })) {
    const buf = chunk as Buffer;
    size += buf.length;
    hash.update(buf);
  }
  return { digest: hash.digest("hex"), size };
}
