/**
 * Do two runs of a notebook show the same outputs? Code cells are matched by
 * id, outputs by position. What counts is what the cell produced:
 *
 *   stream           its name and full text (consecutive pieces joined)
 *   execute_result,  every MIME type of `data` (text/plain and the rest) and
 *   display_data     the output's metadata (image sizes and the like)
 *   error            ename and evalue
 *
 * What does not count, because it differs between two runs of the same code
 * without the results differing: execution counts (of cells and of
 * execute_result), the `transient` part (display ids), cell metadata
 * (timings, our own decisions), and an error's traceback (it names the
 * kernel's temp files and carries terminal colours). A cell only one side
 * has counts only when it shows something: a parameters cell injected by the
 * replay (-p) and absent from the recorded run has no outputs to differ.
 *
 * One kind of difference is listed apart and does not make the runs differ: a
 * part that differs only in the memory addresses of Python's default reprs,
 * `<parsl.dataflow.dflow.DataFlowKernel at 0x7f…>`. An object that cannot be
 * recorded (an engine's client, a lock) is made again at the other site, and
 * its address says nothing about any result.
 */
import type { Cell, Notebook } from "./types.js";

export interface OutputDifference {
  cell_id: string;
  /** Index of the cell in the replayed notebook (or the recorded one, for a cell only it has). */
  cell_index: number;
  /** null when the whole cell is missing on one side. */
  output_index: number | null;
  /** What differs: "stream stdout", "text/plain", "image/png", "error", "output count", "cell"... */
  what: string;
  expected: string;
  got: string;
}

export interface OutputComparison {
  cells_compared: number;
  cells_differing: number;
  matched: boolean;
  differences: OutputDifference[];
  /** Parts equal once the addresses of `<… at 0x…>` reprs are set aside: not differences. */
  addresses_only: OutputDifference[];
}

/** The address in a default repr, `<… at 0x7f3a…>` (also HTML-escaped): what two runs never share. */
const REPR_ADDRESS = / at 0x[0-9a-f]{4,16}(?=>|&gt;)/gi;

function withoutAddresses(text: string): string {
  return text.replace(REPR_ADDRESS, " at 0x…");
}

interface View {
  /** Kind and the key of each part: parts with the same key are compared with each other. */
  kind: string;
  parts: Map<string, string>;
}

export function compareOutputs(recorded: Notebook, got: Notebook): OutputComparison {
  const expectedCells = codeCellsById(recorded);
  const gotCells = codeCellsById(got);
  const differences: OutputDifference[] = [];
  const addressesOnly: OutputDifference[] = [];
  const differing = new Set<string>();
  let compared = 0;
  for (const [id, { cell, index }] of gotCells) {
    const want = expectedCells.get(id);
    if (!want) {
      if (outputViews(cell).length === 0) continue;
      differences.push({ cell_id: id, cell_index: index, output_index: null, what: "cell", expected: "(no such cell in the recorded notebook)", got: summariseCell(cell) });
      differing.add(id);
      continue;
    }
    compared++;
    const before = differences.length;
    compareCell(id, index, want.cell, cell, differences, addressesOnly);
    if (differences.length > before) differing.add(id);
  }
  for (const [id, { cell, index }] of expectedCells) {
    if (gotCells.has(id) || outputViews(cell).length === 0) continue;
    differences.push({ cell_id: id, cell_index: index, output_index: null, what: "cell", expected: summariseCell(cell), got: "(no such cell in the replayed notebook)" });
    differing.add(id);
  }
  return { cells_compared: compared, cells_differing: differing.size, matched: differences.length === 0, differences, addresses_only: addressesOnly };
}

function compareCell(id: string, index: number, expected: Cell, got: Cell, out: OutputDifference[], addressesOnly: OutputDifference[]): void {
  const a = outputViews(expected);
  const b = outputViews(got);
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) {
      out.push({ cell_id: id, cell_index: index, output_index: k, what: x ? x.kind : y!.kind, expected: x ? describe(x) : "(no output)", got: y ? describe(y) : "(no output)" });
      continue;
    }
    if (x.kind !== y.kind) {
      out.push({ cell_id: id, cell_index: index, output_index: k, what: "output type", expected: describe(x), got: describe(y) });
      continue;
    }
    for (const key of new Set([...x.parts.keys(), ...y.parts.keys()])) {
      const ex = x.parts.get(key);
      const gy = y.parts.get(key);
      if (ex === gy) continue;
      const difference = { cell_id: id, cell_index: index, output_index: k, what: key, expected: ex ?? "(absent)", got: gy ?? "(absent)" };
      if (ex !== undefined && gy !== undefined && withoutAddresses(ex) === withoutAddresses(gy)) addressesOnly.push(difference);
      else out.push(difference);
    }
  }
}

function codeCellsById(nb: Notebook): Map<string, { cell: Cell; index: number }> {
  const out = new Map<string, { cell: Cell; index: number }>();
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type === "code") out.set(cell.id, { cell, index });
  });
  return out;
}

function text(v: unknown): string {
  if (Array.isArray(v)) return v.map(String).join("");
  if (typeof v === "string") return v;
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

/** The outputs of a cell as comparable views; consecutive stream pieces of one name are joined first. */
export function outputViews(cell: Cell): View[] {
  const outputs = cell.cell_type === "code" ? (cell.outputs as unknown as Record<string, unknown>[]) : [];
  const views: View[] = [];
  for (const o of outputs ?? []) {
    switch (o.output_type) {
      case "stream": {
        const kind = `stream ${String(o.name)}`;
        const last = views[views.length - 1];
        if (last?.kind === kind) last.parts.set(kind, (last.parts.get(kind) ?? "") + text(o.text));
        else views.push({ kind, parts: new Map([[kind, text(o.text)]]) });
        break;
      }
      case "execute_result":
      case "display_data": {
        const parts = new Map<string, string>();
        for (const [mime, value] of Object.entries((o.data as Record<string, unknown>) ?? {})) parts.set(mime, text(value));
        const metadata = o.metadata as Record<string, unknown> | undefined;
        if (metadata && Object.keys(metadata).length > 0) parts.set("output metadata", text(metadata));
        views.push({ kind: String(o.output_type), parts });
        break;
      }
      case "error":
        views.push({ kind: "error", parts: new Map([["error", `${String(o.ename)}: ${String(o.evalue)}`]]) });
        break;
      default:
        views.push({ kind: String(o.output_type), parts: new Map([["output", text(o)]]) });
    }
  }
  return views;
}

function describe(v: View): string {
  const first = [...v.parts.entries()][0];
  return first ? `${v.kind}: ${first[1]}` : v.kind;
}

function summariseCell(cell: Cell): string {
  const views = outputViews(cell);
  return `${views.length} output(s)${views.length > 0 ? `: ${describe(views[0]!)}` : ""}`;
}
