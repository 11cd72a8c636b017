import { defineConfig } from "vitest/config";
import SlowestFirst from "./test/slowest-first.js";

// Two projects: fast unit tests of our own logic, and integration tests that
// drive a real Jupyter server, kernel and engines. Unit tests run first (group
// 0); integration files then run two at a time (group 1): each starts real
// processes, and most of a file's time is spent waiting on a kernel or a
// cluster, so two lanes keep a 2-core machine busy without swamping it.
// Every integration file works in its own temporary folders and config dir,
// which is what makes two at a time safe.
export default defineConfig({
  test: {
    sequence: { sequencer: SlowestFirst },
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000, sequence: { groupOrder: 0 } } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          globalSetup: ["test/integration/global-setup.ts"],
        },
      },
    ],
  },
});
