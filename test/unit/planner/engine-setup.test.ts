import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { auditRecord } from "./audit-records.js";

beforeAll(async () => {
  await loadPythonParser();
});

type Cells = { id: string; source: string }[];

function plan(cells: Cells, records = new Map<string, RecordedCell>(), runAll = false): Plan {
  return makePlan({ cells: cells.map((c, index) => ({ ...c, index })), graph: buildGraph(cells), records, runAll });
}

/** Records as an audit would leave them; `engines` is what the shim observed per cell. */
function recordAll(cells: Cells, engines: Record<string, { started: string[]; used: string[] }>): Map<string, RecordedCell> {
  const records = plan(cells, new Map(), true).cells.map((c) => auditRecord(c, engines[c.id] ? { engines: engines[c.id] } : {}));
  return new Map(records.map((r) => [r.fingerprint, r]));
}

// The compute cell never names the client: only the shim's observations link them.
const cells: Cells = [
  { id: "params", source: "scale = 2" },
  { id: "setup", source: "import dask.distributed\nstart_cluster()" },
  { id: "other", source: "label = 'x'" },
  { id: "compute", source: "import dask\nresult = dask.compute(work(scale))" },
];
const observed = { setup: { started: ["dask:distributed"], used: [] }, compute: { started: [], used: ["dask:distributed"] } };
const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));

describe("engine set-up cells", () => {
  it("a running cell that submitted to an engine makes the cell that started it run first", () => {
    const edited = cells.map((c) => (c.id === "params" ? { ...c, source: "scale = 3" } : c));
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toEqual({ params: "run", setup: "run", other: "reuse", compute: "run" });
    expect(p.cells.find((c) => c.id === "setup")!.reasons).toEqual(["starts the dask:distributed engine that cell 4 submits tasks to (observed when they were recorded)"]);
  });

  it("no running cell submits to the engine: its set-up cell stays reused", () => {
    const edited = cells.map((c) => (c.id === "other" ? { ...c, source: "label = 'y'" } : c));
    expect(decisions(plan(edited, recordAll(cells, observed)))).toEqual({ params: "reuse", setup: "reuse", other: "run", compute: "reuse" });
  });

  it("another engine's set-up is left alone", () => {
    const edited = cells.map((c) => (c.id === "params" ? { ...c, source: "scale = 3" } : c));
    const p = plan(edited, recordAll(cells, { setup: { started: ["ray"], used: [] }, compute: observed.compute }));
    expect(decisions(p).setup).toBe("reuse");
  });
});
