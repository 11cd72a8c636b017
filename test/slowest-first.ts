import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Integration files run two at a time (most of their time is spent waiting on
 * kernels and clusters). With two lanes the suite ends when the longest lane
 * does, so the slowest files must start first; a fresh clone has no vitest
 * cache of past durations, hence this table: seconds each file took in a full
 * run on an idle 2-core machine. A file not listed counts as
 * UNLISTED_SECONDS; the order only affects how long the suite takes, never
 * whether it passes.
 */
const EXPECTED_SECONDS: Record<string, number> = {
  "test/integration/ray-tasks.test.ts": 168,
  "test/integration/version-matrix.test.ts": 113,
  "test/integration/audit-repeat.test.ts": 84,
  "test/integration/dask-tasks.test.ts": 70,
  "test/integration/parsl-tasks.test.ts": 65,
  "test/integration/engine-values.test.ts": 57,
  "test/integration/files-ray.test.ts": 50,
  "test/integration/taskvine-tasks.test.ts": 43,
  "test/integration/files-tasks.test.ts": 40,
  "test/integration/checkpoint-safety.test.ts": 40,
  "test/integration/container-replay.test.ts": 37,
  "test/integration/files.test.ts": 36,
  "test/integration/kernel-install-papermill.test.ts": 34,
  "test/integration/pins-caches.test.ts": 30,
  "test/integration/run.test.ts": 27,
};
const UNLISTED_SECONDS = 20;

export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const expected = (spec: TestSpecification) => EXPECTED_SECONDS[relative(root, spec.moduleId)] ?? UNLISTED_SECONDS;
    // Array.prototype.sort is stable: within a project, the base order breaks ties.
    return sorted.sort((a, b) => {
      if (a.project.name !== b.project.name) return 0;
      return expected(b) - expected(a);
    });
  }
}
