/**
 * What a repeat re-ran, read from the notebook it wrote (every code cell's
 * `metadata.nbrewind`: its decision, and for a cell that ran, the tasks it
 * dispatched), held against an edit's ideal.
 */
import type { Notebook } from "../../src/notebook/types.js";

interface CellRecord {
  decision?: string;
  tasks?: { dispatched?: number; served?: number; total?: number };
}

/** Cell id -> tasks dispatched, for every code cell that ran. */
export function rerunSet(nb: Notebook): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    const meta = (cell.metadata as { nbrewind?: CellRecord }).nbrewind;
    if (!meta) throw new Error(`cell ${String(cell.id)} has no nbrewind record: was this notebook written by repeat?`);
    if (meta.decision === "run") out[String(cell.id)] = meta.tasks?.dispatched ?? 0;
  }
  return out;
}

/** Every way `got` departs from `ideal`, in words; empty when they are equal. */
export function departures(ideal: Record<string, number>, got: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [cell, tasks] of Object.entries(got)) {
    if (!(cell in ideal)) out.push(`cell ${cell} ran (${tasks} task(s) dispatched) but is outside the ideal`);
    else if (tasks !== ideal[cell]) out.push(`cell ${cell} dispatched ${tasks} task(s), the ideal is ${ideal[cell]}`);
  }
  for (const [cell, tasks] of Object.entries(ideal)) if (!(cell in got)) out.push(`cell ${cell} was reused but the ideal re-runs it (${tasks} task(s))`);
  return out;
}

/** "engine, map-combine (31), stats" */
export function describeSet(set: Record<string, number>): string {
  const cells = Object.entries(set);
  return cells.length === 0 ? "(none)" : cells.map(([c, n]) => (n ? `${c} (${n})` : c)).join(", ");
}
