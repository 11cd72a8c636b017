/**
 * Task memoization overhead per engine (issue 5, bench a and b).
 *
 *   npm run bench:tasks [-- --engine dask --tasks 10000 --scheduler distributed]
 *
 * Runs bench/task_overhead.py with the managed env's Python: N small tasks on
 * the engine alone, then with the adapter recording and persisting every task
 * (audit), then with every task a hit (repeat), all in one process and one
 * run, and prints both ratios. It measures; it asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const res = spawnSync(env.python, [join(here, "task_overhead.py"), ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(res.status ?? 1);
