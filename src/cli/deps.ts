import { existsSync } from "node:fs";
import type { ValidateFunction } from "ajv";
import { InputError } from "../common/errors.js";
import { cellLabel, cellNumber } from "../notebook/cell-label.js";
import { buildGraph, graphToDot, graphToJson, loadPythonParser, PREDEFINED, type DependencyGraph } from "../analysis/index.js";
import { readNotebook } from "../notebook/read.js";
import { cellSource } from "../notebook/source.js";
import { deps as validateDeps } from "../validators/generated/deps.js";
import { parseArgs } from "./args.js";
import type { Command, CommandIO } from "./command.js";

const HELP = `Usage: nbrewind-engine deps NOTEBOOK [--json | --dot]

Show the data-flow graph between the code cells of a notebook: for every cell,
the top-level names it binds, reads, mutates and deletes, and for every name it
reads, which earlier cell that value comes from. Nothing is executed: the cells
are parsed (IPython magics, shell escapes and help included).

Cells are named by their number, [1] being the first cell (markdown
included): the number plan, repeat --explain, progress lines and error
messages use too; then by their nbformat cell id and a label (the first line
that is not an import, a comment or blank). A name read after the cell bound
it itself (a = 3; print(a)) is not read from an earlier cell.

Options:
  --json   the graph as JSON (schemas/deps.schema.json): cells with their facts
           and inputs, and edges {from, to, names}
  --dot    the graph as Graphviz source: cells as boxes, edges labelled with
           the names they carry; opaque cells dashed, syntax errors red

Conservative where Python is dynamic: a cell that calls exec/eval/globals(),
uses 'from m import *', %run, %load, %store, a non-Python cell magic (%%bash)
or has a syntax error is opaque: it depends on every cell before it and may
bind anything. x.append(...), x.a = ..., x[i] = ... and f(x) count as changes
to x, except calls known not to change their arguments: builtins such as
print, len, sorted, repr, isinstance, and module functions such as np.sum
reached through their import (the table is in src/analysis/known-pure.ts).

Example:
  $ nbrewind-engine deps analysis.ipynb
  analysis.ipynb: 3 code cells, 2 edges
  [2] 1f0c9a2e  import numpy as np
        binds   np
  [3] 7b41d0c3  x = np.arange(N)
        binds   x
        reads   np ← [2]
        unresolved N
  [5] c9e2aa10  print(x.mean())
        reads   x ← [3]
        mutates x

  $ nbrewind-engine deps analysis.ipynb --dot | dot -Tsvg > deps.svg`;

interface CodeCellInput {
  id: string;
  source: string;
  position: number;
}

async function codeCells(path: string): Promise<CodeCellInput[]> {
  if (!existsSync(path)) throw new InputError(`notebook not found: '${path}'`);
  const nb = await readNotebook(path);
  const out: CodeCellInput[] = [];
  nb.cells.forEach((cell, position) => {
    if (cell.cell_type === "code") out.push({ id: cell.id, source: cellSource(cell), position });
  });
  return out;
}

function list(names: Iterable<string>): string {
  return [...names].sort().join(", ");
}

function renderText(name: string, graph: DependencyGraph, cells: CodeCellInput[]): string {
  const pos = new Map(cells.map((c) => [c.id, c.position]));
  // Cells by the number every other message uses (notebook/cell-label.ts).
  const at = (id: string) => `[${cellNumber(pos.get(id) ?? 0)}]`;
  const src = new Map(cells.map((c) => [c.id, c.source]));
  const opaque = graph.cells.filter((c) => c.facts.opaque).length;
  const errors = graph.cells.filter((c) => c.facts.syntaxError).length;
  const summary = [`${graph.cells.length} code cell${graph.cells.length === 1 ? "" : "s"}`, `${graph.edges.length} edge${graph.edges.length === 1 ? "" : "s"}`];
  if (opaque) summary.push(`${opaque} opaque`);
  if (errors) summary.push(`${errors} with syntax errors`);
  const lines = [`${name}: ${summary.join(", ")}`];
  const row = (label: string, value: string) => {
    if (value) lines.push(`      ${label.padEnd(11)}${value}`);
  };
  for (const c of graph.cells) {
    const f = c.facts;
    lines.push(`${at(c.id)} ${c.id}  ${cellLabel(src.get(c.id) ?? "")}`);
    if (f.syntaxError) row("error", `syntax error at line ${f.syntaxError.line}, column ${f.syntaxError.column}: ${f.syntaxError.message}`);
    if (f.opaque) for (const r of f.opaque.reasons.filter((r) => !r.startsWith("syntax error"))) row("opaque", r);
    row("binds", list(f.binds));
    const reads = [...c.inputs]
      .filter((n) => f.reads.has(n) || !f.mutates.has(n))
      .sort()
      .map((n) => {
        const from = graph.producersOf(c.id, n);
        return from.length ? `${n} ← ${from.map(at).join(" ")}` : undefined;
      })
      .filter((s): s is string => s !== undefined);
    row("reads", reads.join(", "));
    row("mutates", list(f.mutates));
    row("deletes", list(f.deletes));
    if (f.opaque) {
      const deps = graph.dependenciesOf(c.id).map((e) => at(e.from));
      row("after", deps.join(" "));
    }
    row("unresolved", list([...c.unresolved].filter((n) => !PREDEFINED.has(n))));
    if (f.effects.length) row("effects", f.effects.join("; "));
  }
  return lines.join("\n") + "\n";
}

function validateJson(doc: unknown): void {
  const validate = validateDeps as unknown as ValidateFunction;
  if (!validate(doc)) {
    // As Ajv's errorsText writes them.
    const text = (validate.errors ?? []).map((e) => `data${e.instancePath} ${e.message ?? ""}`).join(", ");
    throw new Error(`deps --json output does not match schemas/deps.schema.json: ${text}`);
  }
}

async function deps(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("deps", argv, [
    { name: "json", arity: 0 },
    { name: "dot", arity: 0 },
  ]);
  if (args.positionals.length !== 1) throw new InputError("deps: give exactly one NOTEBOOK (see 'nbrewind-engine deps --help')");
  if (args.flags.has("json") && args.flags.has("dot")) throw new InputError("deps: choose one of --json and --dot");
  const path = args.positionals[0]!;
  const cells = await codeCells(path);
  await loadPythonParser();
  const graph = buildGraph(cells);
  const positions = new Map(cells.map((c) => [c.id, c.position]));
  const sources = new Map(cells.map((c) => [c.id, c.source]));
  if (args.flags.has("json")) {
    const doc = graphToJson(graph, sources, path, positions);
    validateJson(doc);
    io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
  } else if (args.flags.has("dot")) {
    io.stdout.write(graphToDot(graph, sources, positions));
  } else {
    io.stdout.write(renderText(path, graph, cells));
  }
  return 0;
}

export const depsCommand: Command = {
  name: "deps",
  help: HELP,
  run: deps,
};
