import { InputError } from "../common/errors.js";
import { cellName, cellNumber } from "../notebook/cell-label.js";
import type { CellPlan } from "./plan.js";

/**
 * The escape hatch: cells the user makes run whatever their records say
 * (`repeat --run 4,7`, `--from 12`). A CELL is the number every message
 * shows (the 1-based position among all cells, see notebook/cell-label.ts)
 * or the cell's id.
 */
export interface ForceRequest {
  /** `--run` values, each a comma-separated list of CELLs. */
  run?: string[];
  /** `--from` value: this cell and every code cell after it. */
  from?: string;
}

/** The cells a request forces, by id, with the reason each gets. */
export type ForcedCells = Map<string, string>;

/**
 * Resolve a request against the notebook's cells (all of them, markdown
 * included, in order). A CELL that names no cell, or `--run` naming a
 * markdown cell, is bad input (exit 2) naming it.
 */
export function resolveForced(request: ForceRequest, cells: { id: string; cell_type: string }[]): ForcedCells {
  const out: ForcedCells = new Map();
  for (const value of request.run ?? []) {
    for (const raw of value.split(",")) {
      const text = raw.trim();
      if (!text) continue;
      const index = findCell(text, cells, "--run");
      if (cells[index]!.cell_type !== "code") throw new InputError(`--run ${text}: ${cellName(index)} is a ${cells[index]!.cell_type} cell, not a code cell`);
      out.set(cells[index]!.id, `forced: --run ${text}`);
    }
  }
  if (request.from !== undefined) {
    const text = request.from.trim();
    const start = findCell(text, cells, "--from");
    for (let i = start; i < cells.length; i++) {
      if (cells[i]!.cell_type === "code" && !out.has(cells[i]!.id)) out.set(cells[i]!.id, `forced: --from ${text}`);
    }
  }
  return out;
}

function findCell(text: string, cells: { id: string }[], option: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    const index = cells.findIndex((_, i) => cellNumber(i) === n);
    if (index >= 0) return index;
    throw new InputError(`${option} ${text}: the notebook has no cell ${text} (cells are numbered 1 to ${cells.length}, markdown included, as 'plan' shows them)`);
  }
  const index = cells.findIndex((c) => c.id === text);
  if (index >= 0) return index;
  throw new InputError(`${option} ${text}: no cell has the number or id '${text}' (see 'nbrewind-engine plan NOTEBOOK' for numbers and ids)`);
}

/** Make the forced cells run, with their reason first. */
export function applyForced(cells: CellPlan[], forced: ForcedCells | undefined): void {
  if (!forced) return;
  for (const cell of cells) {
    const reason = forced.get(cell.id);
    if (reason === undefined || cell.decision === "skip") continue;
    cell.decision = "run";
    // Never reused at run time either, even when its input values match a record.
    cell.forced = true;
    cell.record = undefined;
    cell.reasons = [reason];
  }
}
