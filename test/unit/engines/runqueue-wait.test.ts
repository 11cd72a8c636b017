import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * A task's cost to compute again is its wall time less the time its thread
 * waited for a CPU (Linux schedstat), read before and after every task. The
 * reader keeps a descriptor per thread (one pread a task, not an open, a read
 * and a close): each thread must still read its own figure, also after other
 * threads ended (their descriptors fail, their ids may be reused) and in a
 * forked child (whose threads are not its parent's).
 */
const python = findManagedEnv()?.python ?? basePython();

describe("the run-queue wait of a task's thread", () => {
  it("is the thread's own, read through a kept descriptor, across threads that end and a fork", () => {
    const root = packageRoot();
    const run = spawnSync(python, [join(root, "test/unit/engines/runqueue/wait.py")], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(root, "engines/python") },
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split("\n").pop()!);
    expect(out).toEqual({
      main: [true, true, true],
      threads: [true, true, true, true],
      after_threads_ended: Array(8).fill(true),
      descriptors_kept: true,
      forked_child: true,
    });
  });
});
