import type { DependencyGraph } from "../analysis/index.js";
import { engineBoundNeed, promoteEngineCells } from "./engines.js";
import { fingerprintCells, type CellIdentity } from "./fingerprint.js";
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
}

export interface CellPlan {
  /** Index in notebook.cells. */
  index: number;
  /** 1-based position among all cells, as users count them. */
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
  /** Runs although its fingerprint was recorded: another cell needs a value only running it recreates. */
  forced: boolean;
  /** The latest record of this cell id, whatever its fingerprint: what its tasks are compared with. */
  previous?: RecordedCell;
}

export interface Plan {
  cells: CellPlan[];
  counts: { reuse: number; run: number; skip: number; restores: number; restoreBytes: number };
}

export interface PlanInput {
  /** The notebook's code cells, in order. */
  cells: { index: number; id: string; source: string }[];
  graph: DependencyGraph;
  /** Earlier runs' records, by fingerprint. */
  records: Map<string, RecordedCell>;
  /** Audit: run every cell, whatever is recorded. */
  runAll?: boolean;
}

/** Where a name's value is at a point of the planned run. */
type ValueState = { kind: "live" } | { kind: "recorded"; cell: CellPlan; write: RecordedWrite };

export function makePlan(input: PlanInput): Plan {
  const identities = fingerprintCells(input.cells, input.graph);
  const latestById = latestRecordByCellId(input.records);
  const cells: CellPlan[] = input.cells.map((c) => {
    const identity = identities.get(c.id)!;
    const analysed = input.graph.cell(c.id)!;
    return {
      index: c.index,
      number: c.index + 1,
      id: c.id,
      identity,
      decision: "run",
      reasons: [],
      restores: [],
      candidates: [...analysed.outputs].sort(),
      inputs: [...analysed.inputs].sort(),
      opaque: Boolean(analysed.facts.opaque),
      forced: false,
      ...(latestById.has(c.id) ? { previous: latestById.get(c.id)! } : {}),
    };
  });
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
    } else {
      plan.reasons.push(whyChanged(plan, latestById.get(plan.id), cells, label));
    }
  }

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
  return { cells, counts };
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
        else state.set(write.name, { kind: "recorded", cell, write });
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
      cell.restores.push({ name, digest: write.digest, size: write.size, fromCellId: producer.id, fromIndex: producer.index });
      state.set(name, { kind: "live" });
    }
    if (cell.opaque) {
      for (const name of state.keys()) state.set(name, { kind: "live" });
    }
    for (const name of analysed.outputs) state.set(name, { kind: "live" });
  }
  return false;
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
  const recordedProducer = new Map(previous.reads.map((r) => [r.name, r]));
  const runs = new Set(cells.filter((c) => c.decision === "run" && c.reasons.length > 0).map((c) => c.id));
  for (const read of plan.identity.reads) {
    const before = recordedProducer.get(read.name);
    if (before && before.producer_fingerprint === read.producer_fingerprint) continue;
    if (read.name === "*") return `follows ${label(read.producer_cell_id)}, an opaque dependency that changed`;
    if (runs.has(read.producer_cell_id)) return `reads \`${read.name}\` from ${label(read.producer_cell_id)}, which runs`;
    if (before && before.producer_cell_id !== read.producer_cell_id) return `reads \`${read.name}\` from ${label(read.producer_cell_id)} now (was ${label(before.producer_cell_id)})`;
    return `reads \`${read.name}\` from ${label(read.producer_cell_id)}, which changed`;
  }
  const gone = previous.reads.find((r) => !plan.identity.reads.some((n) => n.name === r.name));
  if (gone) return `no longer reads \`${gone.name}\` from an earlier cell`;
  return "its inputs changed";
}

function latestRecordByCellId(records: Map<string, RecordedCell>): Map<string, RecordedCell> {
  const out = new Map<string, RecordedCell>();
  for (const r of records.values()) {
    const seen = out.get(r.cell_id);
    if (!seen || seen.recorded_at < r.recorded_at) out.set(r.cell_id, r);
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
