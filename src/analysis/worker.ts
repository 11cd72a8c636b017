import { analyseCell, type CellFacts } from "./facts.js";
import { loadPythonParser } from "./parser.js";

/** Piscina task: analyse a batch of cell sources in this worker thread. */
export default async function analyseBatch(sources: string[]): Promise<CellFacts[]> {
  await loadPythonParser();
  return sources.map((s) => analyseCell(s));
}
