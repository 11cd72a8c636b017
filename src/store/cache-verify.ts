/**
 * `cache verify`: every entry of a task cache is whole and true. Each blob
 * an entry needs is streamed through sha256 once (verifyBlobs: a worker
 * pool), a result's recorded size is checked against its blob, and files
 * that are not entries are reported. A problem is one line naming the entry.
 */
import { verifyBlobs } from "./verify.js";
import { entryBlobs, type TaskCache } from "./task-cache.js";

export interface CacheProblem {
  /** The entry's key (or the file, for a file that is not an entry). */
  where: string;
  problem: string;
}

export interface CacheVerifyResult {
  entries: number;
  blobs: number;
  bytes: number;
  problems: CacheProblem[];
}

export async function verifyCache(cache: TaskCache, options: { signal?: AbortSignal } = {}): Promise<CacheVerifyResult> {
  const { entries, bad } = cache.scanEntries();
  const problems: CacheProblem[] = bad.map((b) => ({ where: b.path, problem: `not a task cache entry: ${b.reason}` }));
  const digests = new Set(entries.flatMap(entryBlobs));
  const checks = new Map((await verifyBlobs(cache.blobs, digests, options.signal ? { signal: options.signal } : {})).map((c) => [c.digest, c]));
  let bytes = 0;
  for (const c of checks.values()) if (c.status === "ok") bytes += c.size;
  for (const entry of entries) {
    for (const digest of entryBlobs(entry)) {
      const c = checks.get(digest)!;
      if (c.status === "missing") problems.push({ where: entry.key, problem: `${entry.function}: blob ${digest} is missing` });
      else if (c.status === "corrupt") problems.push({ where: entry.key, problem: `${entry.function}: blob ${digest} is corrupt (its bytes hash to ${c.actual})` });
      else if (c.status === "unreadable") problems.push({ where: entry.key, problem: `${entry.function}: blob ${digest} cannot be read (${c.message})` });
    }
    const own = checks.get(entry.digest);
    if (!entry.pack && own?.status === "ok" && own.size !== entry.size) problems.push({ where: entry.key, problem: `${entry.function}: its result is ${own.size} bytes, the entry says ${entry.size}` });
  }
  return { entries: entries.length, blobs: digests.size, bytes, problems };
}
