import { describe, expect, it } from "vitest";
import { sha256 } from "../../../src/planner/fingerprint.js";
import type { RecordedTask } from "../../../src/planner/recorded.js";
import { countTasks, explainDispatched } from "../../../src/planner/task-explain.js";

const k = (s: string) => sha256(s);
function task(fn: string, key: string, args: string[], extra: Partial<RecordedTask> = {}): RecordedTask {
  return { key: k(key), engine: "dask", function: `__main__.${fn}`, arg_keys: args.map(k), upstream: [], engine_key: `${fn}-${key}`, status: "dispatched", ...extra };
}

describe("why a task was dispatched", () => {
  it("a submission beyond those recorded, and a result left out as cheaper to recompute, say so", () => {
    const recorded = [task("pi", "pi", ["n"], { occurrence: 0, result_digest: k("r0"), result_size: 1 }), task("pi", "pi", ["n"], { occurrence: 1, status: "uncached", not_stored: true, reason: "not stored: cheaper to recompute (0.001 s) than to store and load (8.0 MB: 0.030 s ...)" })];
    const now = [task("pi", "pi", ["n"], { occurrence: 1 }), task("pi", "pi", ["n"], { occurrence: 2 })];
    expect(explainDispatched(now, recorded).map((r) => r.reason)).toEqual([
      "its result was left out of the bundle when recorded, cheaper to recompute (0.001 s) than to store and load (8.0 MB: 0.030 s ...)",
      "submission 3 of this task, recorded only 2 time(s): every submission is computed, and only recorded ones are served",
    ]);
  });

  it("says a result holding the recorded folder's path was not served in another folder, and only there", () => {
    const recorded = [task("where", "w", [], { occurrence: 0, result_digest: k("w0"), result_size: 1, holds_path: true })];
    const now = [task("where", "w", [], { occurrence: 0 })];
    expect(explainDispatched(now, recorded, "/a", "/b").map((r) => r.reason)).toEqual(["its recorded result holds a path into the folder it was recorded in, not this one"]);
    expect(explainDispatched(now, recorded, "/a", "/a").map((r) => r.reason)).toEqual(["recorded with the same key, but its stored result is not in the store any more"]);
  });

  const previous = [task("leaf", "l1", ["i1", "s2"]), task("leaf", "l2", ["i2", "s2"]), task("pair", "p1", ["l1", "l2"], { upstream: [k("l1"), k("l2")] })];

  it("names the argument position that differs from the closest recorded task of the same function", () => {
    const now = [task("leaf", "l1b", ["i1", "s3"]), task("leaf", "l2", ["i2", "s2"], { status: "hit", result_digest: k("r"), result_size: 1 })];
    expect(explainDispatched(now, previous)).toEqual([{ function: "__main__.leaf", count: 1, reason: "argument 2 changed" }]);
  });

  it("says when an argument is the result of a task that re-ran, and when only the code changed", () => {
    const now = [task("pair", "p1b", ["l1b", "l2"], { upstream: [k("l1b"), k("l2")] }), task("leaf", "l2c", ["i2", "s2"])];
    expect(explainDispatched(now, previous)).toEqual([
      { function: "__main__.leaf", count: 1, reason: "the code of leaf changed (its body, defaults, closure, or a global or function it uses)" },
      { function: "__main__.pair", count: 1, reason: "argument 1 (the result of a task that re-ran) changed" },
    ]);
  });

  it("new functions, uncacheable tasks and earlier failures have their own reasons", () => {
    const now = [
      task("fresh", "f", ["x"]),
      { ...task("guarded", "g", []), key: null, status: "uncached" as const, reason: "threading.Lock: a thread synchronisation primitive" },
      task("leaf", "l9", ["i9", "s2"]),
    ];
    const failedBefore = [...previous, task("leaf", "l9", ["i9", "s2"], { status: "failed", reason: "ValueError" })];
    expect(explainDispatched(now, failedBefore).map((r) => r.reason)).toEqual([
      "new: the cell recorded no task of fresh",
      "not cacheable: threading.Lock: a thread synchronisation primitive",
      "it failed when it was recorded: failures are never cached",
    ]);
  });

  it("counts served, dispatched, uncached and failed tasks", () => {
    const tasks = [task("a", "1", []), { ...task("a", "2", []), status: "hit" as const }, { ...task("a", "3", []), status: "failed" as const }];
    expect(countTasks(tasks)).toEqual({ total: 3, served: 1, dispatched: 2, uncached: 0, failed: 1 });
  });
});
