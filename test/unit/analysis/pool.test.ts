import { beforeAll, describe, expect, it } from "vitest";
import { generateCells } from "../../../bench/analysis.bench.js";
import { analyseCell, type CellFacts } from "../../../src/analysis/facts.js";
import { buildGraph } from "../../../src/analysis/graph.js";
import { fastWalk, loadPythonParser, parseToTree } from "../../../src/analysis/parser.js";
import { analyseCells, analyseNotebook } from "../../../src/analysis/pool.js";
import { loadCorpus } from "./corpus.js";

beforeAll(async () => {
  await loadPythonParser();
});

/** Facts as plain sorted data, to compare across threads. */
function plain(f: CellFacts): unknown {
  return JSON.parse(JSON.stringify(f, (_k, v: unknown) => (v instanceof Set ? [...(v as Set<string>)].sort() : v instanceof Map ? [...(v as Map<string, unknown>)].sort() : v)));
}

// Generated cells, plus the corpus (syntax errors, IPython, every construct), plus one opaque cell.
const sources = [...generateCells(300, 12), ...loadCorpus().map((c) => c.source), "exec(code)", ...generateCells(60, 5, 7)];
const cells = sources.map((source, i) => ({ id: `c${i}`, source }));

describe("analysis in a worker pool (worker.ts, from source)", () => {
  it("uses the fast tree walk, which agrees with the public cursor API", () => {
    // loadPythonParser checks the two walks against each other; here they must have agreed.
    expect(fastWalk()).toBe(true);
    for (const source of sources) expect(parseToTree(source)).toEqual(parseToTree(source, { publicApi: true }));
  });

  it("gives every cell the facts the one-thread analysis gives", async () => {
    const pooled = await analyseCells(sources, { threads: 2, parallelFrom: 0 });
    expect(pooled.map(plain)).toEqual(sources.map((s) => plain(analyseCell(s))));
  }, 60_000);

  it("builds the same graph while the workers analyse", async () => {
    const pooled = await analyseNotebook(cells, { threads: 3, parallelFrom: 0 });
    const alone = buildGraph(cells);
    expect(pooled.edges).toEqual(alone.edges);
    expect(pooled.cells.map((c) => [c.id, [...c.inputs].sort(), [...c.outputs].sort(), [...c.unresolved].sort()])).toEqual(
      alone.cells.map((c) => [c.id, [...c.inputs].sort(), [...c.outputs].sort(), [...c.unresolved].sort()]),
    );
    for (const cell of alone.cells) for (const name of cell.inputs) expect(pooled.producersOf(cell.id, name)).toEqual(alone.producersOf(cell.id, name));
  }, 60_000);

  it("stays in this thread for one thread or few cells", async () => {
    const graph = await analyseNotebook(cells.slice(0, 5), { threads: 1 });
    expect(graph.edges).toEqual(buildGraph(cells.slice(0, 5)).edges);
  });
});
