import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import { sha256 } from "../../../src/planner/fingerprint.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell, RecordedWrite } from "../../../src/planner/recorded.js";
import { auditRecord } from "./audit-records.js";

beforeAll(async () => {
  await loadPythonParser();
});

type Cells = { id: string; source: string }[];

function plan(cells: Cells, records = new Map<string, RecordedCell>(), runAll = false): Plan {
  const indexed = cells.map((c, index) => ({ ...c, index }));
  return makePlan({ cells: indexed, graph: buildGraph(cells), records, runAll });
}

/**
 * Records as an audit of `cells` would leave them: every static output
 * stored, unless `special` says otherwise for a name.
 */
function recordAll(cells: Cells, special: Record<string, Partial<RecordedWrite> & { duration?: number }> = {}, durations: Record<string, number> = {}): Map<string, RecordedCell> {
  const p = plan(cells, new Map(), true);
  const records = new Map<string, RecordedCell>();
  for (const c of p.cells) {
    const writes: RecordedWrite[] = c.candidates.map((name) => {
      const s = special[name];
      if (s?.status === "unserialisable") return { name, status: "unserialisable", type: s.type ?? "object", reason: (s as { reason?: string }).reason ?? "cannot pickle" };
      return { name, status: "stored", digest: sha256(`${name}@${c.identity.fingerprint}`), size: (s as { size?: number })?.size ?? 1000, type: "int" };
    });
    records.set(c.identity.fingerprint, auditRecord(c, { writes, outputs: [{ output_type: "stream", name: "stdout", text: `recorded ${c.id}\n` }], duration_s: durations[c.id] ?? 5 }));
  }
  return records;
}

const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));
const reasons = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.reasons;
const restores = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.restores.map((r) => `${r.name}<-${r.fromCellId}`);

const base: Cells = [
  { id: "imp", source: "import math" },
  { id: "params", source: "n = 10\nscale = 2" },
  { id: "data", source: "data = [i * scale for i in range(n)]" },
  { id: "other", source: "label = 'run'" },
  { id: "total", source: "total = sum(data)\nprint(label, total)" },
  { id: "root", source: "root = math.sqrt(total)" },
];

describe("planner", () => {
  it("runs every cell when nothing is recorded, saying so", () => {
    const p = plan(base);
    expect(Object.values(decisions(p))).toEqual(Array(6).fill("run"));
    expect(reasons(p, "data")).toEqual(["new cell: nothing recorded for it"]);
  });

  it("reuses every cell of an unchanged notebook and restores nothing", () => {
    const p = plan(base, recordAll(base));
    expect(Object.values(decisions(p))).toEqual(Array(6).fill("reuse"));
    expect(p.counts).toMatchObject({ reuse: 6, run: 0, restores: 0 });
  });

  it("after an edit runs the edited cell and what reads from it, restoring only the values those cells need", () => {
    const edited = base.map((c) => (c.id === "data" ? { ...c, source: "data = [i * scale + 1 for i in range(n)]" } : c));
    const p = plan(edited, recordAll(base));
    expect(decisions(p)).toEqual({ imp: "reuse", params: "reuse", data: "run", other: "reuse", total: "run", root: "run" });
    expect(reasons(p, "data")).toEqual(["source changed"]);
    expect(reasons(p, "total")).toEqual(["reads `data` from cell 3, which runs"]);
    // data needs n and scale from params; total needs label from other; root needs math from imp
    expect(restores(p, "data")).toEqual(["n<-params", "scale<-params"]);
    expect(restores(p, "total")).toEqual(["label<-other"]);
    expect(restores(p, "root")).toEqual(["math<-imp"]);
  });

  it("a changed parameter invalidates exactly its readers", () => {
    const edited = base.map((c) => (c.id === "params" ? { ...c, source: "n = 20\nscale = 2" } : c));
    const p = plan(edited, recordAll(base));
    expect(decisions(p)).toEqual({ imp: "reuse", params: "run", data: "run", other: "reuse", total: "run", root: "run" });
  });

  it("an inserted independent cell runs alone; a reordered independent cell is still reused", () => {
    const inserted = [...base.slice(0, 4), { id: "new", source: "note = 'hello'" }, ...base.slice(4)];
    expect(decisions(plan(inserted, recordAll(base)))).toMatchObject({ new: "run", total: "reuse", root: "reuse" });
    expect(reasons(plan(inserted, recordAll(base)), "new")).toEqual(["new cell: nothing recorded for it"]);
    const reordered = [base[0]!, base[3]!, base[1]!, base[2]!, base[4]!, base[5]!];
    expect(Object.values(decisions(plan(reordered, recordAll(base))))).toEqual(Array(6).fill("reuse"));
  });

  it("deleting a producer re-runs its readers with the reason", () => {
    const cells: Cells = [
      { id: "a", source: "x = 1" },
      { id: "b", source: "x = 2" },
      { id: "c", source: "y = x + 1" },
    ];
    const p = plan([cells[0]!, cells[2]!], recordAll(cells));
    expect(decisions(p)).toEqual({ a: "reuse", c: "run" });
    expect(reasons(p, "c")[0]).toBe("reads `x` from cell 1 now (was deleted cell 'b')");
    expect(restores(p, "c")).toEqual(["x<-a"]);
  });

  it("makes the producer of a needed unserialisable value run again, and says which value and why", () => {
    const cells: Cells = [
      { id: "conn", source: "client = make_client()" },
      { id: "n", source: "n = 3" },
      { id: "use", source: "result = client.submit(n)" },
    ];
    const records = recordAll(cells, { client: { status: "unserialisable", type: "dask.distributed.Client", reason: "holds live connections" } as Partial<RecordedWrite> });
    const edited = cells.map((c) => (c.id === "n" ? { ...c, source: "n = 4" } : c));
    const p = plan(edited, records);
    expect(decisions(p)).toEqual({ conn: "run", n: "run", use: "run" });
    expect(reasons(p, "conn")[0]).toBe("needs `client` (dask.distributed.Client), unserialisable, for cell 3: holds live connections");
    expect(restores(p, "use")).toEqual([]);
  });

  it("re-runs a cheap producer instead of restoring a large value, by the recorded costs", () => {
    const cells: Cells = [
      { id: "big", source: "arr = make_array()" },
      { id: "k", source: "k = 1" },
      { id: "use", source: "out = arr * k" },
    ];
    const edited = cells.map((c) => (c.id === "k" ? { ...c, source: "k = 2" } : c));
    const cheap = plan(edited, recordAll(cells, { arr: { size: 4e9 } as Partial<RecordedWrite> }, { big: 0.5 }));
    expect(cheap.cells[0]!.decision).toBe("run");
    expect(cheap.cells[0]!.reasons[0]).toMatch(/^re-running is cheaper than restoring `arr` for cell 3 \(0\.50 s to run vs 10\.01 s to load 3\.7 GB\)$/);
    const costly = plan(edited, recordAll(cells, { arr: { size: 4e9 } as Partial<RecordedWrite> }, { big: 60 }));
    expect(costly.cells[0]!.decision).toBe("reuse");
    expect(restores(costly, "use")).toEqual(["arr<-big"]);
  });

  it("a cell recorded with an error is run again", () => {
    const cells: Cells = [{ id: "a", source: "x = 1/0" }];
    const records = recordAll(cells);
    for (const r of records.values()) r.status = "error";
    expect(reasons(plan(cells, records), "a")).toEqual(["it raised an error when it was recorded"]);
  });

  it("an opaque cell depends on everything before it", () => {
    const cells: Cells = [
      { id: "a", source: "x = 1" },
      { id: "b", source: "exec('y = x')" },
      { id: "c", source: "z = 3" },
    ];
    const edited = cells.map((c) => (c.id === "a" ? { ...c, source: "x = 2" } : c));
    const p = plan(edited, recordAll(cells));
    expect(decisions(p)).toEqual({ a: "run", b: "run", c: "reuse" });
  });

  it("skips empty cells", () => {
    const p = plan([{ id: "a", source: "  \n" }, { id: "b", source: "x = 1" }]);
    expect(decisions(p)).toEqual({ a: "skip", b: "run" });
  });
});
