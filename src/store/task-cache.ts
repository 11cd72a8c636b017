/**
 * A task cache outside any bundle: the shared `cache.dir` of nbrewind.yaml
 * (several notebooks and bundles write it concurrently) or a read-only
 * `cache.read` folder a pipeline author publishes. Layout, shared with the
 * kernel shim (engines/python/nbrewind/tasks/shared_cache.py), which reads it:
 *
 *   tasks/<2 hex>/<task key>.json   one entry per task key (schemas/task-cache-entry.schema.json)
 *   blobs/sha256/<2 hex>/<62 hex>   the results, content-addressed as in a bundle
 *   refs/<bundle id>.json           what the latest run of each bundle needs (gc keeps it)
 *   uses/<run id>.jsonl             which entries each run served (hits, last used)
 *   index.jsonl                     every entry published, one line each with its blobs' sizes:
 *                                   what ls, du and gc read (one file, not 100,000)
 *   .lock                           held while publishing and collecting
 *
 * Safety under concurrent writers: a blob is published by linking (or
 * copying) it to a temp name inside blobs/tmp and renaming it into place —
 * same name, same bytes, so racing writers are harmless; an entry is
 * written to a temp file and renamed, so a reader sees a whole entry or
 * none. Publishing and gc take the cache's directory lock, so gc never
 * removes a blob between a writer's link and its entry. Readers take no
 * lock: an entry whose blob vanished is a miss (the task runs), never a
 * wrong hit.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { copyFile, link, mkdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../common/atomic-file.js";
import { withDirectoryLock } from "../common/directory-lock.js";
import { BlobStore } from "./blob-store.js";
import { isDigest } from "./digest.js";

export const TASK_CACHE_FORMAT = 1;

export interface TaskCacheEntry {
  format_version: 1;
  key: string;
  engine: string;
  /** module.qualname of the task's function. */
  function: string;
  digest: string;
  size: number;
  blobs?: string[];
  pack?: { digest: string; offset: number };
  /** The pin that keyed it, if any: a pinned result is never collected. */
  pin?: { version: string; by: string; keep?: boolean };
  created_at: string;
  /** The bundle and notebook whose run published it. */
  producer: { bundle: string; notebook: string };
}

/** What the latest run of one bundle needs from this cache. */
export interface BundleRef {
  format_version: 1;
  bundle: string;
  notebook: string;
  updated_at: string;
  keys: string[];
}

/** One line of index.jsonl: an entry and the sizes of the blobs it needs; the last line of a key wins. */
export interface IndexLine {
  entry: TaskCacheEntry;
  /** The size of each of entryBlobs(entry), in that order (0: missing when it was indexed). */
  sizes: number[];
}

export const INDEX_FILE = "index.jsonl";

export interface CacheUse {
  hits: number;
  lastUsed?: string;
}

const KEY = /^[0-9a-f]{64}$/;

export class TaskCache {
  readonly blobs: BlobStore;

  constructor(readonly root: string) {
    this.blobs = new BlobStore(join(root, "blobs"));
  }

  entryPath(key: string): string {
    return join(this.root, "tasks", key.slice(0, 2), `${key}.json`);
  }

  get lockDir(): string {
    return join(this.root, ".lock");
  }

  /** Entries, blobs and refs can be created here; throws the OS error otherwise. */
  async probeWritable(): Promise<void> {
    for (const sub of ["tasks", "blobs/tmp", "refs", "uses"]) await mkdir(join(this.root, sub), { recursive: true });
    const probe = join(this.root, "blobs", "tmp", `.probe.${process.pid}.${randomBytes(4).toString("hex")}`);
    await writeFile(probe, "");
    await unlink(probe);
  }

  async withLock<T>(body: () => Promise<T>, progress: (line: string) => void = () => {}): Promise<T> {
    await mkdir(this.root, { recursive: true });
    return withDirectoryLock(this.lockDir, progress, body);
  }

  /**
   * Publish results held by `source` (a bundle's blob store): their blobs
   * first, then their entries, under the cache's lock.
   */
  async publish(entries: TaskCacheEntry[], source: BlobStore): Promise<number> {
    if (entries.length === 0) return 0;
    return this.withLock(async () => {
      const lines: string[] = [];
      for (const entry of entries) {
        const sizes: number[] = [];
        let complete = true;
        for (const digest of entryBlobs(entry)) {
          const size = await this.importBlob(source, digest);
          if (size === undefined) complete = false;
          else sizes.push(size);
        }
        if (!complete) continue; // the bundle lost a blob: publishing the entry would promise what is not there
        const path = this.entryPath(entry.key);
        await mkdir(dirname(path), { recursive: true });
        await writeJsonAtomic(path, entry);
        lines.push(indexLine(entry, sizes));
      }
      // After the entries: an index line never names an entry that is not there (a crash in between
      // leaves entries the index lacks, which 'cache gc' finds and indexes again).
      if (lines.length) await writeFile(this.indexPath, lines.join(""), { flag: "a" });
      return lines.length;
    });
  }

  get indexPath(): string {
    return join(this.root, INDEX_FILE);
  }

  /** Link (or copy) a blob from another store into this one, atomically. Its size; undefined if the source lacks it. */
  async importBlob(source: BlobStore, digest: string): Promise<number | undefined> {
    const final = this.blobs.pathFor(digest);
    const there = await stat(final).catch(() => undefined);
    if (there?.isFile()) return there.size;
    const from = source.pathFor(digest);
    await mkdir(this.blobs.tmpDir, { recursive: true });
    await mkdir(dirname(final), { recursive: true });
    const temp = join(this.blobs.tmpDir, `${digest.slice(0, 16)}.${process.pid}.${randomBytes(4).toString("hex")}`);
    try {
      try {
        await link(from, temp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        await copyFile(from, temp);
      }
      const { size } = await stat(temp);
      await rename(temp, final);
      return size;
    } catch (err) {
      await rm(temp, { force: true });
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /** Record what the latest run of a bundle needs, replacing what its earlier runs needed. */
  async writeRef(bundleDir: string, notebook: string, keys: Iterable<string>): Promise<void> {
    const ref: BundleRef = { format_version: 1, bundle: bundleDir, notebook, updated_at: new Date().toISOString(), keys: [...new Set(keys)].sort() };
    await mkdir(join(this.root, "refs"), { recursive: true });
    await writeJsonAtomic(join(this.root, "refs", `${refId(bundleDir)}.json`), ref);
  }

  /** Note the entries a run served: one file per run, so concurrent runs never share a file. */
  async noteUses(runId: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const at = new Date().toISOString();
    await mkdir(join(this.root, "uses"), { recursive: true });
    await writeFile(join(this.root, "uses", `${runId}.jsonl`), keys.map((key) => JSON.stringify({ key, at })).join("\n") + "\n", { flag: "a" });
  }

  // ---------------------------------------------------------------- reading (sync: 100,000 small files)

  /** Every entry; unreadable or malformed files are returned in `bad` with the reason. */
  scanEntries(): { entries: TaskCacheEntry[]; bad: { path: string; reason: string }[] } {
    const entries: TaskCacheEntry[] = [];
    const bad: { path: string; reason: string }[] = [];
    const tasks = join(this.root, "tasks");
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (const prefix of listSync(tasks)) {
      for (const name of listSync(join(tasks, prefix))) {
        if (!name.endsWith(".json") || name.startsWith(".")) continue;
        const path = join(tasks, prefix, name);
        try {
          const entry = parseEntry(readSmall(path, buffer));
          if (typeof entry === "string") bad.push({ path, reason: entry });
          else if (`${entry.key}.json` !== name) bad.push({ path, reason: `its key ${entry.key.slice(0, 12)}… does not match its file name` });
          else entries.push(entry);
        } catch (err) {
          bad.push({ path, reason: (err as Error).message });
        }
      }
    }
    return { entries, bad };
  }

  async hasTasks(): Promise<boolean> {
    return stat(join(this.root, "tasks")).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  /**
   * The index, by key (the last line of a key wins); undefined when the cache
   * has none yet. A half-written last line (a writer killed mid-append) is skipped.
   */
  readIndex(): Map<string, IndexLine> | undefined {
    let text: string;
    try {
      text = readFileSync(this.indexPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    const out = new Map<string, IndexLine>();
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      if (end > start) {
        try {
          const line = decodeIndexLine(JSON.parse(text.slice(start, end)) as IndexArray);
          if (line) out.set(line.entry.key, line);
        } catch {
          // a line cut short: its entry is found again by the next gc's rebuild
        }
      }
      start = end + 1;
    }
    return out;
  }

  /** Replace the index (under the lock): what gc keeps, or a rebuild from the entry files. */
  async writeIndex(lines: Iterable<IndexLine>): Promise<void> {
    const parts: string[] = [];
    for (const l of lines) parts.push(indexLine(l.entry, l.sizes));
    await writeFileAtomic(this.indexPath, parts.join(""));
  }

  /**
   * Every entry with its blobs' sizes: from the index, reconciled with the
   * entry files' names (a listing, no reads): an entry file the index lacks
   * (a writer died between the two) is read and added, an indexed entry whose
   * file is gone is dropped. With no index yet, every entry file is read.
   * `changed` says the index should be rewritten (gc does, under the lock).
   */
  indexed(options: { reconcile?: boolean } = {}): { lines: Map<string, IndexLine>; bad: { path: string; reason: string }[]; changed: boolean } {
    const read = this.readIndex();
    if (read && options.reconcile === false) return { lines: read, bad: [], changed: false };
    const index = read ?? new Map<string, IndexLine>();
    // Names only; the index is copied only when it lacks an entry or names one that is gone (rare: a writer died).
    const bad: { path: string; reason: string }[] = [];
    const tasks = join(this.root, "tasks");
    const unindexed: { key: string; path: string }[] = [];
    const names: string[] = [];
    let indexedOnDisk = 0;
    for (const prefix of listSync(tasks)) {
      for (const name of listSync(join(tasks, prefix))) {
        if (!name.endsWith(".json") || name.startsWith(".")) continue;
        const key = name.slice(0, -5);
        if (index.has(key)) indexedOnDisk++;
        else unindexed.push({ key, path: join(tasks, prefix, name) });
        names.push(key);
      }
    }
    if (unindexed.length === 0 && indexedOnDisk === index.size) return { lines: index, bad, changed: false };
    const onDisk = new Set(names);
    const lines = new Map<string, IndexLine>();
    for (const [key, line] of index) if (onDisk.has(key)) lines.set(key, line);
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (const { key, path } of unindexed) {
      try {
        const entry = parseEntry(readSmall(path, buffer));
        if (typeof entry === "string") bad.push({ path, reason: entry });
        else lines.set(key, { entry, sizes: this.sizesOf(entry) });
      } catch (err) {
        bad.push({ path, reason: (err as Error).message });
      }
    }
    return { lines, bad, changed: true };
  }

  private sizesOf(entry: TaskCacheEntry): number[] {
    return entryBlobs(entry).map((d) => {
      try {
        return statSync(this.blobs.pathFor(d)).size;
      } catch {
        return 0; // missing: verify reports it
      }
    });
  }

  /** Size on disk of each blob, by digest (a stat each). */
  statBlobs(digests: Iterable<string>): Map<string, number> {
    const out = new Map<string, number>();
    for (const d of digests) {
      try {
        out.set(d, statSync(this.blobs.pathFor(d)).size);
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  /** Digests of every blob in the store, by listing names only (no stat). */
  blobDigests(): string[] {
    const out: string[] = [];
    const objects = this.blobs.objectsDir;
    for (const prefix of listSync(objects)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of listSync(join(objects, prefix))) if (isDigest(prefix + rest)) out.push(prefix + rest);
    }
    return out;
  }

  refs(): BundleRef[] {
    const dir = join(this.root, "refs");
    const out: BundleRef[] = [];
    for (const name of listSync(dir)) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      try {
        const ref = JSON.parse(readFileSync(join(dir, name), "utf8")) as BundleRef;
        if (typeof ref.bundle === "string" && Array.isArray(ref.keys)) out.push(ref);
      } catch {
        // a ref being replaced or damaged: it protects nothing, gc says so by not counting it
      }
    }
    return out;
  }

  uses(): Map<string, CacheUse> {
    const dir = join(this.root, "uses");
    const out = new Map<string, CacheUse>();
    for (const name of listSync(dir)) {
      if (!name.endsWith(".jsonl")) continue;
      let text: string;
      try {
        text = readFileSync(join(dir, name), "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n")) {
        if (!line) continue;
        try {
          const { key, at } = JSON.parse(line) as { key: string; at: string };
          const u = out.get(key) ?? { hits: 0 };
          u.hits++;
          if (!u.lastUsed || u.lastUsed < at) u.lastUsed = at;
          out.set(key, u);
        } catch {
          // half a line from a run that died mid-write: skip it
        }
      }
    }
    return out;
  }

  async removeEntry(key: string): Promise<void> {
    await rm(this.entryPath(key), { force: true });
  }

  async removeBlob(digest: string): Promise<void> {
    await rm(this.blobs.pathFor(digest), { force: true });
  }
}

/** The blobs an entry needs: its result (or the pack holding it) and the blobs the result refers to. */
export function entryBlobs(entry: Pick<TaskCacheEntry, "digest" | "pack" | "blobs">): string[] {
  return [entry.pack ? entry.pack.digest : entry.digest, ...(entry.blobs ?? [])];
}

/**
 * One index line: a JSON array, not an object — about half the bytes, and
 * parsing 100,000 lines is what `cache ls` spends its time on:
 *
 *   [1, key, engine, function, digest, size, created_at, bundle, notebook,
 *    pin version | null, pin by | null, keep (0/1), blobs | null, pack digest | null, pack offset | null,
 *    sizes of entryBlobs(entry), in that order]
 */
export function indexLine(entry: TaskCacheEntry, sizes: readonly number[]): string {
  const e = entry;
  return JSON.stringify([1, e.key, e.engine, e.function, e.digest, e.size, e.created_at, e.producer.bundle, e.producer.notebook, e.pin?.version ?? null, e.pin?.by ?? null, e.pin?.keep ? 1 : 0, e.blobs ?? null, e.pack?.digest ?? null, e.pack?.offset ?? null, sizes]) + "\n";
}

type IndexArray = [1, string, string, string, string, number, string, string, string, string | null, string | null, 0 | 1, string[] | null, string | null, number | null, number[]];

/** Built field by field, not by spreading: 100,000 of these are what `cache ls` spends its time on. */
function decodeIndexLine(a: IndexArray): IndexLine | undefined {
  if (!Array.isArray(a) || a[0] !== 1 || a.length !== 16 || !Array.isArray(a[15])) return undefined;
  const entry: TaskCacheEntry = { format_version: 1, key: a[1], engine: a[2], function: a[3], digest: a[4], size: a[5], created_at: a[6], producer: { bundle: a[7], notebook: a[8] } };
  if (a[12]) entry.blobs = a[12];
  if (a[13] !== null) entry.pack = { digest: a[13], offset: a[14]! };
  if (a[9] !== null) entry.pin = a[11] ? { version: a[9], by: a[10]!, keep: true } : { version: a[9], by: a[10]! };
  return { entry, sizes: a[15] };
}

export function refId(bundleDir: string): string {
  return createHash("sha256").update(bundleDir).digest("hex").slice(0, 32);
}

function listSync(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A small file in one read (entries are a few hundred bytes): faster than readFileSync at 100,000 files. */
function readSmall(path: string, buffer: Buffer): string {
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    if (n < buffer.length) return buffer.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, "utf8");
}

/** The entry, or why it is not one. */
export function parseEntry(text: string): TaskCacheEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const e = v as Partial<TaskCacheEntry>;
  if (!e || typeof e !== "object") return "not an object";
  if (e.format_version !== TASK_CACHE_FORMAT) return `format_version is ${String(e.format_version)}, expected ${TASK_CACHE_FORMAT}`;
  if (typeof e.key !== "string" || !KEY.test(e.key)) return "key is not a task key";
  if (typeof e.digest !== "string" || !isDigest(e.digest)) return "digest is not a sha256 digest";
  if (typeof e.size !== "number" || e.size < 0) return "size is not a byte count";
  if (e.pack && !isDigest(e.pack.digest)) return "pack.digest is not a sha256 digest";
  if (e.blobs && !e.blobs.every(isDigest)) return "blobs holds something that is not a digest";
  if (typeof e.function !== "string" || typeof e.created_at !== "string") return "function or created_at is missing";
  return e as TaskCacheEntry;
}
