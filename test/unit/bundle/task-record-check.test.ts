import { describe, expect, it } from "vitest";
import { checkRecordText } from "../../../src/bundle/cell-records.js";
import { recordFile } from "../../../src/bundle/paths.js";
import { schemaProblems, sharedSchemaValid } from "../../../src/bundle/schemas.js";
import { TASK_SCHEMA_DIGEST, taskCertainlyValid, taskSchemaDigest } from "../../../src/bundle/task-record-check.js";
import { cellRecord, sha256 } from "./helpers.js";

const A = sha256("a");
const B = sha256("b");

/** Task records of the shapes the shim writes. */
const shapes: Record<string, Record<string, unknown>> = {
  hit: { key: A, engine: "dask", function: "m.leaf", arg_keys: [A, B], upstream: [B], engine_key: "leaf-1", status: "hit", result_digest: B, result_size: 10, duration_s: 0.1, cell_id: "c1", occurrence: 0 },
  dispatched: { key: A, engine: "ray", function: "m.f", arg_keys: [], upstream: [], engine_key: "x", status: "dispatched", result_digest: B, result_size: 0, result_pack: { digest: A, offset: 12 }, result_blobs: [A], where: { host: "h", pid: 3, thread: "t", worker: "w", client: false }, not_stored: false },
  uncached: { key: null, engine: "parsl", function: "m.g", arg_keys: [], upstream: [], engine_key: "7", status: "uncached", reason: "an argument could not be hashed" },
  failed: { key: A, engine: "dask", function: "m.h", arg_keys: [A], upstream: [], engine_key: "h-2", status: "failed", reason: "ZeroDivisionError" },
  pinned: { key: A, engine: "dask", function: "m.p", arg_keys: [], upstream: [], engine_key: "p", status: "dispatched", pin: { version: "v3", by: "decorator" } },
  files: { key: A, engine: "dask", function: "m.r", arg_keys: [], upstream: [], engine_key: "r", status: "dispatched", files: { read: [], written: [] } },
};

/** Values that break one field or another: wrong types, bounds, patterns, emptiness. */
const badValues: unknown[] = [null, undefined, "", "x", A.toUpperCase(), A + "0", -1, 1.5, 0, 3, true, [], [A, "nope"], {}, { digest: A }, { digest: A, offset: -1 }, { digest: A, offset: 1, x: 1 }, { host: 1 }, { pid: 1.5 }, { other: "x" }, "y".repeat(201), "é".repeat(200), Number.MAX_SAFE_INTEGER + 0.5];

/** Every task made by changing, removing or adding one field of every shape. */
function mutants(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [name, base] of Object.entries(shapes)) {
    out.push([name, base]);
    for (const field of [...Object.keys(base), "reason", "result_digest", "result_size", "occurrence", "bogus", "__proto__"]) {
      const without = { ...base };
      delete without[field];
      out.push([`${name} without ${field}`, without]);
      for (const [k, v] of badValues.entries()) {
        const changed = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
        Object.defineProperty(changed, field, { value: v, enumerable: true, configurable: true, writable: true });
        out.push([`${name} with ${field} = bad value ${k}`, changed]);
      }
    }
    for (const status of ["hit", "dispatched", "uncached", "failed", "bogus"]) out.push([`${name} as ${status}`, { ...base, status }]);
  }
  out.push(["null", null], ["array", [shapes.hit]], ["string", "task"]);
  return out;
}

describe("the fast task-record check", () => {
  it("mirrors the task-record schema on disk (review task-record-check.ts and update TASK_SCHEMA_DIGEST when the schema changes)", () => {
    expect(taskSchemaDigest()).toBe(TASK_SCHEMA_DIGEST);
  });

  it("never passes a task that Ajv rejects", () => {
    const cases = mutants();
    expect(cases.length).toBeGreaterThan(1000);
    const lenient = cases.filter(([, t]) => taskCertainlyValid(t) && !sharedSchemaValid("task-record", t)).map(([what]) => what);
    expect(lenient).toEqual([]);
  });

  it("passes the common shapes by itself, and leaves pins and files to Ajv", () => {
    for (const name of ["hit", "dispatched", "uncached", "failed"]) expect(taskCertainlyValid(shapes[name]), name).toBe(true);
    for (const name of ["pinned", "files"]) {
      expect(taskCertainlyValid(shapes[name]), name).toBe(false);
      expect(sharedSchemaValid("task-record", shapes[name]), name).toBe(true);
    }
  });
});

describe("a cell record's check with the fast path", () => {
  const tasks = Array.from({ length: 20 }, (_, i) => ({ ...shapes.hit, engine_key: `leaf-${i}` }));
  const rec = cellRecord("x = 1", { tasks: tasks as never, task_key_scheme: 2 });
  const file = recordFile(rec.fingerprint);

  it("accepts a valid record, as Ajv does", () => {
    expect(schemaProblems("cell-record", rec)).toEqual([]);
    expect(checkRecordText(file, JSON.stringify(rec))).toMatchObject({ file, problems: [] });
  });

  it("names the entry and the field of a bad task, in Ajv's words", () => {
    const bad = structuredClone(rec) as unknown as { tasks: Array<Record<string, unknown>> };
    bad.tasks[13]!.status = "served";
    const check = checkRecordText(file, JSON.stringify(bad));
    expect(check.record).toBeUndefined();
    expect(check.problems).toEqual([{ file, path: "tasks[13].status", message: 'must be one of "hit", "dispatched", "uncached", "failed"' }]);
  });

  it("names a bad field outside the tasks while the tasks are fine", () => {
    const check = checkRecordText(file, JSON.stringify({ ...rec, duration_s: -2 }));
    expect(check.record).toBeUndefined();
    expect(check.problems).toEqual([{ file, path: "duration_s", message: "must be >= 0" }]);
  });

  it("gives the same problems as Ajv alone for records with a doubtful task", () => {
    const withPin = { ...rec, tasks: [...tasks, { ...shapes.pinned, pin: { version: "", by: "decorator" } }] };
    const check = checkRecordText(file, JSON.stringify(withPin));
    expect(check.problems.map((p) => ({ path: p.path, message: p.message }))).toEqual(schemaProblems("cell-record", withPin));
    expect(check.problems[0]?.path).toBe("tasks[20].pin.version");
  });
});
