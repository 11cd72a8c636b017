import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { collectCache } from "../../../src/session/cache-gc.js";
import { BlobStore } from "../../../src/store/blob-store.js";
import { planGc, takeInventory } from "../../../src/store/cache-inventory.js";
import { verifyCache } from "../../../src/store/cache-verify.js";
import { TaskCache, type TaskCacheEntry } from "../../../src/store/task-cache.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

async function bundleStore(values: string[]): Promise<BlobStore> {
  const store = new BlobStore(join(mkdtempSync(join(tmpdir(), "nbrewind-src-")), "blobs"));
  for (const v of values) await store.writeAtomic(v);
  return store;
}

function entry(value: string, fn: string, extra: Partial<TaskCacheEntry> = {}): TaskCacheEntry {
  return { format_version: 1, key: sha(`key:${value}:${fn}`), engine: "dask", function: fn, digest: sha(value), size: value.length, created_at: "2026-11-01T00:00:00.000Z", producer: { bundle: "/b", notebook: "/nb.ipynb" }, ...extra };
}

describe("task cache: publish, inventory, gc plan, verify", () => {
  it("publishes blobs then entries; an entry whose blob the bundle lost is not published", async () => {
    const cache = new TaskCache(mkdtempSync(join(tmpdir(), "nbrewind-cache-")));
    const src = await bundleStore(["aaa", "bbbb"]);
    const n = await cache.publish([entry("aaa", "m.f"), entry("bbbb", "m.g"), entry("lost", "m.h")], src);
    expect(n).toBe(2);
    const { entries, bad } = cache.scanEntries();
    expect(entries.map((e) => e.function).sort()).toEqual(["m.f", "m.g"]);
    expect(bad).toEqual([]);
    expect((await verifyCache(cache)).problems).toEqual([]);
  });

  it("an entry file the index lacks (a writer died between the two) is still listed, and gc indexes it again", async () => {
    const cache = new TaskCache(mkdtempSync(join(tmpdir(), "nbrewind-cache-")));
    const src = await bundleStore(["aaa", "bbbb"]);
    await cache.publish([entry("aaa", "m.f"), entry("bbbb", "m.g")], src);
    writeFileSync(cache.indexPath, readFileSync(cache.indexPath, "utf8").split("\n")[0] + "\n");
    const inv = takeInventory(cache);
    expect(inv.items.map((i) => i.entry.function).sort()).toEqual(["m.f", "m.g"]);
    expect(inv.indexChanged).toBe(true);
    await collectCache(cache, { dryRun: false });
    expect([...cache.readIndex()!.keys()].length).toBe(2);
    expect(takeInventory(cache).indexChanged).toBe(false);
    // and an indexed entry whose file is gone is dropped from the inventory, and from the index by the next gc
    rmSync(cache.entryPath(entry("aaa", "m.f").key));
    const after = takeInventory(cache, { blobs: true });
    expect(after.items.map((i) => i.entry.function)).toEqual(["m.g"]);
    expect(after.indexChanged).toBe(true);
    expect(await collectCache(cache, { dryRun: false })).toMatchObject({ blobs_removed: 1, bytes_freed: 3 });
    expect([...cache.readIndex()!.values()].map((l) => l.entry.function)).toEqual(["m.g"]);
  });

  it("verify names a corrupt blob and a file that is not an entry", async () => {
    const cache = new TaskCache(mkdtempSync(join(tmpdir(), "nbrewind-cache-")));
    await cache.publish([entry("aaa", "m.f")], await bundleStore(["aaa"]));
    writeFileSync(cache.blobs.pathFor(sha("aaa")), "aab");
    mkdirSync(join(cache.root, "tasks", "zz"), { recursive: true });
    writeFileSync(join(cache.root, "tasks", "zz", "junk.json"), "{");
    const problems = (await verifyCache(cache)).problems.map((p) => p.problem);
    expect(problems).toContainEqual(expect.stringMatching(/^m\.f: blob [0-9a-f]{64} is corrupt/));
    expect(problems).toContainEqual("not a task cache entry: not JSON");
  });

  it("gc never plans to remove a pinned result or one a live bundle's latest run needs; LRU first until it fits", async () => {
    const root = mkdtempSync(join(tmpdir(), "nbrewind-cache-"));
    const cache = new TaskCache(root);
    const bundle = mkdtempSync(join(tmpdir(), "nbrewind-bundle-"));
    writeFileSync(join(bundle, "manifest.json"), "{}");
    const values = ["pinned-result", "needed-result", "old-unused-1", "new-unused-22"];
    const es = [
      entry(values[0]!, "m.skim", { pin: { version: "v1", by: "decorator" } }),
      entry(values[1]!, "m.fit"),
      entry(values[2]!, "m.fit", { created_at: "2026-01-01T00:00:00.000Z" }),
      entry(values[3]!, "m.fit", { created_at: "2026-11-20T00:00:00.000Z" }),
    ];
    await cache.publish(es, await bundleStore(values));
    await cache.writeRef(bundle, "/nb.ipynb", [es[1]!.key]);
    await cache.writeRef("/gone/bundle", "/gone.ipynb", [es[2]!.key]); // its folder is gone: protects nothing
    const inv = takeInventory(cache, { blobs: true });
    expect(inv.deadRefs).toHaveLength(1);
    const total = values.reduce((s, v) => s + v.length, 0);
    // fits after removing the oldest unused one
    const one = planGc(inv, { maxSizeBytes: total - values[2]!.length });
    expect(one.remove.map((i) => i.entry.key)).toEqual([es[2]!.key]);
    expect(one.freedBytes).toBe(values[2]!.length);
    // nothing fits: every unprotected one goes, the protected stay, and it says so
    const all = planGc(inv, { maxSizeBytes: 0 });
    expect(all.remove.map((i) => i.entry.key).sort()).toEqual([es[2]!.key, es[3]!.key].sort());
    expect(all).toMatchObject({ keptPinned: 1, keptNeeded: 1, overLimit: true });
    // a pin nbrewind.yaml no longer names (and not keep) is an ordinary result again
    const stale = planGc(inv, { maxSizeBytes: 0, pinHolds: () => false });
    expect(stale.remove.map((i) => i.entry.key)).toContain(es[0]!.key);
    expect(stale.keptPinned).toBe(0);
    // older-than: only what was not used for that long
    const old = planGc(inv, { olderThanMs: 30 * 86400e3, now: Date.parse("2026-12-01T00:00:00Z") });
    expect(old.remove.map((i) => i.entry.key)).toEqual([es[2]!.key]);
  });

  it("four processes publishing into one cache at once leave every entry whole", async () => {
    const root = mkdtempSync(join(tmpdir(), "nbrewind-cache-"));
    const script = join(import.meta.dirname, "publish-worker.ts");
    const run = promisify(execFile);
    const tsx = join(import.meta.dirname, "..", "..", "..", "node_modules", ".bin", "tsx");
    await Promise.all([0, 1, 2, 3].map((w) => run(tsx, [script, root, String(w)])));
    const cache = new TaskCache(root);
    const { entries, bad } = cache.scanEntries();
    expect(bad).toEqual([]);
    // 40 distinct results per writer, and 10 shared by all four
    expect(entries).toHaveLength(4 * 40 + 10);
    expect((await verifyCache(cache)).problems).toEqual([]);
  }, 60_000);
});
