import { defineConfig } from "vitest/config";

// Two projects: fast unit tests of our own logic, and integration tests that
// drive a real Jupyter server, kernel and engines. The integration project
// runs files one at a time: each starts real processes on a 2-core machine.
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          globalSetup: ["test/integration/global-setup.ts"],
        },
      },
    ],
  },
});
