/**
 * What a task cache holds, as `cache ls`, `du` and `gc` see it: every entry
 * with its size, uses and the bundles that need it; and which entries a
 * collection may remove. Pure over one scan of the folder (no lock needed to
 * read; gc re-plans under the lock before it removes anything).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { entryBlobs, TaskCache, type BundleRef, type TaskCacheEntry } from "./task-cache.js";

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
    for (const key of ref.keys) {
      const list = needed.get(key);
      const who = { bundle: ref.bundle, notebook: ref.notebook };
      if (list) list.push(who);
      else needed.set(key, [who]);
    }
  }
  const blobSizes = new Map<string, number>();
  const items: InventoryItem[] = [];
  for (const { entry, sizes } of lines.values()) {
    if (options.blobs) for (const d in sizes) blobSizes.set(d, sizes[d]!);
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
  // Parsed once per item: a sort of 100,000 items calls the comparator about 1.7 million times.
  const touched = new Map<InventoryItem, number>();
  for (const i of inv.items) touched.set(i, Date.parse(i.lastUsed ?? i.entry.created_at) || 0);
  const lastTouch = (i: InventoryItem) => touched.get(i)!;
  let keptPinned = 0;
  let keptNeeded = 0;
  const candidates: InventoryItem[] = [];
  const kept: InventoryItem[] = [];
  for (const item of inv.items) {
    if (item.entry.pin && (item.entry.pin.keep || (limits.pinHolds?.(item.entry.pin) ?? true))) {
      keptPinned++;
      kept.push(item);
    } else if (item.neededBy.length > 0) {
      keptNeeded++;
      kept.push(item);
    } else candidates.push(item);
  }
  candidates.sort((a, b) => lastTouch(a) - lastTouch(b));
  const remove: InventoryItem[] = [];
  const survivors: InventoryItem[] = [];
  for (const item of candidates) {
    if (limits.olderThanMs !== undefined && now - lastTouch(item) > limits.olderThanMs) remove.push(item);
    else survivors.push(item);
  }
  // Blob users among what stays: a blob shared by a kept entry is not freed by removing another.
  const users = new Map<string, number>();
  for (const item of [...kept, ...survivors]) for (const d of entryBlobs(item.entry)) users.set(d, (users.get(d) ?? 0) + 1);
  let totalBytes = 0;
  for (const size of inv.blobSizes.values()) totalBytes += size;
  const referenced = new Set(users.keys());
  let current = 0;
  for (const [d, size] of inv.blobSizes) if (referenced.has(d)) current += size;
  // Orphans (no entry at all) are freed whatever the limits say.
  if (limits.maxSizeBytes !== undefined) {
    // Least recently used first (survivors are sorted by last use).
    for (let i = 0; i < survivors.length && current > limits.maxSizeBytes; i++) {
      const item = survivors[i]!;
      remove.push(item);
      for (const d of entryBlobs(item.entry)) {
        const n = (users.get(d) ?? 1) - 1;
        if (n === 0) {
          users.delete(d);
          current -= inv.blobSizes.get(d) ?? 0;
        } else users.set(d, n);
      }
    }
  }
  const blobs = [...inv.blobSizes.keys()].filter((d) => !users.has(d));
  const freedBytes = blobs.reduce((s, d) => s + (inv.blobSizes.get(d) ?? 0), 0);
  return { remove, blobs, freedBytes, totalBytes, keptPinned, keptNeeded, overLimit: limits.maxSizeBytes !== undefined && current > limits.maxSizeBytes };
}
