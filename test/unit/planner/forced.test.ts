import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { planToJson } from "../../../src/planner/explain.js";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import { InputError } from "../../../src/common/errors.js";
import { resolveForced } from "../../../src/planner/forced.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { auditRecord } from "./audit-records.js";

// Issue 9: the escape hatch (--run, --from) and failed records (item 2's last point).
beforeAll(async () => {
  await loadPythonParser();
});

type Cells = { id: string; source: string }[];
// As in a notebook: a markdown cell first, so numbers (1-based among all cells) differ from code-cell order.
const notebook = (cells: Cells) => [{ id: "md", cell_type: "markdown" }, ...cells.map((c) => ({ id: c.id, cell_type: "code" }))];

function plan(cells: Cells, records = new Map<string, RecordedCell>(), runAll = false, force?: { run?: string[]; from?: string }): Plan {
  const forced = force ? resolveForced(force, notebook(cells)) : undefined;
  return makePlan({ cells: cells.map((c, i) => ({ ...c, index: i + 1 })), graph: buildGraph(cells), records, runAll, ...(forced ? { forced } : {}) });
}

function recordAll(cells: Cells, engines: Record<string, { started: string[]; used: string[] }> = {}, at = "2026-11-24T00:00:00Z"): Map<string, RecordedCell> {
  const records = plan(cells, new Map(), true).cells.map((c) => auditRecord(c, { recorded_at: at, ...(engines[c.id] ? { engines: engines[c.id] } : {}) }));
  return new Map(records.map((r) => [r.fingerprint, r]));
}

const cells: Cells = [
  { id: "a", source: "n = 3" },
  { id: "b", source: "m = n * 2" },
  { id: "c", source: "print(m)" },
  { id: "d", source: "k = 1" },
];
const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));
const reasons = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.reasons;

describe("--run and --from", () => {
  it("--run forces the named cells, by number or id, and nothing else", () => {
    const p = plan(cells, recordAll(cells), false, { run: ["3,d"] });
    expect(decisions(p)).toEqual({ a: "reuse", b: "run", c: "reuse", d: "run" });
    expect(reasons(p, "b")).toEqual(["forced: --run 3"]);
    expect(reasons(p, "d")).toEqual(["forced: --run d"]);
    expect(p.cells.find((c) => c.id === "b")!.forced).toBe(true);
    // What the forced cell reads from reused cells is restored.
    expect(p.cells.find((c) => c.id === "b")!.restores.map((r) => r.name)).toEqual(["n"]);
  });

  it("--from forces a cell and every code cell after it", () => {
    const p = plan(cells, recordAll(cells), false, { from: "3" });
    expect(decisions(p)).toEqual({ a: "reuse", b: "run", c: "run", d: "run" });
    expect(reasons(p, "d")).toEqual(["forced: --from 3"]);
  });

  it("plan --json gives each cell the number --run and --from take, and matches its schema", () => {
    const doc = planToJson(plan(cells, recordAll(cells), false, { run: ["3"] })) as { cells: { id: string; number: number }[] };
    expect(doc.cells.map((c) => [c.id, c.number])).toEqual([["a", 2], ["b", 3], ["c", 4], ["d", 5]]);
    const schema = JSON.parse(readFileSync(join(packageRoot(), "schemas", "plan.schema.json"), "utf8")) as object;
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(schema, doc), ajv.errorsText()).toBe(true);
  });

  it("a CELL that names no cell, or a markdown cell for --run, is bad input naming it", () => {
    expect(() => resolveForced({ run: ["9"] }, notebook(cells))).toThrow(InputError);
    expect(() => resolveForced({ run: ["9"] }, notebook(cells))).toThrow(/--run 9: the notebook has no cell 9 \(cells are numbered 1 to 5/);
    expect(() => resolveForced({ from: "nope" }, notebook(cells))).toThrow(/--from nope: no cell has the number or id 'nope'/);
    expect(() => resolveForced({ run: ["1"] }, notebook(cells))).toThrow(/--run 1: cell 1 is a markdown cell/);
  });
});

describe("a cell whose record failed", () => {
  it("runs again with what its last successful run needed: the engine set-up cell runs first", () => {
    const setup: Cells = [
      { id: "setup", source: "import parsl\nparsl.load(cfg)" },
      { id: "app", source: "r = sim(1).result()" },
    ];
    const records = recordAll(setup, { setup: { started: ["parsl"], used: [] }, app: { started: [], used: ["parsl"] } });
    // The user edits the app cell; its repeat reused the set-up cell and the cell failed (no engine).
    const edited = setup.map((c) => (c.id === "app" ? { ...c, source: "r = sim(2).result()" } : c));
    for (const r of recordAll(edited, {}, "2026-11-25T00:00:00Z").values()) if (r.cell_id === "app") records.set(r.fingerprint, { ...r, status: "error", writes: [] });
    const p = plan(edited, records);
    expect(decisions(p)).toEqual({ setup: "run", app: "run" });
    expect(reasons(p, "app")).toEqual(["it raised an error when it was recorded"]);
  });
});
