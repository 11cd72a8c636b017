/**
 * `cache gc`: collect a task cache, and prune the bundles it knows beyond
 * `keep_runs`. The cache side plans over one inventory taken under the
 * cache's lock (publishers hold it too), so nothing is removed between a
 * writer's blob and its entry. A bundle keeps the records of its last N runs
 * and every record its latest run uses; blobs no kept record refers to go
 * (Bundle.gc keeps anything younger than the grace period, for a run in
 * progress).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Bundle } from "../bundle/bundle.js";
import { recordFile } from "../bundle/paths.js";
import { recordDigests } from "../bundle/records.js";
import { planGc, takeInventory, type GcLimits, type GcPlan } from "../store/cache-inventory.js";
import { entryBlobs, type TaskCache } from "../store/task-cache.js";

export interface BundlePrune {
  bundle: string;
  records_removed: number;
  blobs_removed: number;
  bytes_freed: number;
}

export interface CacheGcReport {
  dry_run: boolean;
  entries_removed: number;
  blobs_removed: number;
  bytes_freed: number;
  bytes_before: number;
  kept_pinned: number;
  kept_needed: number;
  over_limit: boolean;
  removed: { key: string; function: string; size: number }[];
  bundles: BundlePrune[];
}

/** A pin marked `keep: true`, as task records name it: its records are never pruned. */
export interface KeptPin {
  by: string;
  version: string;
}

export async function collectCache(cache: TaskCache, limits: GcLimits & { keepRuns?: number; dryRun: boolean; keptPins?: KeptPin[] }): Promise<CacheGcReport> {
  return cache.withLock(async () => {
    const inventory = takeInventory(cache, { blobs: true });
    const plan: GcPlan = planGc(inventory, limits);
    if (!limits.dryRun) {
      const removed = new Set(plan.remove.map((i) => i.entry.key));
      // The index first: a reader never finds an indexed entry whose file is gone for long.
      if (removed.size > 0 || inventory.indexChanged) await cache.writeIndex(inventory.items.filter((i) => !removed.has(i.entry.key)).map((i) => ({ entry: i.entry, sizes: entryBlobs(i.entry).map((d) => inventory.blobSizes.get(d) ?? 0) })));
      for (const key of removed) await cache.removeEntry(key);
      for (const digest of plan.blobs) await cache.removeBlob(digest);
    }
    const bundles: BundlePrune[] = [];
    if (limits.keepRuns !== undefined) for (const ref of inventory.liveRefs) bundles.push(await pruneBundle(ref.bundle, limits.keepRuns, limits.dryRun, limits.keptPins ?? []));
    return {
      dry_run: limits.dryRun,
      entries_removed: plan.remove.length,
      blobs_removed: plan.blobs.length,
      bytes_freed: plan.freedBytes,
      bytes_before: plan.totalBytes,
      kept_pinned: plan.keptPinned,
      kept_needed: plan.keptNeeded,
      over_limit: plan.overLimit,
      removed: plan.remove.map((i) => ({ key: i.entry.key, function: i.entry.function, size: i.entry.size })),
      bundles,
    };
  });
}

/**
 * Remove the records of a bundle's runs older than its last `keepRuns`,
 * except those its latest run uses (the manifest's cells) and those holding
 * a task of a pin marked `keep` (at its current version); then the blobs
 * nothing kept refers to.
 */
export async function pruneBundle(dir: string, keepRuns: number, dryRun: boolean, keptPins: readonly KeptPin[]): Promise<BundlePrune> {
  const bundle = await Bundle.open(dir);
  const manifest = bundle.manifest;
  const keptRuns = new Set([...manifest.runs].sort((a, b) => (a.started_at < b.started_at ? 1 : -1)).slice(0, keepRuns).map((r) => r.run_id));
  const current = new Set(manifest.cells);
  const records = await bundle.records();
  const doomed = [...records.values()].filter((r) => !keptRuns.has(r.run_id) && !current.has(r.fingerprint) && !(r.tasks ?? []).some((t) => t.pin && keptPins.some((k) => k.by === t.pin!.by && k.version === t.pin!.version)));
  if (dryRun) {
    const gone = new Set(doomed);
    const keep = new Set([...records.values()].filter((r) => !gone.has(r)).flatMap(recordDigests));
    const scan = await bundle.blobs.scan();
    let bytes = 0;
    let blobs = 0;
    for (const d of scan.digests) {
      if (keep.has(d)) continue;
      blobs++;
      bytes += await bundle.blobs.size(d);
    }
    return { bundle: dir, records_removed: doomed.length, blobs_removed: blobs, bytes_freed: bytes };
  }
  for (const r of doomed) await rm(join(dir, recordFile(r.fingerprint)), { force: true });
  const { removed, bytes } = await bundle.gc();
  return { bundle: dir, records_removed: doomed.length, blobs_removed: removed, bytes_freed: bytes };
}
