import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import type { TaskRecord } from "../../../src/common/task-record.js";
import { FileView } from "../../../src/planner/files.js";
import { sha256 } from "../../../src/planner/fingerprint.js";
import { servableHere, whyMoved } from "../../../src/planner/moved-folder.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { auditRecord } from "./audit-records.js";

beforeAll(async () => {
  await loadPythonParser();
});

/**
 * A notebook recorded in one folder and planned in another: the cells whose
 * stored values name the recorded folder run, and so do the reused cells that
 * read those values; everything else is reused as before.
 */
const cells = [
  { id: "where", source: "import os\npath = os.path.abspath('data.csv')" },
  { id: "size", source: "n = 3" },
  { id: "read", source: "text = open(path).read()" },
  { id: "show", source: "print(n * 2)" },
];

/** Plan `cells` in `folder` against an audit whose `where` cell stored a value holding the path of `recordedIn`. */
function planIn(folder: string, recordedIn: string | undefined): Plan {
  const indexed = cells.map((c, index) => ({ ...c, index }));
  const graph = buildGraph(indexed);
  const audit = makePlan({ cells: indexed, graph, records: new Map(), runAll: true });
  const records = new Map<string, RecordedCell>();
  for (const c of audit.cells) {
    const record = auditRecord(c);
    if (c.id === "where" && recordedIn !== undefined) {
      record.writes = record.writes.map((w) => (w.name === "path" && w.status === "stored" ? { ...w, holds_path: true as const } : w));
      record.folder = recordedIn;
    }
    records.set(record.fingerprint, record);
  }
  return makePlan({ cells: indexed, graph, records, files: new FileView(folder, new Map()) });
}

const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));
const reason = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.reasons[0];

describe("a notebook planned in another folder than it was recorded in", () => {
  it("reuses every cell in the folder it was recorded in", () => {
    expect(decisions(planIn("/nb", "/nb"))).toEqual({ where: "reuse", size: "reuse", read: "reuse", show: "reuse" });
  });

  it("runs the cell whose value holds the old folder's path, and the cells reading that value; reuses the rest", () => {
    const plan = planIn("/nb", "/old/place");
    expect(decisions(plan)).toEqual({ where: "run", size: "reuse", read: "run", show: "reuse" });
    expect(reason(plan, "where")).toBe("`path` holds a path into the folder it was recorded in (/old/place), not this one");
    expect(reason(plan, "read")).toBe("reads `path` from cell 1, which runs because it holds a path into the folder it was recorded in");
  });

  it("says 'the folder it was packed in' for a record from a packed bundle, whose folder travels as '.'", () => {
    expect(reason(planIn("/nb", "."), "where")).toBe("`path` holds a path into the folder it was packed in, not this one");
  });

  it("reuses anywhere a record none of whose values holds a path", () => {
    expect(decisions(planIn("/somewhere/else", undefined))).toEqual({ where: "reuse", size: "reuse", read: "reuse", show: "reuse" });
  });

  it("judges stored values only, and serves a task result that holds a path only in its own folder", () => {
    const record = { writes: [{ name: "p", status: "unchanged", digest: sha256("p"), size: 1, type: "str", holds_path: true }], folder: "/a" } as unknown as RecordedCell;
    expect(whyMoved(record, "/b")).toBeUndefined();
    const task = { holds_path: true } as TaskRecord;
    expect(servableHere(task, "/a", "/a")).toBe(true);
    expect(servableHere(task, "/a", "/b")).toBe(false);
    expect(servableHere({} as TaskRecord, "/a", "/b")).toBe(true);
  });
});
