import { describe, expect, it } from "vitest";
import { checkRecordText } from "../../../src/bundle/cell-records.js";
import { recordFile } from "../../../src/bundle/paths.js";
import { cellRecord, sha256 } from "./helpers.js";

/**
 * What the report (and verify) say about a record that parses but breaks its
 * schema: the file, the entry and the field, never a crash, and no record.
 */
describe("checking a cell record's text", () => {
  const task = (i: number) => ({ key: sha256(`k${i}`), engine: "dask", function: "m.leaf", arg_keys: [], upstream: [], engine_key: `leaf-${i}`, status: "hit", result_digest: sha256("r"), result_size: 1 });
  const rec = cellRecord("x = 1", { tasks: Array.from({ length: 20 }, (_, i) => task(i)) as never, task_key_scheme: 2 });
  const file = recordFile(rec.fingerprint);

  it("accepts a valid record", () => {
    expect(checkRecordText(file, JSON.stringify(rec))).toMatchObject({ file, problems: [], record: { fingerprint: rec.fingerprint } });
  });

  it("names the task entry and the field that break the schema", () => {
    const bad = structuredClone(rec) as unknown as { tasks: Array<Record<string, unknown>> };
    bad.tasks[13]!.status = "served";
    const check = checkRecordText(file, JSON.stringify(bad));
    expect(check.record).toBeUndefined();
    expect(check.problems).toEqual([{ file, path: "tasks[13].status", message: 'must be one of "hit", "dispatched", "uncached", "failed"' }]);
  });

  it("names a field outside the tasks, and a file that is not JSON", () => {
    expect(checkRecordText(file, JSON.stringify({ ...rec, duration_s: -2 })).problems).toEqual([{ file, path: "duration_s", message: "must be >= 0" }]);
    expect(checkRecordText(file, JSON.stringify(rec).slice(0, 100)).problems[0]?.message).toMatch(/^not valid JSON/);
  });
});
