import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * A worker in another process (an HTEX worker, a Dask worker process) appends
 * each task's note to its log; the kernel asks at every completion whether the
 * note is there. Asking must not remove the log: each removal made the worker
 * create a new log for its next note, a file creation per task. The cell's end
 * reads everything, also what was written after the last question, and removes
 * the logs it read to their end.
 */
const python = findManagedEnv()?.python ?? basePython();

describe("task notes from another process", () => {
  it("are seen at each completion from one log the worker keeps, and all collected at the cell's end", () => {
    const root = packageRoot();
    const run = spawnSync(python, [join(root, "test/unit/engines/notes/logs.py")], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(root, "engines/python") },
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split("\n").pop()!) as { arrived: boolean[]; logs_created: number; recorded_failed: number; logs_left: string[]; fds_held: number };
    expect(out.arrived).toEqual(Array(20).fill(true));
    expect(out.logs_created).toBe(1);
    expect(out.recorded_failed).toBe(21);
    expect(out.logs_left).toEqual([]);
    expect(out.fds_held).toBe(0);
  });
});
