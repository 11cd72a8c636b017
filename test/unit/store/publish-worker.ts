/** One of several concurrent writers of a task cache (task-cache.test.ts): publishes 40 results of its own and 10 shared ones. */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobStore } from "../../../src/store/blob-store.js";
import { TaskCache, type TaskCacheEntry } from "../../../src/store/task-cache.js";

const [root, worker] = process.argv.slice(2) as [string, string];
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const store = new BlobStore(join(mkdtempSync(join(tmpdir(), "nbrewind-writer-")), "blobs"));
const values = [...Array.from({ length: 40 }, (_, i) => `writer ${worker} value ${i}`), ...Array.from({ length: 10 }, (_, i) => `shared value ${i}`)];
const entries: TaskCacheEntry[] = [];
for (const v of values) {
  await store.writeAtomic(v);
  entries.push({ format_version: 1, key: sha(`key ${v}`), engine: "dask", function: "m.f", digest: sha(v), size: Buffer.byteLength(v), created_at: new Date().toISOString(), producer: { bundle: `/b${worker}`, notebook: `/nb${worker}.ipynb` } });
}
const cache = new TaskCache(root);
// Small batches, so the writers' lock holds interleave.
for (let i = 0; i < entries.length; i += 5) await cache.publish(entries.slice(i, i + 5), store);
