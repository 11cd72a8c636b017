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
  const contents = contentKeys(cells as Cell[]);
  const out = cells.map((cell, index) => {
    if (keeps[index]) return cell as Cell;
    let id = "";
    for (let attempt = 0; id === "" || taken.has(id); attempt++) id = generatedId(contents[index]!, attempt);
    taken.add(id);
    return { ...cell, id } as Cell;
  });
  return { ...nb, nbformat_minor: LATEST_MINOR, cells: out };
}

/** Per cell: its type, normalised source and how many earlier cells had both: what a generated id hashes. */
function contentKeys(cells: Cell[]): string[] {
  const occurrences = new Map<string, number>();
  return cells.map((cell) => {
    const content = `${cell.cell_type}\0${normaliseSource(cellSource(cell))}`;
    const n = occurrences.get(content) ?? 0;
    occurrences.set(content, n + 1);
    return `${content}\0${n}`;
  });
}

function generatedId(contentKey: string, attempt: number): string {
  return createHash("sha256").update(`nbrewind-cell-id\0${contentKey}\0${attempt}`).digest("hex").slice(0, GENERATED_ID_LENGTH);
}

/**
 * Ids generated from content (a notebook older than nbformat 4.5 has none)
 * change when a cell is edited, so an edited cell would read as a new one.
 * This gives such cells the id the same cell had in `recorded` (the notebook
 * of the last audit or repeat): cells whose ids match anchor the two
 * notebooks; between two anchors, when as many cells lost their match on
 * each side, they are paired in order (same cell type), as edits in place.
 * An edit then reads as "source changed", and the cell keeps its records'
 * history. Ids the file itself gives are never changed. Returns `nb` itself
 * when nothing changes.
 */
export function inheritCellIds(nb: Notebook, recorded: Notebook): Notebook {
  const contents = contentKeys(nb.cells);
  const generated = nb.cells.map((c, i) => c.id === generatedId(contents[i]!, 0));
  const recordedAt = new Map(recorded.cells.map((c, j) => [c.id, j]));
  const present = new Set(nb.cells.map((c) => c.id));
  // Anchors: cells present in both, kept in increasing order on both sides.
  const anchors: [number, number][] = [];
  nb.cells.forEach((c, i) => {
    const j = recordedAt.get(c.id);
    if (j !== undefined && (anchors.length === 0 || j > anchors[anchors.length - 1]![1])) anchors.push([i, j]);
  });
  const ids = nb.cells.map((c) => c.id);
  let changed = false;
  const bounds: [number, number][] = [[-1, -1], ...anchors, [nb.cells.length, recorded.cells.length]];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [i0, j0] = bounds[k]!;
    const [i1, j1] = bounds[k + 1]!;
    const mine = range(i0 + 1, i1).filter((i) => generated[i] && !recordedAt.has(ids[i]!));
    const theirs = range(j0 + 1, j1).filter((j) => !present.has(recorded.cells[j]!.id));
    if (mine.length === 0 || mine.length !== theirs.length) continue;
    mine.forEach((i, n) => {
      const old = recorded.cells[theirs[n]!]!;
      if (old.cell_type !== nb.cells[i]!.cell_type || present.has(old.id)) return;
      ids[i] = old.id;
      present.add(old.id);
      changed = true;
    });
  }
  if (!changed) return nb;
  return { ...nb, cells: nb.cells.map((c, i) => (ids[i] === c.id ? c : ({ ...c, id: ids[i]! } as Cell))) };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
