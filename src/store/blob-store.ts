/**
 * The content-addressed blob store of one bundle. Layout, shared with the
 * kernel shim (engines/python/nbrewind/blob_store.py), which writes most blobs:
 *
 *   <root>/sha256/<first 2 hex>/<remaining 62 hex>   a blob; its sha256 is its name
 *   <root>/tmp/                                      writes in progress, renamed into place
 *
 * A blob is immutable once renamed into place: same name, same bytes. So
 * readers need no lock, two writers of the same value race harmlessly (the
 * second rename replaces identical bytes), and a crash leaves at worst a
 * stray temp file, which gc removes once it is old.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../common/errors.js";
import { DIGEST_ALGORITHM, hashFile, isDigest, sha256Hex } from "./digest.js";
import { CorruptBlobError, MissingBlobError } from "./errors.js";

/** A temp file older than this belongs to a process that died (no blob write takes an hour). */
export const STALE_TMP_MS = 60 * 60 * 1000;

const PREFIX = /^[0-9a-f]{2}$/;
const REST = /^[0-9a-f]{62}$/;

export interface GcOptions {
  /**
   * Blobs modified more recently than this are kept even when unreferenced: a
   * run in progress writes its blobs before the record that refers to them,
   * and gc must not delete them in between. Default: STALE_TMP_MS.
   */
  graceMs?: number;
  /** Temp files older than this are removed. Default: STALE_TMP_MS. */
  tmpMaxAgeMs?: number;
  /** For tests: the current time in ms. */
  now?: number;
}

export interface GcResult {
  removed: number;
  bytes: number;
  tmpRemoved: number;
}

export interface StoreScan {
  digests: string[];
  /** Files under sha256/ whose path is not a digest (relative to the store root). */
  strays: string[];
}

export class BlobStore {
  /** `root` is the `blobs` folder of a bundle. */
  constructor(readonly root: string) {}

  get tmpDir(): string {
    return join(this.root, "tmp");
  }

  get objectsDir(): string {
    return join(this.root, DIGEST_ALGORITHM);
  }

  pathFor(digest: string): string {
    if (!isDigest(digest)) throw new InputError(`not a sha256 digest (64 lowercase hex characters): ${JSON.stringify(digest)}`);
    return join(this.objectsDir, digest.slice(0, 2), digest.slice(2));
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathFor(digest)).then(
      (s) => s.isFile(),
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ENOTDIR") return false;
        throw err;
      },
    );
  }

  /** Size in bytes; MissingBlobError if absent. Does not check the content. */
  async size(digest: string): Promise<number> {
    const path = this.pathFor(digest);
    try {
      return (await stat(path)).size;
    } catch (err) {
      throw this.fsError(err, digest, path);
    }
  }

  /**
   * The whole blob, checked against its name. Loads it into memory, so it is
   * meant for small blobs; use `verify` to check a large one.
   */
  async readVerified(digest: string): Promise<Buffer> {
    const path = this.pathFor(digest);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      throw this.fsError(err, digest, path);
    }
    const actual = sha256Hex(data);
    if (actual !== digest) throw new CorruptBlobError(digest, path, actual);
    return data;
  }

  /** Stream the blob through sha256; throws MissingBlobError / CorruptBlobError. */
  async verify(digest: string): Promise<{ size: number }> {
    const path = this.pathFor(digest);
    let result: { digest: string; size: number };
    try {
      result = await hashFile(path);
    } catch (err) {
      throw this.fsError(err, digest, path);
    }
    if (result.digest !== digest) throw new CorruptBlobError(digest, path, result.digest);
    return { size: result.size };
  }

  /**
   * Store bytes written from this process (the shim writes the kernel's
   * values itself). Returns the digest; `created` is false when the blob was
   * already there.
   */
  async writeAtomic(data: Uint8Array | string): Promise<{ digest: string; size: number; created: boolean }> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const digest = sha256Hex(bytes);
    const final = this.pathFor(digest);
    if (await this.has(digest)) return { digest, size: bytes.length, created: false };
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(join(final, ".."), { recursive: true });
    const temp = join(this.tmpDir, `${digest.slice(0, 16)}.${process.pid}.${randomBytes(4).toString("hex")}`);
    try {
      const handle = await open(temp, "wx", 0o644);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, final);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { digest, size: bytes.length, created: true };
  }

  /** Every digest in the store, and any file under sha256/ that is not one. */
  async scan(): Promise<StoreScan> {
    const digests: string[] = [];
    const strays: string[] = [];
    for (const prefix of await readdirOrEmpty(this.objectsDir)) {
      const rel = `${DIGEST_ALGORITHM}/${prefix.name}`;
      if (!prefix.isDirectory() || !PREFIX.test(prefix.name)) {
        strays.push(rel);
        continue;
      }
      for (const entry of await readdirOrEmpty(join(this.objectsDir, prefix.name))) {
        if (entry.isFile() && REST.test(entry.name)) digests.push(prefix.name + entry.name);
        else strays.push(`${rel}/${entry.name}`);
      }
    }
    digests.sort();
    return { digests, strays };
  }

  async list(): Promise<string[]> {
    return (await this.scan()).digests;
  }

  /**
   * Delete blobs not in `keep` (and older than the grace period), and temp
   * files left by dead writers. Prefix folders are kept even when empty: the
   * shim creates a prefix folder and then renames into it, and removing the
   * folder in between would make its write fail.
   */
  async gc(keep: ReadonlySet<string>, options: GcOptions = {}): Promise<GcResult> {
    const now = options.now ?? Date.now();
    const graceMs = options.graceMs ?? STALE_TMP_MS;
    const tmpMaxAgeMs = options.tmpMaxAgeMs ?? STALE_TMP_MS;
    const result: GcResult = { removed: 0, bytes: 0, tmpRemoved: 0 };
    for (const digest of await this.list()) {
      if (keep.has(digest)) continue;
      const path = this.pathFor(digest);
      const s = await stat(path).catch(() => undefined);
      if (!s || now - s.mtimeMs < graceMs) continue;
      await rm(path, { force: true });
      result.removed += 1;
      result.bytes += s.size;
    }
    for (const entry of await readdirOrEmpty(this.tmpDir)) {
      const path = join(this.tmpDir, entry.name);
      const s = await stat(path).catch(() => undefined);
      if (!s || now - s.mtimeMs < tmpMaxAgeMs) continue;
      await rm(path, { recursive: true, force: true });
      result.tmpRemoved += 1;
    }
    return result;
  }

  private fsError(err: unknown, digest: string, path: string): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return new MissingBlobError(digest, path);
    return err as Error;
  }
}

async function readdirOrEmpty(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
