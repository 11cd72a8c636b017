import type { AnalysedCell, DependencyGraph } from "../analysis/index.js";
import { cellNumber } from "../notebook/cell-label.js";
import { engineBoundNeed, promoteEngineCells } from "./engines.js";
import { planFiles, type FileView } from "./files.js";
import { fingerprintCells, type CellIdentity, type FileDigest } from "./fingerprint.js";
import { applyForced, type ForcedCells } from "./forced.js";
import type { RecordedCell, RecordedWrite } from "./recorded.js";

/**
 * Restoring a value costs reading and unpickling its blob; the planner
 * compares that with re-running the cell that produced it. Deliberately
 * simple numbers: a local disk and cloudpickle manage a few hundred MB/s.
 */
export const RESTORE_BYTES_PER_S = 400e6;
export const RESTORE_OVERHEAD_S = 0.005;
/**
 * Re-running instead of restoring must save at least this much: trading a
 * millisecond restore for a millisecond re-run is noise in the recorded
 * timings, and a re-run has effects a restore has not.
 */
export const RERUN_MARGIN_S = 0.05;

export type Decision = "reuse" | "run" | "skip";

export interface RestoreStep {
  name: string;
  digest: string;
  size: number;
  /** The reused cell whose recorded value this is. */
  fromCellId: string;
  fromIndex: number;
  /**
   * Reused cells after it that the analysis counts as possibly changing the
   * value (`describe(x)`), but whose records show it unchanged (the shim's
   * digest after the cell equals the one before): indices in notebook.cells.
   */
  unchangedBy?: number[];
}

export interface CellPlan {
  /** Index in notebook.cells. */
  index: number;
  /** The number every message uses: 1-based position among all cells (notebook/cell-label.ts). */
  number: number;
  id: string;
  identity: CellIdentity;
  decision: Decision;
  /** Why, in words a user can act on. The first one is the main reason. */
  reasons: string[];
  /** For reuse: the record whose outputs are copied. */
  record?: RecordedCell;
  /** For run: values to load from the bundle just before the cell runs. */
  restores: RestoreStep[];
  /** Static outputs the shim should check after the cell runs. */
  candidates: string[];
  /** Names the cell reads from earlier cells (after expanding the functions it calls). */
  inputs: string[];
  opaque: boolean;
  /** Runs although its fingerprint (or its input values) was recorded: another cell needs a value only running it recreates, or a pin changed under it. */
  forced: boolean;
  /** The latest record of this cell id, whatever its fingerprint: what its tasks are compared with. */
  previous?: RecordedCell;
}

export interface Plan {
  cells: CellPlan[];
  counts: { reuse: number; run: number; skip: number; restores: number; restoreBytes: number };
  /** The files the records name, as this run finds them (files.ts); absent when files were not probed. */
  files?: FileView;
}

export interface PlanInput {
  /** The notebook's code cells, in order. */
  cells: { index: number; id: string; source: string }[];
  graph: DependencyGraph;
  /** Earlier runs' records, by fingerprint. */
  records: Map<string, RecordedCell>;
  /** Audit: run every cell, whatever is recorded. */
  runAll?: boolean;
  /** Cells the user forces to run (`--run`, `--from`): see forced.ts. */
  forced?: ForcedCells;
  /** Reads the files cells run (`%run prep.py`), for their fingerprints. */
  fileDigest?: FileDigest;
  /**
   * Whether a record's result no longer stands although its cell's inputs did
   * not change (nbrewind.yaml's pins changed for its tasks): the reason, and a
   * salt that gives the cell, and so everything downstream, a new fingerprint.
   */
  staleRecord?: (record: RecordedCell) => { reason: string; salt: string } | undefined;
  /** The recorded files as they are now: a reused cell whose files changed runs (files.ts). */
  files?: FileView;
}

/** Where a name's value is at a point of the planned run. */
type ValueState = { kind: "live" } | { kind: "recorded"; cell: CellPlan; write: RecordedWrite; unchangedBy?: CellPlan[] };

export function makePlan(input: PlanInput): Plan {
  const staleReasons = new Map<string, string>();
  const stale = input.staleRecord;
  const identities = fingerprintCells(
    input.cells,
    input.graph,
    input.fileDigest,
    stale
      ? (id, fingerprint) => {
          const record = input.records.get(fingerprint);
          const change = record ? stale(record) : undefined;
          if (change) staleReasons.set(id, change.reason);
          return change?.salt;
        }
      : undefined,
  );
  const latestById = latestRecordByCellId(input.records);
  const cells: CellPlan[] = input.cells.map((c) => newCellPlan(c.index, identities.get(c.id)!, input.graph.cell(c.id)!, latestById.get(c.id)));
  const byId = new Map(cells.map((c) => [c.id, c]));
  const label = (id: string) => {
    const c = byId.get(id);
    return c ? `cell ${c.number}` : `deleted cell '${id}'`;
  };

  // First pass: what the fingerprints alone say.
  for (const [i, plan] of cells.entries()) {
    const source = input.cells[i]!.source;
    if (!source.trim()) {
      plan.decision = "skip";
      plan.reasons.push("empty cell");
      continue;
    }
    const record = input.records.get(plan.identity.fingerprint);
    if (input.runAll) {
      plan.reasons.push("audit runs every cell");
    } else if (record?.status === "ok") {
      plan.decision = "reuse";
      plan.record = record;
      plan.reasons.push("unchanged: same source and same inputs as recorded");
    } else if (record) {
      plan.reasons.push("it raised an error when it was recorded");
    } else if (staleReasons.has(plan.id)) {
      // Its recorded values stand for a result the pin no longer vouches for: not reusable by value either.
      plan.forced = true;
      plan.reasons.push(staleReasons.get(plan.id)!);
    } else {
      plan.reasons.push(whyChanged(plan, latestById.get(plan.id), cells, label));
    }
  }

  if (input.files && !input.runAll) planFiles(cells, input.files, label);
  applyForced(cells, input.forced);

  // Second pass, to a fixpoint: simulate the namespace through the run. A
  // running cell needs each value it reads either live (produced earlier in
  // this run) or restored from the recorded cell that produced it; a value
  // that cannot be restored, or is cheaper to recompute, makes its producer
  // run too, which can in turn need more values: repeat until stable.
  // Engines are global state the namespace does not show: engines.ts adds the
  // cells that start them, and those that set them up, where running cells need them.
  const sources = new Map(input.cells.map((c) => [c.id, c.source]));
  for (;;) {
    if (simulate(cells, input.graph, label)) continue;
    if (promoteEngineCells({ cells, graph: input.graph, sources, label }, promote)) continue;
    break;
  }

  const counts = { reuse: 0, run: 0, skip: 0, restores: 0, restoreBytes: 0 };
  for (const c of cells) {
    counts[c.decision]++;
    counts.restores += c.restores.length;
    counts.restoreBytes += c.restores.reduce((s, r) => s + r.size, 0);
  }
  return { cells, counts, ...(input.files ? { files: input.files } : {}) };
}

/** A cell about to be decided on: runs, for no reason yet. `index` is its position (in the notebook, or in a kernel's history). */
export function newCellPlan(index: number, identity: CellIdentity, analysed: AnalysedCell, previous: RecordedCell | undefined): CellPlan {
  return {
    index,
    number: cellNumber(index),
    id: identity.id,
    identity,
    decision: "run",
    reasons: [],
    restores: [],
    candidates: [...analysed.outputs].sort(),
    inputs: [...analysed.inputs].sort(),
    opaque: Boolean(analysed.facts.opaque),
    forced: false,
    ...(previous ? { previous } : {}),
  };
}

/** Returns true if it had to turn a reused cell into a running one (the caller simulates again). */
function simulate(cells: CellPlan[], graph: DependencyGraph, label: (id: string) => string): boolean {
  const state = new Map<string, ValueState>();
  for (const cell of cells) cell.restores = [];
  for (const cell of cells) {
    if (cell.decision === "skip") continue;
    if (cell.decision === "reuse") {
      for (const write of cell.record!.writes) {
        if (write.status === "deleted") state.delete(write.name);
        else if (!keptUnchanged(state, cell, write)) state.set(write.name, { kind: "recorded", cell, write });
      }
      continue;
    }
    const analysed = graph.cell(cell.id)!;
    const needs = cell.opaque ? [...state.keys()] : [...analysed.inputs];
    for (const name of needs.sort()) {
      const value = state.get(name);
      if (!value || value.kind === "live") continue;
      const producer = value.cell;
      const write = value.write;
      if (write.status === "unserialisable") {
        promote(producer, `needs \`${name}\` (${write.type}), unserialisable, for ${label(cell.id)}: ${write.reason}`);
        return true;
      }
      if (write.status === "engine-bound") {
        promote(producer, engineBoundNeed(write, producer, label(cell.id)));
        return true;
      }
      if (write.status === "deleted") continue;
      const loadS = RESTORE_OVERHEAD_S + write.size / RESTORE_BYTES_PER_S;
      const rerunS = producer.record!.duration_s;
      if (rerunS + RERUN_MARGIN_S < loadS && !producer.opaque) {
        promote(producer, `re-running is cheaper than restoring \`${name}\` for ${label(cell.id)} (${rerunS.toFixed(2)} s to run vs ${loadS.toFixed(2)} s to load ${formatBytes(write.size)})`);
        return true;
      }
      cell.restores.push({ name, digest: write.digest, size: write.size, fromCellId: producer.id, fromIndex: producer.index, ...(value.unchangedBy ? { unchangedBy: value.unchangedBy.map((c) => c.index) } : {}) });
      state.set(name, { kind: "live" });
    }
    if (cell.opaque) {
      for (const name of state.keys()) state.set(name, { kind: "live" });
    }
    for (const name of analysed.outputs) state.set(name, { kind: "live" });
  }
  return false;
}

/**
 * The run-time evidence over the static guess: a reused cell the analysis
 * counts as maybe changing `x` (it passed `x` to a function), whose record
 * shows `x` with the digest it had before the cell ("unchanged"), leaves `x`
 * as the earlier cell made it. So `x` is restored from, or recomputed by,
 * that earlier cell: re-running this one would not bring `x` back.
 */
function keptUnchanged(state: Map<string, ValueState>, cell: CellPlan, write: RecordedWrite): boolean {
  if (write.status !== "unchanged") return false;
  const before = state.get(write.name);
  if (!before) return false;
  if (before.kind === "live") return true; // this cell's inputs are as recorded, so is the live value
  if (before.write.status !== "stored" && before.write.status !== "unchanged") return false;
  if (before.write.digest !== write.digest) return false;
  before.unchangedBy = [...(before.unchangedBy ?? []), cell];
  return true;
}

function promote(cell: CellPlan, reason: string): void {
  cell.decision = "run";
  cell.forced = true;
  cell.reasons = [reason];
  cell.record = undefined;
}

function whyChanged(plan: CellPlan, previous: RecordedCell | undefined, cells: CellPlan[], label: (id: string) => string): string {
  if (!previous) return "new cell: nothing recorded for it";
  if (previous.source_hash !== plan.identity.sourceHash) return "source changed";
  // A name can come from several cells (a conditional binder and the one before it;
  // every earlier cell, for an opaque cell): compare (name, producer) pairs, never
  // one producer per name, or an unchanged read looks like a moved one.
  const pair = (r: { name: string; producer_cell_id: string }) => `${r.name}\0${r.producer_cell_id}`;
  const recorded = new Map(previous.reads.map((r) => [pair(r), r]));
  const recordedProducers = (name: string) => previous.reads.filter((r) => r.name === name).map((r) => r.producer_cell_id);
  const runs = new Set(cells.filter((c) => c.decision === "run" && c.reasons.length > 0).map((c) => c.id));
  const changed = plan.identity.reads.filter((read) => recorded.get(pair(read))?.producer_fingerprint !== read.producer_fingerprint);
  // The true cause first: a producer that runs in this plan.
  changed.sort((a, b) => Number(runs.has(b.producer_cell_id)) - Number(runs.has(a.producer_cell_id)));
  for (const read of changed) {
    const what = plan.opaque ? `follows ${label(read.producer_cell_id)} (an opaque cell depends on every cell before it)` : `reads \`${read.name}\` from ${label(read.producer_cell_id)}`;
    if (read.name === "*" && !plan.opaque) return `follows ${label(read.producer_cell_id)}, an opaque dependency that changed`;
    if (runs.has(read.producer_cell_id)) return `${what}, which runs`;
    const before = recordedProducers(read.name);
    if (!recorded.has(pair(read)) && before.length > 0 && !plan.opaque) return `${what} now (was ${before.map(label).join(", ")})`;
    if (!recorded.has(pair(read))) return plan.opaque ? `${what}, which is new` : `${what}, which it did not read before`;
    return `${what}, which changed`;
  }
  const gone = previous.reads.find((r) => !plan.identity.reads.some((n) => n.name === r.name));
  if (gone) return `no longer reads \`${gone.name}\` from an earlier cell`;
  // Same source, same producers: what is left is the content of a file it runs.
  if (plan.identity.files.length) return `${plan.identity.files.map((f) => `\`${f.path}\``).join(", ")}, which it runs, changed (or cannot be read)`;
  return "its inputs changed";
}

/**
 * The record each cell's run is compared with: its latest successful one, else
 * its latest. A failed run records neither tasks nor engines, so a recorded
 * failure must not hide what the cell needed when it last worked (the engine
 * set-up cell it submits to): otherwise a cell that failed once, for want of
 * that engine, would plan the same way and fail again at every repeat.
 */
function latestRecordByCellId(records: Map<string, RecordedCell>): Map<string, RecordedCell> {
  const out = new Map<string, RecordedCell>();
  const rank = (r: RecordedCell): [number, string] => [r.status === "ok" ? 1 : 0, r.recorded_at];
  for (const r of records.values()) {
    const seen = out.get(r.cell_id);
    if (!seen) {
      out.set(r.cell_id, r);
      continue;
    }
    const [a, b] = [rank(seen), rank(r)];
    if (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1])) out.set(r.cell_id, r);
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
