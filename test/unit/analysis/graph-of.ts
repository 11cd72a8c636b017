import { buildGraph, type DependencyGraph } from "../../../src/analysis/graph.js";

/** The graph of a notebook whose code cells are `sources`, with ids c0, c1, ... (the parser must be loaded). */
export function graphOf(...sources: string[]): DependencyGraph {
  return buildGraph(sources.map((source, i) => ({ id: `c${i}`, source })));
}

export const sortedSet = (s: Set<string>) => [...s].sort();
