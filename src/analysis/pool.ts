import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { analyseCell, type CellFacts } from "./facts.js";
import { loadPythonParser } from "./parser.js";

/**
 * Analysis of many cells at once. Below `parallelFrom` cells (or with one
 * thread) the work stays in this thread: starting workers and loading the
 * grammar in each costs more than it saves. Above it, the cells are split
 * between this thread and `threads - 1` piscina workers, so the workers'
 * start-up (a fresh WebAssembly grammar each) overlaps with work done here.
 */
export interface BulkOptions {
  threads?: number;
  parallelFrom?: number;
  /** How much more than an equal share this thread takes (workers start late). */
  localShare?: number;
}

export async function analyseCells(sources: string[], options: BulkOptions = {}): Promise<CellFacts[]> {
  const threads = options.threads ?? availableParallelism();
  await loadPythonParser();
  if (threads <= 1 || sources.length < (options.parallelFrom ?? 2000)) return sources.map((s) => analyseCell(s));
  // Equal shares: measured on 2 cores, the worker start-up is repaid within the first batch.
  const workers = threads - 1;
  const mine = Math.ceil((sources.length / threads) * (options.localShare ?? 1));
  const rest = sources.length - mine;
  const per = Math.ceil(rest / workers);
  const pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers });
  try {
    const remote: Promise<CellFacts[]>[] = [];
    for (let i = mine; i < sources.length; i += per) remote.push(pool.run(sources.slice(i, i + per)) as Promise<CellFacts[]>);
    const local = sources.slice(0, mine).map((s) => analyseCell(s));
    return local.concat(...(await Promise.all(remote)));
  } finally {
    await pool.destroy();
  }
}

/** worker.js beside the built code; worker.ts when running from source (tsx passes its loader to workers). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  return here.replace(/pool\.(ts|js)$/, (_m, ext: string) => `worker.${ext}`);
}
