/**
 * Does a repeat's result equal a fresh run's? The notebook's outputs are
 * compared as bench:corpus compares them (corpus/compare.ts: what two plain
 * runs differ in, timings, addresses, ports, is masked, and so are the work
 * folders' paths and log timestamps), and the file the last cell writes is compared byte for byte.
 */
import { readFileSync } from "node:fs";
import type { Notebook } from "../../src/notebook/types.js";
import { compareResults, type ExtraMask } from "../corpus/compare.js";

function escape(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g");
}

/** Every difference between the two runs, in words (empty: equal). `folders` are masked as `<folder>`. */
export function differences(freshNotebook: string, gotNotebook: string, freshOutput: string | undefined, gotOutput: string | undefined, folders: string[]): string[] {
  const out: string[] = [];
  if (freshOutput === undefined) out.push("the fresh run wrote no result file");
  else if (gotOutput !== freshOutput) out.push(`result file differs: fresh ${JSON.stringify(freshOutput.slice(0, 160))}, got ${JSON.stringify((gotOutput ?? "(absent)").slice(0, 160))}`);
  const expected = JSON.parse(readFileSync(freshNotebook, "utf8")) as Notebook;
  const got = JSON.parse(readFileSync(gotNotebook, "utf8")) as Notebook;
  // Engines log with a wall-clock stamp (Ray's "2026-12-01 04:35:17,237 WARNING ..."): two plain runs differ in it.
  const extra: ExtraMask[] = [...folders.map((f): ExtraMask => [escape(f), "<folder>"]), [/\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d([.,]\d+)?/g, "<timestamp>"]];
  for (const d of compareResults(expected, got, [], extra)) out.push(`cell ${d.cell} ${d.what}: fresh ${JSON.stringify(d.expected.slice(0, 120))}, got ${JSON.stringify(d.got.slice(0, 120))}`);
  return out;
}
