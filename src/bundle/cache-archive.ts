/**
 * A task cache's results in one file, for `cache export FILE` and `cache
 * import FILE`: what a pipeline author hands to a colleague or publishes
 * beside the notebook. A tar (gzip-compressed when the name ends in .gz or
 * .tgz), written with the pack's own tar codec:
 *
 *   nbrewind-cache.json              first: every entry with the sha256 of its
 *                                    file and the blobs it needs, every blob's size
 *                                    (schemas/cache-export.schema.json)
 *   tasks/<2 hex>/<key>.json         the entries, as in a task cache
 *   blobs/sha256/<2 hex>/<62 hex>    the results, named by their digest
 *
 * Import trusts nothing in the file: each blob is hashed as it streams into a
 * staging folder inside the target cache and must hash to its name, each
 * entry file must match the digest the manifest lists for it, and every
 * entry must find its blobs in the file. Only when the whole file checks out
 * are the entries published (under the cache's lock, like any publisher); a
 * problem names the entry (function and key) and nothing is written. An
 * entry the cache already holds with a different result is a conflict: it
 * is refused unless the caller asks to replace it, never overwritten silently.
 *
 * The manifest is not signed: the digests catch a damaged or edited file,
 * not a publisher who rewrites the manifest too.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createGunzip } from "node:zlib";
import { InputError } from "../common/errors.js";
import { BlobStore } from "../store/blob-store.js";
import { isDigest } from "../store/digest.js";
import { entryBlobs, parseEntry, type TaskCache, type TaskCacheEntry } from "../store/task-cache.js";
import { ParallelGzip, type ByteSink } from "./archive/parallel-gzip.js";
import { readTar, TarFormatError } from "./archive/tar-reader.js";
import { TarWriter } from "./archive/tar-writer.js";
import { assertValid } from "./schemas.js";

export const CACHE_EXPORT_MANIFEST = "nbrewind-cache.json";
const KIND = "nbrewind-task-cache-export";

export interface CacheExportManifest {
  format_version: 1;
  kind: typeof KIND;
  created_at: string;
  entries: { key: string; function: string; sha256: string; blobs: string[] }[];
  blobs: { digest: string; size: number }[];
}

/** A file name that asks for gzip. */
export function isGzipName(file: string): boolean {
  return /\.(tgz|gz)$/i.test(file);
}

/** What `cache export FILE` takes to mean a file rather than a folder: a tar name, or an existing file. */
export async function looksLikeArchive(path: string): Promise<boolean> {
  if (/\.(tar|tgz|tar\.gz)$/i.test(path)) return true;
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

const entryMember = (key: string) => `tasks/${key.slice(0, 2)}/${key}.json`;
const blobMember = (digest: string) => `blobs/sha256/${digest.slice(0, 2)}/${digest.slice(2)}`;
const ENTRY_MEMBER = /^tasks\/([0-9a-f]{2})\/([0-9a-f]{64})\.json$/;
const BLOB_MEMBER = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/;
/** An entry file is a few hundred bytes; anything much larger is not one. */
const MAX_ENTRY_BYTES = 1 << 20;

const named = (e: { function: string; key: string }) => `${e.function} (key ${e.key.slice(0, 12)})`;

export interface ExportResult {
  entries: number;
  blobs: number;
  bytes: number;
  /** Entries left out because the cache lacks one of their blobs. */
  skipped: number;
}

/**
 * Write `entries` of `cache` and their blobs into `output` (a temp file
 * beside it, renamed into place when complete). A blob whose bytes do not
 * match its name stops the export: we do not publish corruption.
 */
export async function exportCacheFile(cache: TaskCache, entries: TaskCacheEntry[], output: string): Promise<ExportResult> {
  const kept: { entry: TaskCacheEntry; text: string; blobs: string[] }[] = [];
  const sizes = new Map<string, number>();
  let skipped = 0;
  for (const entry of entries) {
    const blobs = [...new Set(entryBlobs(entry))];
    const found = await Promise.all(blobs.map((d) => cache.blobs.size(d).catch(() => undefined)));
    if (found.some((s) => s === undefined)) {
      skipped++;
      continue;
    }
    blobs.forEach((d, i) => sizes.set(d, found[i]!));
    kept.push({ entry, text: JSON.stringify(entry, null, 2) + "\n", blobs });
  }
  const manifest: CacheExportManifest = {
    format_version: 1,
    kind: KIND,
    created_at: new Date().toISOString(),
    entries: kept.map((k) => ({ key: k.entry.key, function: k.entry.function, sha256: sha256(k.text), blobs: k.blobs })),
    blobs: [...sizes].map(([digest, size]) => ({ digest, size })),
  };
  await mkdir(dirname(output), { recursive: true });
  const temp = join(dirname(output), `.${basename(output)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temp, "wx");
  let closed = false;
  try {
    const file: ByteSink = { write: (data) => writeAll(handle, data) };
    const gzip = isGzipName(output) ? new ParallelGzip(file) : undefined;
    const tar = new TarWriter(gzip ?? file);
    await tar.addBuffer(CACHE_EXPORT_MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"));
    const written = new Set<string>();
    let bytes = 0;
    for (const k of kept) {
      await tar.addBuffer(entryMember(k.entry.key), Buffer.from(k.text));
      for (const digest of k.blobs) {
        if (written.has(digest)) continue;
        written.add(digest);
        const w = await tar.addFile(blobMember(digest), cache.blobs.pathFor(digest));
        if (w.sha256 !== digest) throw new InputError(`cache export: blob ${digest.slice(0, 12)} of ${named(k.entry)} in ${cache.root} is damaged (its bytes hash to ${w.sha256.slice(0, 12)}); run 'nbrewind-engine cache verify'. Nothing was exported.`);
        bytes += w.size;
      }
    }
    await tar.finish();
    await gzip?.end();
    await handle.sync();
    await handle.close();
    closed = true;
    await rename(temp, output);
    return { entries: kept.length, blobs: written.size, bytes, skipped };
  } finally {
    if (!closed) await handle.close().catch(() => {});
    await rm(temp, { force: true });
  }
}

export interface ImportResult {
  /** Entries published into the cache. */
  entries: number;
  /** Entries the cache already held with the same result. */
  present: number;
  /** Entries the cache held with another result, replaced (only with `replace`). */
  replaced: string[];
}

/**
 * Check every member of `file`, then publish its entries into `cache`.
 * Throws InputError (nothing written) on anything that does not check out,
 * and on a conflicting entry unless `replace`.
 */
export async function importCacheFile(cache: TaskCache, file: string, options: { replace?: boolean } = {}): Promise<ImportResult> {
  await cache.probeWritable().catch((err: Error) => {
    throw new InputError(`cache import: cannot write ${cache.root} (${err.message})`);
  });
  const staging = new BlobStore(join(cache.blobs.tmpDir, `import-${process.pid}-${randomBytes(4).toString("hex")}`));
  try {
    return await publishImported(cache, await readCheckedArchive(file, staging), staging, file, options);
  } finally {
    await rm(staging.root, { recursive: true, force: true });
  }
}

/**
 * Publish imported entries (their blobs in `blobs`) into `cache`: those it
 * lacks, and those it holds with another result only with `replace`;
 * otherwise InputError listing the conflicts, nothing written.
 */
export async function publishImported(cache: TaskCache, entries: TaskCacheEntry[], blobs: BlobStore, from: string, options: { replace?: boolean }): Promise<ImportResult> {
  const { fresh, present, differing } = await compareWithCache(cache, entries);
  if (differing.length > 0 && !options.replace) {
    throw new InputError(`cache import: ${from} holds ${differing.length} result(s) that differ from the ones ${cache.root} already has; nothing was imported`, [
      ...differing.slice(0, 20).map((e) => `${named(e)}: another result than the cache's`),
      ...(differing.length > 20 ? [`… and ${differing.length - 20} more`] : []),
      "to keep the cache's results, leave them; to take these instead, import again with --replace",
    ]);
  }
  const published = await cache.publish([...fresh, ...differing], blobs);
  return { entries: published, present: present.length, replaced: differing.map((e) => e.key) };
}

/** Every blob the entries need hashes to its name in `blobs` (a folder import), or InputError naming the entry. */
export async function checkImportedBlobs(entries: TaskCacheEntry[], blobs: BlobStore, from: string): Promise<void> {
  const checked = new Set<string>();
  for (const entry of entries) {
    for (const digest of entryBlobs(entry)) {
      if (checked.has(digest)) continue;
      checked.add(digest);
      try {
        await blobs.verify(digest);
      } catch (err) {
        throw new InputError(`cache import: ${from}: the result of ${named(entry)} is missing or damaged (${(err as Error).message}); nothing was imported`);
      }
    }
  }
}

/** Entries split by what the cache holds under their key: nothing, the same result, another result. */
export async function compareWithCache(cache: TaskCache, entries: TaskCacheEntry[]): Promise<{ fresh: TaskCacheEntry[]; present: TaskCacheEntry[]; differing: TaskCacheEntry[] }> {
  const out = { fresh: [] as TaskCacheEntry[], present: [] as TaskCacheEntry[], differing: [] as TaskCacheEntry[] };
  for (const entry of entries) {
    const text = await readFile(cache.entryPath(entry.key), "utf8").catch(() => undefined);
    const held = text === undefined ? undefined : parseEntry(text);
    // A damaged entry file serves nothing: replacing it loses nothing.
    if (held === undefined || typeof held === "string") out.fresh.push(entry);
    else if (sameResult(held, entry)) out.present.push(entry);
    else out.differing.push(entry);
  }
  return out;
}

function sameResult(a: TaskCacheEntry, b: TaskCacheEntry): boolean {
  return a.digest === b.digest && a.pack?.digest === b.pack?.digest && a.pack?.offset === b.pack?.offset && entryBlobs(a).join() === entryBlobs(b).join();
}

/** Every entry of the file, its blobs staged in `staging`, or InputError naming the member or entry at fault. */
async function readCheckedArchive(file: string, staging: BlobStore): Promise<TaskCacheEntry[]> {
  const bad = (why: string, details: string[] = []) => new InputError(`cache import: ${file}: ${why}; nothing was imported`, details);
  const head = await readHead(file);
  if (head === undefined) throw new InputError(`cache import: ${file} does not exist or is not readable`);
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  const source = head[0] === 0x1f && head[1] === 0x8b ? input.pipe(createGunzip({ chunkSize: 256 << 10 })) : input;
  input.on("error", (err) => source.destroy(err));
  let manifest: CacheExportManifest | undefined;
  const entryInfo = new Map<string, CacheExportManifest["entries"][number]>();
  const usersOf = new Map<string, CacheExportManifest["entries"][number]>();
  const blobSizes = new Map<string, number>();
  const entries = new Map<string, TaskCacheEntry>();
  const blobsSeen = new Set<string>();
  try {
    for await (const member of readTar(source)) {
      if (!manifest) {
        if (member.path !== CACHE_EXPORT_MANIFEST) throw bad(`not a task cache export: its first member is ${JSON.stringify(member.path)}, expected ${CACHE_EXPORT_MANIFEST} (write one with 'nbrewind-engine cache export FILE')`);
        const text = (await collect(member.body, MAX_ENTRY_BYTES * 64, () => bad(`${CACHE_EXPORT_MANIFEST} is too large`))).toString("utf8");
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          throw bad(`${CACHE_EXPORT_MANIFEST} is not JSON`);
        }
        manifest = assertValid<CacheExportManifest>("cache-export", value, `${file}:${CACHE_EXPORT_MANIFEST}`);
        for (const b of manifest.blobs) blobSizes.set(b.digest, b.size);
        for (const e of manifest.entries) {
          entryInfo.set(e.key, e);
          for (const d of e.blobs) if (!usersOf.has(d)) usersOf.set(d, e);
        }
        continue;
      }
      if (member.type !== "file") throw bad(`member ${JSON.stringify(member.path)} is a ${member.type}: an export holds only files`);
      const asEntry = ENTRY_MEMBER.exec(member.path);
      const asBlob = BLOB_MEMBER.exec(member.path);
      if (asEntry && asEntry[2]!.startsWith(asEntry[1]!)) {
        const key = asEntry[2]!;
        const info = entryInfo.get(key);
        if (!info) throw bad(`entry ${key.slice(0, 12)} is not listed in ${CACHE_EXPORT_MANIFEST}: the file was altered`);
        if (entries.has(key)) throw bad(`entry ${named(info)} appears twice`);
        const bytes = await collect(member.body, MAX_ENTRY_BYTES, () => bad(`entry ${named(info)} is too large to be an entry`));
        if (sha256(bytes) !== info.sha256) throw bad(`entry ${named(info)} was altered or damaged: its file does not match the digest ${CACHE_EXPORT_MANIFEST} lists for it`);
        const entry = parseEntry(bytes.toString("utf8"));
        if (typeof entry === "string") throw bad(`entry ${named(info)} is not a task cache entry (${entry})`);
        if (entry.key !== key || entry.function !== info.function || entryBlobs(entry).join() !== info.blobs.join()) throw bad(`entry ${named(info)} does not say what ${CACHE_EXPORT_MANIFEST} says of it (key, function or blobs): the file was altered`);
        entries.set(key, entry);
      } else if (asBlob && isDigest(asBlob[1]! + asBlob[2]!)) {
        const digest = asBlob[1]! + asBlob[2]!;
        const user = usersOf.get(digest);
        if (!user) throw bad(`blob ${digest.slice(0, 12)} is not one any listed entry needs: the file was altered`);
        if (blobsSeen.has(digest)) throw bad(`blob ${digest.slice(0, 12)} appears twice`);
        if (blobSizes.get(digest) !== member.size) throw bad(`the result of ${named(user)} is ${member.size} bytes, ${CACHE_EXPORT_MANIFEST} says ${String(blobSizes.get(digest))}: the file was altered`);
        const got = await stageBlob(staging, digest, member.body);
        if (got !== digest) throw bad(`the result of ${named(user)} was altered or damaged: blob ${digest.slice(0, 12)} hashes to ${got.slice(0, 12)}`);
        blobsSeen.add(digest);
      } else {
        throw bad(`member ${JSON.stringify(member.path)} is not part of a task cache export`);
      }
    }
  } catch (err) {
    if (err instanceof TarFormatError) throw bad(`not a readable tar: ${err.message}`);
    if ((err as NodeJS.ErrnoException).code === "Z_DATA_ERROR") throw bad(`its gzip stream is corrupt (${(err as Error).message})`);
    throw err;
  } finally {
    input.destroy();
  }
  if (!manifest) throw bad("it is empty");
  for (const info of manifest.entries) {
    if (!entries.has(info.key)) throw bad(`entry ${named(info)} is listed but missing`);
    const lost = info.blobs.find((d) => !blobsSeen.has(d));
    if (lost) throw bad(`the result of ${named(info)} is missing (blob ${lost.slice(0, 12)})`);
  }
  return [...entries.values()];
}

async function stageBlob(staging: BlobStore, digest: string, body: AsyncIterable<Buffer>): Promise<string> {
  const path = staging.pathFor(digest);
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, "wx");
  const hash = createHash("sha256");
  try {
    for await (const piece of body) {
      hash.update(piece);
      await writeAll(handle, piece);
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

async function collect(body: AsyncIterable<Buffer>, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of body) {
    size += piece.length;
    if (size > limit) throw tooLarge();
    parts.push(Buffer.from(piece));
  }
  return Buffer.concat(parts);
}

async function readHead(file: string): Promise<Buffer | undefined> {
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(2);
      await handle.read(buffer, 0, 2, 0);
      return buffer;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
}
