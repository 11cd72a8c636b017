/**
 * Task memoization overhead per engine (issue 5, bench a and b).
 *
 *   npm run bench:tasks [-- --engine dask|parsl|ray --tasks 10000 --scheduler S --repeats 3 --work-ms 0]
 *
 * Runs bench/task_overhead.py with the managed env's Python: N small tasks on
 * the engine alone, then with the adapter recording and persisting every task
 * (audit), then with every task a hit (repeat), all in one process and one
 * run, and prints both ratios. Without --engine it runs each engine in turn
 * (Dask on distributed, Parsl on threads, Ray local). It measures; it asserts
 * nothing.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const args = process.argv.slice(2);
const runs = args.includes("--engine")
  ? [args]
  : [
      ["--engine", "dask", "--scheduler", "distributed", ...args],
      ["--engine", "parsl", "--scheduler", "threads", ...args],
      ["--engine", "ray", ...args],
    ];
let status = 0;
for (const run of runs) {
  const res = spawnSync(env.python, [join(here, "task_overhead.py"), ...run], { stdio: "inherit" });
  status ||= res.status ?? 1;
}
process.exit(status);
