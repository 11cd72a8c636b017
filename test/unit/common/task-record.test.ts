import { describe, expect, it } from "vitest";
import { mergeTaskReports, splitBySubmitter, storedTaskBytes, type TaskRecord } from "../../../src/common/task-record.js";

const KEY = "a".repeat(64);
function task(cell: string, occurrence: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { key: KEY, engine: "dask", function: "__main__.slow", arg_keys: [], upstream: [], engine_key: `slow-${occurrence}`, status: "dispatched", cell_id: cell, occurrence, ...extra };
}

describe("task reports", () => {
  it("a task finished during a later cell is filed under the cell that submitted it", () => {
    const { own, earlier } = splitBySubmitter([task("late", 0, { result_digest: "d".repeat(64), result_size: 5 }), task("after", 0)], "after");
    expect(own.map((t) => t.cell_id)).toEqual(["after"]);
    expect([...earlier.keys()]).toEqual(["late"]);
  });

  it("a later report of the same submission replaces the earlier one; other occurrences of the key are kept apart", () => {
    const first = [task("c", 0), task("c", 1)];
    const merged = mergeTaskReports(first, [task("c", 1, { result_digest: "d".repeat(64), result_size: 7 }), task("c", 2)]);
    expect(merged.map((t) => [t.occurrence, t.result_size])).toEqual([
      [0, undefined],
      [1, 7],
      [2, undefined],
    ]);
  });

  it("a cell's stored bytes count what it dispatched and stored, not its hits nor what was left out", () => {
    const tasks = [task("c", 0, { result_digest: "d".repeat(64), result_size: 100 }), task("c", 1, { status: "hit", result_digest: "e".repeat(64), result_size: 50 }), task("c", 2, { status: "uncached", not_stored: true, result_size: 8_000_000, reason: "not stored: cheaper to recompute" })];
    expect(storedTaskBytes(tasks)).toBe(100);
  });
});
