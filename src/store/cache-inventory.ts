/**
 * What a task cache holds, as `cache ls`, `du` and `gc` see it: every entry
 * with its size, uses and the bundles that need it; and which entries a
 * collection may remove. Pure over one scan of the folder (no lock needed to
 * read; gc re-plans under the lock before it removes anything).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TaskCache, type BundleRef, type TaskCacheEntry } from "./task-cache.js";

export interface InventoryItem {
  entry: TaskCacheEntry;
  hits: number;
  lastUsed?: string;
  /** Bundles whose latest run needs it (and their notebooks). */
  neededBy: { bundle: string; notebook: string }[];
}

export interface Inventory {
  items: InventoryItem[];
  /** Size on disk of every blob, by digest. */
  blobSizes: Map<string, number>;
  bad: { path: string; reason: string }[];
  /** Bundles known to this cache whose folder still exists. */
  liveRefs: BundleRef[];
  /** Refs of bundles whose folder is gone: they protect nothing. */
  deadRefs: BundleRef[];
}

/**
 * One read of the index (plus a listing of entry names unless `reconcile:
 * false`, for a quick ls that trusts the index). `blobs: true` also gives
 * the size of every blob (for du and gc: ls needs none), and lists the blob store to find orphans (blobs no entry needs, left by a
 * crash or an earlier gc), stat-ing only those.
 */
const NOBODY: { bundle: string; notebook: string }[] = [];

export function takeInventory(cache: TaskCache, options: { blobs?: boolean; reconcile?: boolean } = {}): Inventory & { indexChanged: boolean } {
  const { lines, bad, changed } = cache.indexed({ reconcile: options.reconcile ?? true });
  const uses = cache.uses();
  const liveRefs: BundleRef[] = [];
  const deadRefs: BundleRef[] = [];
  for (const ref of cache.refs()) (existsSync(join(ref.bundle, "manifest.json")) ? liveRefs : deadRefs).push(ref);
  const needed = new Map<string, { bundle: string; notebook: string }[]>();
  for (const ref of liveRefs) {
    // One object per bundle, shared by its keys (ls serialises it once).
    const who = { bundle: ref.bundle, notebook: ref.notebook };
    for (const key of ref.keys) {
      const list = needed.get(key);
      if (list) list.push(who);
      else needed.set(key, [who]);
    }
  }
  const blobSizes = new Map<string, number>();
  const items: InventoryItem[] = [];
  for (const { entry, sizes } of lines.values()) {
    if (options.blobs) {
      blobSizes.set(entry.pack ? entry.pack.digest : entry.digest, sizes[0] ?? 0);
      if (entry.blobs) entry.blobs.forEach((d, i) => blobSizes.set(d, sizes[i + 1] ?? 0));
    }
    const use = uses.get(entry.key);
    const item: InventoryItem = { entry, hits: use?.hits ?? 0, neededBy: needed.get(entry.key) ?? NOBODY };
    if (use?.lastUsed) item.lastUsed = use.lastUsed;
    items.push(item);
  }
  if (options.blobs) {
    const orphans = cache.blobDigests().filter((d) => !blobSizes.has(d));
    for (const [d, size] of cache.statBlobs(orphans)) blobSizes.set(d, size);
  }
  return { items, blobSizes, bad, liveRefs, deadRefs, indexChanged: changed };
}

/** entryBlobs without the array: planning 100,000 entries calls it three times each. */
function forEachBlob(entry: TaskCacheEntry, visit: (digest: string) => void): void {
  visit(entry.pack ? entry.pack.digest : entry.digest);
  if (entry.blobs) for (const d of entry.blobs) visit(d);
}

export function isPinned(item: InventoryItem): boolean {
  return item.entry.pin !== undefined;
}

export interface GcLimits {
  /**
   * Whether an entry's pin still holds. Default: every pinned entry does. The
   * CLI passes nbrewind.yaml's pins: a result pinned at a version the file no
   * longer names (and not marked keep) is an ordinary result again.
   */
  pinHolds?: (pin: NonNullable<TaskCacheEntry["pin"]>) => boolean;
  maxSizeBytes?: number;
  /** Remove unprotected entries not used (or created) in this many ms. */
  olderThanMs?: number;
  now?: number;
}

export interface GcPlan {
  remove: InventoryItem[];
  /** Blobs no kept entry needs. */
  blobs: string[];
  freedBytes: number;
  totalBytes: number;
  keptPinned: number;
  keptNeeded: number;
  /** Protected results alone exceed --max-size: said, never "fixed" by removing them. */
  overLimit: boolean;
}

/**
 * Which entries go: never a pinned result (one marked keep, or whose pin
 * still holds), never one the latest run of a
 * known bundle needs. Of the others: those unused for longer than
 * `olderThanMs`, then the least recently used until the blobs fit in
 * `maxSizeBytes`. A blob goes when no kept entry needs it.
 */
export function planGc(inv: Inventory, limits: GcLimits): GcPlan {
  const now = limits.now ?? Date.now();
  let keptPinned = 0;
  let keptNeeded = 0;
  // Candidates by position, with their last use parsed once: a sort of 100,000 calls its comparator about 1.7 million times.
  const candidates: number[] = [];
  const touched = new Float64Array(inv.items.length);
  // Blob users among what stays: a blob shared by a kept entry is not freed by removing another.
  const users = new Map<string, number>();
  const use = (d: string) => users.set(d, (users.get(d) ?? 0) + 1);
  inv.items.forEach((item, n) => {
    const pin = item.entry.pin;
    if (pin && (pin.keep || (limits.pinHolds?.(pin) ?? true))) keptPinned++;
    else if (item.neededBy.length > 0) keptNeeded++;
    else {
      candidates.push(n);
      touched[n] = Date.parse(item.lastUsed ?? item.entry.created_at) || 0;
      return;
    }
    forEachBlob(item.entry, use);
  });
  candidates.sort((a, b) => touched[a]! - touched[b]!);
  const remove: InventoryItem[] = [];
  const survivors: InventoryItem[] = [];
  for (const n of candidates) {
    const item = inv.items[n]!;
    if (limits.olderThanMs !== undefined && now - touched[n]! > limits.olderThanMs) remove.push(item);
    else {
      survivors.push(item);
      forEachBlob(item.entry, use);
    }
  }
  let totalBytes = 0;
  let current = 0;
  for (const [d, size] of inv.blobSizes) {
    totalBytes += size;
    if (users.has(d)) current += size;
  }
  // Orphans (no entry at all) are freed whatever the limits say.
  if (limits.maxSizeBytes !== undefined) {
    // Least recently used first (survivors are sorted by last use).
    for (let i = 0; i < survivors.length && current > limits.maxSizeBytes; i++) {
      const item = survivors[i]!;
      remove.push(item);
      forEachBlob(item.entry, (d) => {
        const n = (users.get(d) ?? 1) - 1;
        if (n === 0) {
          users.delete(d);
          current -= inv.blobSizes.get(d) ?? 0;
        } else users.set(d, n);
      });
    }
  }
  const blobs: string[] = [];
  let freedBytes = 0;
  for (const [d, size] of inv.blobSizes) {
    if (users.has(d)) continue;
    blobs.push(d);
    freedBytes += size;
  }
  return { remove, blobs, freedBytes, totalBytes, keptPinned, keptNeeded, overLimit: limits.maxSizeBytes !== undefined && current > limits.maxSizeBytes };
}
