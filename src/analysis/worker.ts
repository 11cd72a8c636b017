import { analyseCell, type CellFacts } from "./facts.js";
import { loadPythonParser } from "./parser.js";

// Load the grammar as soon as the thread starts, before the first task arrives.
const ready = loadPythonParser();

/** Piscina task: analyse a batch of cell sources in this worker thread. */
export default async function analyseBatch(sources: string[]): Promise<CellFacts[]> {
  await ready;
  return sources.map((s) => analyseCell(s));
}
