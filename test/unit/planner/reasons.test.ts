import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import { auditRecord } from "./audit-records.js";

// Issue 9, item 10: a `%run prep.py` cell ran "because reads `add` from cell 6
// now (was cell 10)" although nothing about `add` changed.
beforeAll(async () => {
  await loadPythonParser();
});

type Cells = { id: string; source: string }[];
type Digests = Record<string, string>;
const plan = (cells: Cells, records = new Map(), files: Digests = {}): Plan =>
  makePlan({ cells: cells.map((c, index) => ({ ...c, index })), graph: buildGraph(cells), records, runAll: records.size === 0, fileDigest: (path) => files[path] });
const recordAll = (cells: Cells, files: Digests = {}) => new Map(plan(cells, new Map(), files).cells.map((c) => [c.identity.fingerprint, auditRecord(c)]));

describe("why a cell runs", () => {
  const cells: Cells = [
    { id: "a", source: "def add(x, y):\n    return x + y" },
    { id: "b", source: "if fast:\n    def add(x, y):\n        return y + x" },
    { id: "k", source: "k = 1" },
    { id: "prep", source: "%run prep.py" },
  ];

  it("an opaque cell names the earlier cell that runs, not a name whose producers did not change", () => {
    const edited = cells.map((c) => (c.id === "k" ? { ...c, source: "k = 2" } : c));
    const p = plan(edited, recordAll(cells));
    const prep = p.cells.find((c) => c.id === "prep")!;
    expect(prep.decision).toBe("run");
    expect(prep.reasons).toEqual(["follows cell 3 (an opaque cell depends on every cell before it), which runs"]);
  });

  it("the script a %run cell executes is one of its inputs", () => {
    const records = recordAll(cells, { "prep.py": "v1" });
    expect(plan(cells, records, { "prep.py": "v1" }).counts.run).toBe(0);
    const edited = plan(cells, records, { "prep.py": "v2" });
    expect(edited.cells.filter((c) => c.decision === "run").map((c) => c.id)).toEqual(["prep"]);
    expect(edited.cells.find((c) => c.id === "prep")!.reasons).toEqual(["`prep.py`, which it runs, changed (or cannot be read)"]);
    // A script that cannot be read is never taken as unchanged.
    expect(plan(cells, records, {}).cells.find((c) => c.id === "prep")!.decision).toBe("run");
  });

  it("a read with two producers, both unchanged, is not reported as moved", () => {
    const withReader = [...cells.slice(0, 3), { id: "use", source: "print(add(k, 1))" }];
    const edited = withReader.map((c) => (c.id === "k" ? { ...c, source: "k = 2" } : c));
    const p = plan(edited, recordAll(withReader));
    expect(p.cells.find((c) => c.id === "use")!.reasons).toEqual(["reads `k` from cell 3, which runs"]);
  });
});

describe("the recorded run over the static guess", () => {
  it("a reused cell whose record shows a value unchanged is not re-run for it, and --explain says why", async () => {
    const { explainPlan } = await import("../../../src/planner/explain.js");
    const cells: Cells = [
      { id: "load", source: "x = load()" },
      { id: "show", source: "describe(x)" }, // may change x, says the analysis; did not, says its record
      { id: "use", source: "y = x + 1" },
    ];
    const audit = plan(cells);
    const records = new Map(
      audit.cells.map((c) => {
        const writes =
          c.id === "load"
            ? [{ name: "x", status: "stored" as const, digest: "d-x", size: 4e9, type: "ndarray" }]
            : c.id === "show"
              ? [{ name: "x", status: "unchanged" as const, digest: "d-x", size: 4e9, type: "ndarray" }]
              : [{ name: "y", status: "stored" as const, digest: "d-y", size: 10, type: "int" }];
        // Loading x costs about 10 s; loading it is still cheaper than the 60 s `load`, not than the 0.1 s `show`.
        return [c.identity.fingerprint, auditRecord(c, { writes, duration_s: c.id === "load" ? 60 : 0.1 })];
      }),
    );
    const edited = cells.map((c) => (c.id === "use" ? { ...c, source: "y = x + 2" } : c));
    const p = plan(edited, records);
    expect(Object.fromEntries(p.cells.map((c) => [c.id, c.decision]))).toEqual({ load: "reuse", show: "reuse", use: "run" });
    expect(p.cells[2]!.restores.map((r) => [r.name, r.fromCellId])).toEqual([["x", "load"]]);
    expect(explainPlan(p, new Map()).join("\n")).toContain("restores `x` (3.7 GB) recorded by cell 1; cell 2 left it unchanged when recorded (same digest), though the analysis could not tell");
  });
});
