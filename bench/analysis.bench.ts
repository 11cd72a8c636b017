/**
 * Benchmark of the cross-cell analysis (issue: data-flow analysis).
 *
 *   npm run bench:analysis [-- --cells 10000 --lines 20]
 *
 * Generates N cells of L lines of typical notebook Python deterministically,
 * then times, end to end: our analysis (parser start-up, worker pool, per-cell
 * facts, graph) and, as a baseline, a `python -c` process that runs
 * `ast.parse` over the same cells. Prints both, their ratio, and whether the
 * 2-second target for 10,000 × 20 lines was met. It measures; it asserts
 * nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { analyseCells } from "../src/analysis/pool.js";
import { DependencyGraph } from "../src/analysis/graph.js";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const TARGET_MS = 2000;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

async function main(): Promise<void> {
  const count = option("cells", 10_000);
  const lines = option("lines", 20);
  const cells = generateCells(count, lines);
  const bytes = cells.reduce((n, c) => n + Buffer.byteLength(c), 0);
  console.log(`analysis bench: ${count} cells × ${lines} lines (${(bytes / 1e6).toFixed(1)} MB), ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`);

  const t0 = performance.now();
  const facts = await analyseCells(cells);
  const tFacts = performance.now();
  const graph = new DependencyGraph(facts.map((f, i) => ({ id: `c${i}`, facts: f })));
  const t1 = performance.now();
  const opaque = facts.filter((f) => f.opaque).length;
  console.log(`  ours   (web-tree-sitter, ${availableParallelism()} threads): ${(t1 - t0).toFixed(0)} ms  [facts ${(tFacts - t0).toFixed(0)} ms, graph ${(t1 - tFacts).toFixed(0)} ms; ${graph.edges.length} edges, ${opaque} opaque cells]`);

  const s0 = performance.now();
  await analyseCells(cells, { threads: 1 });
  const s1 = performance.now();
  console.log(`  ours   (1 thread, for reference): ${(s1 - s0).toFixed(0)} ms`);

  const env = await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-"));
  try {
    const file = join(dir, "cells.json");
    writeFileSync(file, JSON.stringify(cells));
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
    const ours = t1 - t0;
    console.log(`  ratio ours / python: ${(ours / wall).toFixed(2)}`);
    console.log(`  target < ${TARGET_MS} ms for ${count} × ${lines}: ${ours < TARGET_MS ? "met" : "NOT met"} (${ours.toFixed(0)} ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("analysis.bench.ts")) await main();
