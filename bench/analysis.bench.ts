/**
 * Benchmark of the cross-cell analysis (issue: data-flow analysis).
 *
 *   npm run bench:analysis [-- --cells 10000 --lines 20]
 *
 * Generates N cells of L lines of typical notebook Python deterministically,
 * then times, end to end: our analysis (module load, parser start-up, worker
 * pool, per-cell facts, graph) and, as a baseline, a `python -c` process that
 * runs `ast.parse` over the same cells. Prints both, their ratio, and whether
 * the 2-second target for 10,000 × 20 lines was met. It measures; it asserts
 * nothing.
 *
 * What is measured is the built code users run: this script compiles src/
 * with tsconfig.build.json into a private folder (bench/results/, gitignored;
 * not dist/, which others may be running) and times it in a plain `node`
 * process, without tsx, through the library's bulk entry point
 * (`analyseCells` then `DependencyGraph`), whose workers load the compiled
 * worker.js exactly as they do from dist/.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";
import { rng } from "./prng.js";

const TARGET_MS = 2000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Valid snippets of 1–4 lines, in the style of data-analysis notebooks. */
const BLOCKS: ((i: number, j: number) => string[])[] = [
  (i, j) => [`df_${j} = pd.read_csv(path_${i % 7}, sep=",")`],
  (i, j) => [`result_${j} = client.submit(process, df_${j}, key="k${i}")`],
  (_i, j) => [`for row in rows_${j}:`, `    total += row.value * scale`],
  (_i, j) => [`# step ${j}: tidy up the frame`],
  (_i, j) => [`futures = [client.submit(f, x) for x in range(n_${j})]`],
  () => [`import numpy as np`],
  (_i, j) => [`def helper_${j}(a, b=default_${j}):`, `    """Combine two values."""`, `    return a + b * factor`],
  (_i, j) => [`data["col_${j}"] = data.x.apply(lambda v: v ** 2)`],
  () => [``],
  (i) => [`print(f"step {${i}}: {total:.2f}")`],
  (_i, j) => [`with open(fname_${j}) as fh:`, `    text = fh.read()`],
  () => [`results.append(total)`],
  () => [`if (m := pattern.match(text)) is not None:`, `    found = m.group(1)`, `else:`, `    found = None`],
  (_i, j) => [`x_${j}, y_${j} = compute(a=1, b=[1, 2, 3])`],
  (_i, j) => [`arr = np.zeros((100, ${j}))`],
  (_i, j) => [`class Model_${j}(Base):`, `    size = ${j}`, `    def run(self):`, `        return self.size * scale`],
  (_i, j) => [`summary = df.groupby("k").agg(mean=("v", "mean"))`, `summary.to_csv(out_${j})`],
  () => [`try:`, `    value = risky()`, `except ValueError as exc:`, `    value = None`],
];

export function generateCells(count: number, lines: number, seed = 20240611): string[] {
  const next = rng(seed);
  const cells: string[] = [];
  for (let i = 0; i < count; i++) {
    const out: string[] = [];
    let j = 0;
    while (out.length < lines) {
      const room = lines - out.length;
      let block = BLOCKS[Math.floor(next() * BLOCKS.length)]!(i, j++);
      if (block.length > room) block = [`v_${j} = w_${j} + ${j}`];
      out.push(...block);
    }
    cells.push(out.join("\n") + "\n");
  }
  return cells;
}

/**
 * Compile src/ into bench/results/.analysis-build with the product's build
 * settings. Type errors elsewhere in the tree (someone's change in flight) do
 * not stop the measurement: tsc still emits, and the analysis modules import
 * nothing outside src/analysis. Type errors in src/analysis do.
 */
function buildAnalysis(): string {
  const out = join(ROOT, "bench", "results", ".analysis-build");
  rmSync(out, { recursive: true, force: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const run = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", out], { cwd: ROOT, encoding: "utf8" });
  const errors = run.stdout.split("\n").filter((l) => l.includes("error TS"));
  const ours = errors.filter((l) => l.replaceAll("\\", "/").startsWith("src/analysis/"));
  if (ours.length) throw new Error(`src/analysis does not type-check:\n${ours.join("\n")}`);
  const src = join(ROOT, "src", "analysis");
  for (const file of readdirSync(src).filter((f) => f.endsWith(".ts"))) {
    const built = join(out, "analysis", file.replace(/\.ts$/, ".js"));
    if (statSync(built, { throwIfNoEntry: false }) === undefined) throw new Error(`build did not emit ${built}:\n${run.stdout}${run.stderr}`);
  }
  if (errors.length) console.error(`  note: ${errors.length} type errors outside src/analysis (e.g. ${errors[0]}); the analysis modules were emitted and are measured`);
  return out;
}

interface Measured {
  total: number;
  load: number;
  /** Facts and graph apart: only when they ran one after the other (`split`). */
  facts?: number;
  graph?: number;
  edges: number;
  opaque: number;
  fast: boolean;
}

/**
 * One timed run of the built analysis in a fresh `node` process (no tsx, no
 * warm JIT): `analyseNotebook` (facts in the worker pool, the graph growing
 * in this thread meanwhile), or with `split` `analyseCells` then
 * `new DependencyGraph`, timed apart.
 */
function measure(build: string, cellsFile: string, threads: number | undefined, split: boolean): Measured {
  const code = `
    import { readFileSync } from "node:fs";
    import { pathToFileURL } from "node:url";
    import { join } from "node:path";
    const build = process.env.BENCH_BUILD;
    const sources = JSON.parse(readFileSync(process.env.BENCH_CELLS, "utf8"));
    const cells = sources.map((source, i) => ({ id: "c" + i, source }));
    const options = process.env.BENCH_THREADS ? { threads: Number(process.env.BENCH_THREADS) } : {};
    const t0 = performance.now();
    const { analyseCells, analyseNotebook } = await import(pathToFileURL(join(build, "analysis", "pool.js")).href);
    const { DependencyGraph } = await import(pathToFileURL(join(build, "analysis", "graph.js")).href);
    const { fastWalk } = await import(pathToFileURL(join(build, "analysis", "parser.js")).href);
    const t1 = performance.now();
    let graph, tFacts;
    if (process.env.BENCH_SPLIT) {
      const facts = await analyseCells(sources, options);
      tFacts = performance.now();
      graph = new DependencyGraph(facts.map((f, i) => ({ id: cells[i].id, facts: f })));
    } else graph = await analyseNotebook(cells, options);
    const t2 = performance.now();
    const times = tFacts === undefined ? {} : { facts: tFacts - t1, graph: t2 - tFacts };
    const opaque = graph.cells.filter((c) => c.facts.opaque).length;
    console.log(JSON.stringify({ total: t2 - t0, load: t1 - t0, ...times, edges: graph.edges.length, opaque, fast: fastWalk() }));
  `;
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_BUILD: build, BENCH_CELLS: cellsFile };
  if (threads !== undefined) env.BENCH_THREADS = String(threads);
  if (split) env.BENCH_SPLIT = "1";
  // Not tsx's loader: the child is a plain node process, as the installed CLI is.
  delete env.NODE_OPTIONS;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, env, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`analysis run failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Measured;
}

async function main(): Promise<void> {
  const count = option("cells", 10_000);
  const lines = option("lines", 20);
  const cells = generateCells(count, lines);
  const bytes = cells.reduce((n, c) => n + Buffer.byteLength(c), 0);
  console.log(`analysis bench: ${count} cells × ${lines} lines (${(bytes / 1e6).toFixed(1)} MB), ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`);

  const build = buildAnalysis();
  const env = await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-"));
  try {
    const file = join(dir, "cells.json");
    writeFileSync(file, JSON.stringify(cells));

    const ours = measure(build, file, undefined, false);
    const walk = ours.fast ? "fast cursor walk" : "public TreeCursor walk (fast walk unavailable)";
    console.log(`  ours   (built JS in plain node, analyseNotebook, ${availableParallelism()} threads): ${ours.total.toFixed(0)} ms  [module load ${ours.load.toFixed(0)} ms; ${ours.edges} edges, ${ours.opaque} opaque cells; ${walk}]`);
    const one = measure(build, file, 1, true);
    console.log(`  ours   (1 thread, for reference): ${one.total.toFixed(0)} ms  [module load ${one.load.toFixed(0)} ms, facts ${one.facts?.toFixed(0)} ms, graph ${one.graph?.toFixed(0)} ms]`);

    const code = [
      "import ast, json, sys, time",
      "t = time.perf_counter()",
      "cells = json.load(open(sys.argv[1]))",
      "errors = 0",
      "for c in cells:",
      "    try: ast.parse(c)",
      "    except SyntaxError: errors += 1",
      "print(round((time.perf_counter() - t) * 1000), errors)",
    ].join("\n");
    const p0 = performance.now();
    const run = spawnSync(env.python, ["-c", code, file], { encoding: "utf8" });
    const p1 = performance.now();
    if (run.status !== 0) throw new Error(`python baseline failed: ${run.stderr}`);
    const [inside, errors] = run.stdout.trim().split(" ");
    const wall = p1 - p0;
    console.log(`  python -c ast.parse (CPython, 1 thread): ${wall.toFixed(0)} ms wall, ${inside} ms parsing; ${errors} syntax errors`);
    console.log(`  ratio ours / python: ${(ours.total / wall).toFixed(2)}`);
    console.log(`  target < ${TARGET_MS} ms for ${count} × ${lines}: ${ours.total < TARGET_MS ? "met" : "NOT met"} (${ours.total.toFixed(0)} ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("analysis.bench.ts")) await main();
