/**
 * File observation overhead (issue 10).
 *
 *   npm run bench:files [-- --files 10000 --tasks 10000 --reps 5 --scheduler threads|distributed]
 *
 * Runs bench/file_overhead.py with the managed env's Python: (a) a cell
 * reading N small files, observed against unobserved; (b) a Dask audit of N
 * tasks each reading one small file, with file observation against the same
 * audit without it. It measures and prints the ratios; it asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const res = spawnSync(env.python, [join(here, "file_overhead.py"), ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(res.status ?? 1);
