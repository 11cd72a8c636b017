import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import type { Piscina as PiscinaPool } from "piscina";
import { analyseCell, type CellFacts } from "./facts.js";
import { GraphBuilder, type CellInput, type DependencyGraph } from "./graph.js";
import { loadPythonParser } from "./parser.js";

/**
 * Analysis of many cells at once. Below `parallelFrom` cells (or with one
 * thread) the work stays in this thread: starting workers and loading the
 * grammar in each costs more than it saves. Above it, `threads - 1` piscina
 * workers and this thread share the cells: the workers are started first, so
 * that their start-up (a thread, the module graph, a fresh WebAssembly
 * grammar each) overlaps with this thread loading its own grammar and
 * working; then every thread takes the next run of cells as soon as it is
 * free, the runs shrinking towards the end, so that all threads finish
 * together whatever each one's start-up cost and whatever else the machine is
 * doing.
 */
export interface BulkOptions {
  threads?: number;
  parallelFrom?: number;
}

/** Cells this thread analyses before it lets the workers' results in and hands them more. */
const LOCAL_RUN = 48;
/** Smallest and largest run of cells sent to a worker in one task. */
const MIN_RUN = 32;
const MAX_RUN = 1000;

export async function analyseCells(sources: string[], options: BulkOptions = {}): Promise<CellFacts[]> {
  return analyse(sources, options);
}

/**
 * Analyse a notebook's code cells and build their graph, the graph growing in
 * this thread while the workers analyse later cells. Same result as
 * `buildGraph(cells)`, in less time on a machine with several cores.
 */
export async function analyseNotebook(cells: CellInput[], options: BulkOptions = {}): Promise<DependencyGraph> {
  const builder = new GraphBuilder();
  const results = await analyse(
    cells.map((c) => c.source),
    options,
    (facts) => {
      // The longest prefix of cells whose facts are in.
      for (let i = builder.size; i < facts.length && facts[i] !== undefined; i = builder.size) builder.add(cells[i]!.id, facts[i]!);
    },
  );
  for (let i = builder.size; i < results.length; i++) builder.add(cells[i]!.id, results[i]!);
  return builder.build();
}

/** `between` runs in this thread between its own runs of cells, with the results so far (holes not yet analysed). */
async function analyse(sources: string[], options: BulkOptions, between?: (results: readonly (CellFacts | undefined)[]) => void): Promise<CellFacts[]> {
  const threads = Math.max(1, options.threads ?? availableParallelism());
  if (threads <= 1 || sources.length < (options.parallelFrom ?? 2000)) {
    await loadPythonParser();
    return sources.map((s) => analyseCell(s));
  }
  const workers = threads - 1;
  const { filename, execArgv } = workerFile();
  // Two tasks in flight per worker: the next one waits in the worker's own
  // queue, so a worker never idles while this thread is busy with its run.
  // Loaded here, on the one path that uses it: most commands never start a pool.
  const { Piscina } = await import("piscina");
  const pool: PiscinaPool = new Piscina({ filename, ...(execArgv ? { execArgv } : {}), minThreads: workers, maxThreads: workers, concurrentTasksPerWorker: 2, idleTimeout: 1000 });
  try {
    const results: CellFacts[] = new Array<CellFacts>(sources.length);
    let next = 0;
    const take = (size: number): [number, number] => {
      const from = next;
      next = Math.min(sources.length, next + size);
      return [from, next];
    };
    // Guided runs: a share of what is left, so the last runs are short.
    const remoteRun = () => Math.min(MAX_RUN, Math.max(MIN_RUN, Math.ceil((sources.length - next) / (threads * 3))));
    const feed = async (): Promise<void> => {
      for (;;) {
        const [from, to] = take(remoteRun());
        if (from >= to) return;
        const facts = (await pool.run(sources.slice(from, to))) as CellFacts[];
        for (let i = 0; i < facts.length; i++) results[from + i] = facts[i]!;
        wake?.();
      }
    };
    let wake: (() => void) | undefined;
    // Workers' first tasks go out before this thread loads its grammar.
    const feeding = Array.from({ length: workers * 2 }, feed);
    await loadPythonParser();
    for (;;) {
      between?.(results);
      const [from, to] = take(LOCAL_RUN);
      if (from >= to) break;
      for (let i = from; i < to; i++) results[i] = analyseCell(sources[i]!);
      // Let finished tasks in, so that their feeders send the next ones.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    let done = false;
    const all = Promise.all(feeding).finally(() => {
      done = true;
      wake?.();
    });
    // While the last tasks run, use each result as it arrives.
    while (between && !done) {
      between(results);
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await all;
    return results;
  } finally {
    // Closing the worker threads need not hold the results back.
    pool.destroy().catch(() => undefined);
  }
}

/**
 * worker.js beside the built code (what users run). From source the worker
 * is worker.ts: under tsx the worker inherits tsx's loader through
 * `process.execArgv`; elsewhere (vitest) it is given tsx's loader explicitly.
 */
function workerFile(): { filename: string; execArgv?: string[] } {
  const here = fileURLToPath(import.meta.url);
  const filename = here.replace(/pool\.(ts|js)$/, (_m, ext: string) => `worker.${ext}`);
  if (!filename.endsWith(".ts") || process.execArgv.some((a) => a.includes("tsx"))) return { filename };
  return { filename, execArgv: ["--import", import.meta.resolve("tsx")] };
}
