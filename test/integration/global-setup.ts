import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureManagedEnv } from "../../src/pyenv/managed-env.js";

// Integration tests drive the real CLI against real kernels: build it, and make
// sure the pinned Python env exists once, before any test file starts
// (creating it takes minutes, reusing it milliseconds).
export default async function setup(): Promise<void> {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
  process.env.NBREWIND_TEST_PYTHON = env.python;
  // Signing keys: the CLI creates one on the first audit. Tests get their own
  // config dir, never the user's ~/.config/nbrewind-engine.
  process.env.NBREWIND_CONFIG_DIR ??= mkdtempSync(join(tmpdir(), "nbrewind-test-config-"));
  // Integration files run two at a time, and ray.init() without an address
  // joins any Ray cluster already running on the machine (another file's, and
  // then refuses num_cpus=…). "local" makes every kernel start its own.
  process.env.RAY_ADDRESS ??= "local";
}
