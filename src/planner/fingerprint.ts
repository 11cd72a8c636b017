import { createHash } from "node:crypto";
import type { DependencyGraph } from "../analysis/index.js";
import { HASHING_SCHEME } from "../common/hashing-scheme.js";
import { normaliseSource } from "../notebook/source.js";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function sourceHash(source: string): string {
  return sha256(normaliseSource(source));
}

export interface CellIdentity {
  id: string;
  sourceHash: string;
  /** Merkle hash: the cell's source and the fingerprints of the cells whose values it reads. */
  fingerprint: string;
  /** The producer each read name resolves to, for the record and for explanations. */
  reads: { name: string; producer_cell_id: string; producer_fingerprint: string }[];
}

/**
 * Fingerprints of every code cell, in notebook order. A cell reads a value
 * "as produced by" the cell that last produced it; that producer's
 * fingerprint stands for the value. So an edit changes the fingerprint of
 * the edited cell and, by construction, of everything downstream of it,
 * while a cell whose inputs are untouched keeps its fingerprint wherever it
 * moves. The cell id is deliberately not hashed: a record is reusable by
 * any cell that would compute the same thing.
 */
export function fingerprintCells(cells: { id: string; source: string }[], graph: DependencyGraph): Map<string, CellIdentity> {
  const out = new Map<string, CellIdentity>();
  for (const cell of cells) {
    const producers = graph.dependenciesOf(cell.id).map((edge) => {
      const producer = out.get(edge.from);
      if (!producer) throw new Error(`internal: producer ${edge.from} of ${cell.id} has no fingerprint yet`);
      return { cellId: edge.from, fingerprint: producer.fingerprint, names: edge.names };
    });
    out.set(cell.id, cellIdentity(cell.id, cell.source, producers));
  }
  return out;
}

/**
 * One cell's identity from its source and the cells it reads from: each
 * producer's id (for the record and explanations), fingerprint and the names
 * along the edge. Shared by the notebook-order plan above and the kernel,
 * whose producers are the earlier executions of its own history.
 */
export function cellIdentity(id: string, source: string, producers: { cellId: string; fingerprint: string; names: string[] }[]): CellIdentity {
  const own = sourceHash(source);
  const inputs: [string, string[]][] = [];
  const reads: CellIdentity["reads"] = [];
  for (const p of producers) {
    inputs.push([p.fingerprint, p.names]);
    for (const name of p.names) reads.push({ name, producer_cell_id: p.cellId, producer_fingerprint: p.fingerprint });
  }
  // Sorted by producer fingerprint, not position: moving an unrelated cell must not change this one.
  inputs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const fingerprint = sha256(JSON.stringify({ scheme: HASHING_SCHEME, source: own, inputs }));
  return { id, sourceHash: own, fingerprint, reads };
}
