/**
 * Cross-cell data-flow analysis of notebook code cells.
 *
 *   await loadPythonParser();               // once per thread
 *   const facts = analyseCell("y = f(x)");  // binds {y}, reads {f, x}, mutates {x}
 *   const graph = buildGraph(cells);        // cells: {id, source}[] in notebook order
 *   graph.producerOf(cellId, "x");
 *   graph.invalidated([changedId]);
 */
export { analyseCell, type CellFacts } from "./facts.js";
export { buildGraph, DependencyGraph, GraphBuilder, type AnalysedCell, type CellInput, type Edge } from "./graph.js";
export { preprocessIPython, type Preprocessed } from "./ipython.js";
export { loadPythonParser } from "./parser.js";
export { analyseCells, analyseNotebook, type BulkOptions } from "./pool.js";
export { graphToJson, graphToDot, type DepsJson } from "./render.js";
export { PREDEFINED } from "./builtins.js";
