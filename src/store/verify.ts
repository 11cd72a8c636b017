/**
 * Checking many blobs at once: each is streamed through sha256 in a piscina
 * worker, so hashing gigabytes uses every core, never loads a blob whole and
 * leaves the main thread free to report progress.
 */
import { availableParallelism } from "node:os";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Piscina as PiscinaPool } from "piscina";
import type { BlobStore } from "./blob-store.js";
import hashTask, { type HashResult, type HashTask } from "./hash-worker.js";

export type BlobCheck =
  | { digest: string; path: string; status: "ok"; size: number }
  | { digest: string; path: string; status: "missing" }
  | { digest: string; path: string; status: "corrupt"; size: number; actual: string }
  | { digest: string; path: string; status: "unreadable"; message: string };

export interface VerifyProgress {
  done: number;
  total: number;
  bytesDone: number;
  bytesTotal: number;
  /** The blob just checked. */
  last: BlobCheck;
}

export interface VerifyOptions {
  /** Worker threads; default: the machine's parallelism. */
  threads?: number;
  /**
   * Below this many bytes in total, hash in this thread: starting workers
   * costs more than hashing a few small blobs. Default 16 MiB; 0 forces the pool.
   */
  inlineBelowBytes?: number;
  onProgress?: (progress: VerifyProgress) => void;
  signal?: AbortSignal;
}

/** One result per distinct digest, in the order first given. Never throws for a bad blob. */
export async function verifyBlobs(store: BlobStore, digests: Iterable<string>, options: VerifyOptions = {}): Promise<BlobCheck[]> {
  const unique = [...new Set(digests)];
  const targets = await Promise.all(
    unique.map(async (digest) => {
      const path = store.pathFor(digest);
      const size = await stat(path).then((s) => s.size, () => 0);
      return { digest, path, size };
    }),
  );
  const bytesTotal = targets.reduce((n, t) => n + t.size, 0);
  let done = 0;
  let bytesDone = 0;
  const finish = (check: BlobCheck, size: number): BlobCheck => {
    done += 1;
    bytesDone += size;
    options.onProgress?.({ done, total: targets.length, bytesDone, bytesTotal, last: check });
    return check;
  };

  if (targets.length === 0) return [];
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), targets.length));
  if (bytesTotal < (options.inlineBelowBytes ?? 16 << 20)) {
    const out: BlobCheck[] = [];
    for (const t of targets) {
      options.signal?.throwIfAborted();
      out.push(finish(toCheck(t.digest, t.path, await hashTask({ path: t.path })), t.size));
    }
    return out;
  }

  const file = workerFile();
  // Loaded here, on the one path that uses it (large stores).
  const { Piscina } = await import("piscina");
  const pool: PiscinaPool<HashTask, HashResult> = new Piscina<HashTask, HashResult>({ filename: file, minThreads: 1, maxThreads: threads, execArgv: workerExecArgv(file) });
  try {
    return await Promise.all(
      targets.map(async (t) => {
        const result = await pool.run({ path: t.path }, options.signal ? { signal: options.signal } : {});
        return finish(toCheck(t.digest, t.path, result), t.size);
      }),
    );
  } finally {
    await pool.destroy();
  }
}

function toCheck(digest: string, path: string, r: HashResult): BlobCheck {
  if (!r.ok) {
    if (r.code === "ENOENT" || r.code === "ENOTDIR" || r.code === "EISDIR") return { digest, path, status: "missing" };
    return { digest, path, status: "unreadable", message: r.message };
  }
  if (r.digest !== digest) return { digest, path, status: "corrupt", size: r.size, actual: r.digest };
  return { digest, path, status: "ok", size: r.size };
}

/** hash-worker.js beside the built code; hash-worker.ts when running from source. */
function workerFile(): string {
  return fileURLToPath(import.meta.url).replace(/verify\.(ts|js)$/, (_m, ext: string) => `hash-worker.${ext}`);
}

/**
 * From source (vitest, tsx) the worker is TypeScript: load tsx in the worker
 * too. Vitest does not hand its transform to worker threads, and tsx (a dev
 * dependency) is present whenever the sources are run.
 */
function workerExecArgv(file: string): string[] {
  const inherited = process.execArgv;
  if (!file.endsWith(".ts") || inherited.some((a) => a.includes("tsx"))) return inherited;
  return [...inherited, "--import", "tsx"];
}
