import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Integration files run two at a time (most of their time is spent waiting on
 * kernels and clusters). With two lanes the suite ends when the longest lane
 * does, so the slowest files must start first; a fresh clone has no vitest
 * cache of past durations, hence this table: seconds each file took in a full
 * two-lane run on a 2-core machine. A file not listed counts as
 * UNLISTED_SECONDS; the order only affects how long the suite takes, never
 * whether it passes.
 */
const EXPECTED_SECONDS: Record<string, number> = {
  "test/integration/ray-tasks.test.ts": 251,
  "test/integration/version-matrix.test.ts": 185,
  "test/integration/container-replay.test.ts": 115,
  "test/integration/files.test.ts": 112,
  "test/integration/audit-repeat.test.ts": 108,
  "test/integration/files-ray.test.ts": 93,
  "test/integration/dask-tasks.test.ts": 87,
  "test/integration/parsl-tasks.test.ts": 78,
  "test/integration/checkpoint-safety.test.ts": 72,
  "test/integration/engine-values.test.ts": 68,
  "test/integration/taskvine-tasks.test.ts": 66,
  "test/integration/files-tasks.test.ts": 56,
  "test/integration/pins-caches.test.ts": 49,
  "test/integration/kernel-install-papermill.test.ts": 45,
  "test/integration/run.test.ts": 24,
  "test/integration/case-studies-smoke.test.ts": 22,
};
const UNLISTED_SECONDS = 15;

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
