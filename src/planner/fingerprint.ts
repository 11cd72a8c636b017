import { createHash, randomUUID } from "node:crypto";
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
  /** Files the cell runs (`%run prep.py`), with the digest of their content when it was planned. */
  files: { path: string; digest: string }[];
}

/** The sha256 of a file's content, by the path a cell names it with; undefined when it cannot be read. */
export type FileDigest = (path: string) => string | undefined;

/**
 * Fingerprints of every code cell, in notebook order. A cell reads a value
 * "as produced by" the cell that last produced it; that producer's
 * fingerprint stands for the value. So an edit changes the fingerprint of
 * the edited cell and, by construction, of everything downstream of it,
 * while a cell whose inputs are untouched keeps its fingerprint wherever it
 * moves. The cell id is deliberately not hashed: a record is reusable by
 * any cell that would compute the same thing.
 */
export function fingerprintCells(
  cells: { id: string; source: string }[],
  graph: DependencyGraph,
  fileDigest?: FileDigest,
  /** A salt for a cell whose recorded result no longer stands although its inputs did not change (a pin's version changed). */
  salt?: (cellId: string, fingerprint: string) => string | undefined,
): Map<string, CellIdentity> {
  const out = new Map<string, CellIdentity>();
  for (const cell of cells) {
    const producers = graph.dependenciesOf(cell.id).map((edge) => {
      const producer = out.get(edge.from);
      if (!producer) throw new Error(`internal: producer ${edge.from} of ${cell.id} has no fingerprint yet`);
      return { cellId: edge.from, fingerprint: producer.fingerprint, names: edge.names };
    });
    const files = cellFiles(graph.cell(cell.id)?.facts.files ?? [], fileDigest);
    out.set(cell.id, cellIdentity(cell.id, cell.source, producers, files, salt ? (plain) => salt(cell.id, plain) : undefined));
  }
  return out;
}

/**
 * The files a cell runs (`%run prep.py`) with the digest of their content.
 * A script the cell runs is an input like a value: editing prep.py re-runs
 * `%run prep.py`. One that cannot be read gets a digest of its own each
 * time, so the cell is never reused.
 */
export function cellFiles(paths: string[], fileDigest: FileDigest | undefined): CellIdentity["files"] {
  return paths.map((path) => ({ path, digest: fileDigest?.(path) ?? `unreadable:${randomUUID()}` }));
}

/**
 * One cell's identity from its source, the cells it reads from (each
 * producer's id, for the record and explanations, its fingerprint and the
 * names along the edge) and the files it runs. `salt`, given the plain
 * fingerprint, returns a salt when the cell's recorded result no longer
 * stands although its inputs did not change (a pin's version changed).
 * Shared by the notebook-order plan above and the kernel, whose producers are
 * the earlier executions of its own history.
 */
export function cellIdentity(
  id: string,
  source: string,
  producers: { cellId: string; fingerprint: string; names: string[] }[],
  files: CellIdentity["files"] = [],
  salt?: (fingerprint: string) => string | undefined,
): CellIdentity {
  const own = sourceHash(source);
  const inputs: [string, string[]][] = [];
  const reads: CellIdentity["reads"] = [];
  for (const p of producers) {
    inputs.push([p.fingerprint, p.names]);
    for (const name of p.names) reads.push({ name, producer_cell_id: p.cellId, producer_fingerprint: p.fingerprint });
  }
  // Sorted by producer fingerprint, not position: moving an unrelated cell must not change this one.
  inputs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const plain = sha256(JSON.stringify({ scheme: HASHING_SCHEME, source: own, inputs, ...(files.length ? { files } : {}) }));
  const extra = salt?.(plain);
  const fingerprint = extra === undefined ? plain : sha256(JSON.stringify({ fingerprint: plain, salt: extra }));
  return { id, sourceHash: own, fingerprint, reads, files };
}
