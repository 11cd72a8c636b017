import { ensureManagedEnv } from "../../src/pyenv/managed-env.js";

// Integration tests drive real kernels: make sure the pinned Python env exists
// once, before any test file starts (creating it is minutes, reusing it is ms).
export default async function setup(): Promise<void> {
  const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
  process.env.NBREWIND_TEST_PYTHON = env.python;
}
