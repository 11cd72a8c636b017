import { cellLabel, cellNumber } from "../notebook/cell-label.js";
import type { DependencyGraph } from "./graph.js";

/** The `deps --json` document (schemas/deps.schema.json). */
export interface DepsJson {
  notebook: string | null;
  cells: {
    id: string;
    /** Position among the code cells, from 0. */
    index: number;
    /** Position among all cells of the notebook, from 0 (code-cell order when unknown). */
    notebookIndex: number;
    /** The cell's number in every message: its 1-based position among all cells (notebook/cell-label.ts). */
    number: number;
    /** The cell's label: its first line that is not an import, a comment or blank. */
    firstLine: string;
    binds: string[];
    definiteBinds: string[];
    reads: string[];
    mutates: string[];
    deletes: string[];
    opaque: { reasons: string[] } | null;
    syntaxError: { line: number; column: number; message: string } | null;
    effects: string[];
    functions: { name: string; reads: string[]; mutates: string[] }[];
    inputs: { name: string; from: string[] }[];
    unresolved: string[];
  }[];
  edges: { from: string; to: string; names: string[] }[];
}

const sorted = (s: Iterable<string>) => [...s].sort();

export function graphToJson(graph: DependencyGraph, sources: Map<string, string>, notebook: string | null = null, positions?: Map<string, number>): DepsJson {
  return {
    notebook,
    cells: graph.cells.map((c) => ({
      id: c.id,
      index: c.index,
      notebookIndex: positions?.get(c.id) ?? c.index,
      number: cellNumber(positions?.get(c.id) ?? c.index),
      firstLine: cellLabel(sources.get(c.id) ?? ""),
      binds: sorted(c.facts.binds),
      definiteBinds: sorted(c.facts.definiteBinds),
      reads: sorted(c.facts.reads),
      mutates: sorted(c.facts.mutates),
      deletes: sorted(c.facts.deletes),
      opaque: c.facts.opaque ? { reasons: c.facts.opaque.reasons } : null,
      syntaxError: c.facts.syntaxError ?? null,
      effects: c.facts.effects,
      functions: [...c.facts.functions].map(([name, f]) => ({ name, reads: sorted(f.reads), mutates: sorted(f.mutates) })).sort((a, b) => a.name.localeCompare(b.name)),
      inputs: sorted(c.inputs)
        .map((name) => ({ name, from: graph.producersOf(c.id, name) }))
        .filter((i) => i.from.length > 0),
      unresolved: sorted(c.unresolved),
    })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, names: e.names })),
  };
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Graphviz source: one node per cell, edges labelled with the names they carry. */
export function graphToDot(graph: DependencyGraph, sources: Map<string, string>, positions?: Map<string, number>): string {
  const lines = ["digraph notebook {", "  rankdir=TB;", '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=9];'];
  for (const c of graph.cells) {
    const style = c.facts.syntaxError ? ', color=red, style=bold' : c.facts.opaque ? ", style=dashed" : "";
    lines.push(`  ${dotString(c.id)} [label=${dotString(`[${cellNumber(positions?.get(c.id) ?? c.index)}] ${cellLabel(sources.get(c.id) ?? "", 40)}`)}${style}];`);
  }
  for (const e of graph.edges) {
    const label = e.names.length > 4 ? `${e.names.slice(0, 4).join(", ")}, +${e.names.length - 4}` : e.names.join(", ");
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(label)}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
