import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import type { TaskRecord } from "../../../src/common/task-record.js";
import { pinChange, resolvePins } from "../../../src/config/index.js";
import { sha256 } from "../../../src/planner/fingerprint.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";

beforeAll(async () => {
  await loadPythonParser();
});

const cells = [
  { id: "funcs", source: "def skim(x):\n    return x" },
  { id: "run", source: "parts = [skim(i) for i in range(3)]" },
  { id: "after", source: "total = sum(parts)" },
];

function skimTask(version: string): TaskRecord {
  return { key: sha256(`skim@${version}`), engine: "dask", function: "__main__.skim", arg_keys: [], upstream: [], engine_key: "skim-1", status: "dispatched", result_digest: sha256("r"), result_size: 1, cell_id: "run", pin: { version, by: "nbrewind.yaml: skim", code: "c" } };
}

function planWith(version: string, records: Map<string, RecordedCell>, runAll = false): Plan {
  const pins = resolvePins([{ function: "skim", version, keep: false }], []);
  return makePlan({ cells: cells.map((c, index) => ({ ...c, index })), graph: buildGraph(cells), records, runAll, staleRecord: (r) => pinChange(pins, r.tasks ?? []) });
}

/** What a run under `version` leaves: a record per cell, the run cell's tasks pinned at that version. */
function record(p: Plan, version: string, into: Map<string, RecordedCell>): void {
  for (const c of p.cells) {
    into.set(c.identity.fingerprint, {
      fingerprint: c.identity.fingerprint,
      cell_id: c.id,
      source_hash: c.identity.sourceHash,
      status: "ok",
      reads: c.identity.reads,
      writes: c.candidates.map((name) => ({ name, status: "stored", digest: sha256(`${name}@${version}`), size: 10, type: "int" })),
      outputs: [],
      execution_count: 1,
      duration_s: 5,
      recorded_at: `2026-11-24T00:00:0${into.size}Z`,
      value_key: sha256(`v:${c.identity.fingerprint}`),
      ...(c.id === "run" ? { tasks: [skimTask(version)] } : {}),
    });
  }
}

const decisions = (p: Plan) => p.cells.map((c) => c.decision);

describe("planner: a changed pin runs the cells whose recorded tasks it selects", () => {
  it("bumping the version runs that cell (reason names the pin) and everything downstream; going back reuses", () => {
    const records = new Map<string, RecordedCell>();
    record(planWith("v1", records, true), "v1", records);
    expect(decisions(planWith("v1", records))).toEqual(["reuse", "reuse", "reuse"]);

    const bumped = planWith("v2", records);
    expect(decisions(bumped)).toEqual(["reuse", "run", "run"]);
    const run = bumped.cells[1]!;
    expect(run.reasons[0]).toBe("pin `skim` is at version v2 now; its tasks were recorded at version v1");
    expect(run.forced).toBe(true);
    expect(bumped.cells[2]!.reasons[0]).toBe("reads `parts` from cell 2, which runs");

    record(bumped, "v2", records);
    expect(decisions(planWith("v2", records))).toEqual(["reuse", "reuse", "reuse"]);
    expect(decisions(planWith("v1", records))).toEqual(["reuse", "reuse", "reuse"]);
    expect(decisions(planWith("v3", records))).toEqual(["reuse", "run", "run"]);
  });
});
