/**
 * Cell identity: every cell of a 4.5 notebook has an `id`, unique within the
 * notebook. Later stages key cell records by id, so ids we make up must be
 * the same every time the same file is read (nbformat makes up random ones).
 */
import { createHash } from "node:crypto";
import { cellSource, normaliseSource } from "./source.js";
import { LATEST_MINOR } from "./schema.js";
import type { Cell, Notebook } from "./types.js";
import { CELL_ID_PATTERN } from "./validate.js";

/** Length of the ids we generate: 12 hex digits ([a-z0-9], nbformat's own are 8). */
export const GENERATED_ID_LENGTH = 12;

export function isValidCellId(id: unknown): id is string {
  return typeof id === "string" && CELL_ID_PATTERN.test(id);
}

/**
 * Give every cell a valid, unique id and mark the notebook 4.5.
 *
 * - A valid id is kept where it first occurs.
 * - A cell without one, with an invalid one, or repeating an id an earlier
 *   cell has gets a generated id: the first 12 hex digits of
 *   sha256(cell type, normalised source, how many earlier cells had the same
 *   type and normalised source). It depends on the cell's content, not on its
 *   position, so inserting or deleting other cells does not change it, and
 *   reading the same file twice gives the same ids. A (very unlikely) clash
 *   with any id in the notebook is resolved by hashing again with a counter.
 *
 * Returns a new notebook (cells that change are copied); `nb` is not modified.
 */
export function ensureCellIds(nb: Notebook): Notebook {
  const cells = nb.cells as (Cell & { id?: unknown })[];
  const taken = new Set<string>();
  const keeps = cells.map((cell) => {
    if (!isValidCellId(cell.id) || taken.has(cell.id)) return false;
    taken.add(cell.id);
    return true;
  });
  const occurrences = new Map<string, number>();
  const out = cells.map((cell, index) => {
    const content = `${cell.cell_type}\0${normaliseSource(cellSource(cell as Cell))}`;
    const n = occurrences.get(content) ?? 0;
    occurrences.set(content, n + 1);
    if (keeps[index]) return cell as Cell;
    let id = "";
    for (let attempt = 0; id === "" || taken.has(id); attempt++) {
      id = createHash("sha256").update(`nbrewind-cell-id\0${content}\0${n}\0${attempt}`).digest("hex").slice(0, GENERATED_ID_LENGTH);
    }
    taken.add(id);
    return { ...cell, id } as Cell;
  });
  return { ...nb, nbformat_minor: LATEST_MINOR, cells: out };
}
