import type { Notebook } from "../notebook/types.js";
import { cellSource } from "../notebook/source.js";
import { sourceHash } from "../planner/fingerprint.js";
import type { RecordedCell } from "../planner/recorded.js";

/**
 * Will this repeat surely need a kernel? Asked before the plan is made, so
 * that the server and kernel (most of a repeat's fixed cost) start while it
 * is. Yes when cells are forced to run, or when a code cell has a source no
 * record of the bundle holds: such a cell cannot be reused, whatever the
 * plan finds. Otherwise no: going back to an earlier version of a cell, a
 * changed input file or a deleted cell may or may not make cells run, and
 * the plan decides; the kernel then starts after the plan, if at all, as it
 * did before this forecast existed. A "no" therefore never costs an unused kernel.
 */
export function kernelSurelyNeeded(notebook: Notebook, records: Map<string, RecordedCell>, forced: boolean): boolean {
  if (forced) return true;
  const recorded = new Set<string>();
  for (const record of records.values()) recorded.add(record.source_hash);
  return notebook.cells.some((cell) => cell.cell_type === "code" && !recorded.has(sourceHash(cellSource(cell))));
}
