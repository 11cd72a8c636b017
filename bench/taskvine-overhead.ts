/**
 * TaskVine task memoization overhead (issue 17).
 *
 *   npm run bench:taskvine [-- --tasks 200 --work-ms 1 --rounds 3 --kind function|python]
 *
 * Runs bench/taskvine_overhead.py with the managed env's Python, TaskVine built
 * once per machine by scripts/taskvine.sh: N small tasks on a plain manager,
 * audited, and all hits, interleaved round by round, and prints both ratios
 * with the load average. It measures; it asserts nothing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const prefix = execFileSync("bash", [join(here, "..", "scripts", "taskvine.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const site = readdirSync(join(prefix, "lib"))
  .filter((d) => d.startsWith("python3"))
  .map((d) => join(prefix, "lib", d, "site-packages"))[0]!;
const res = spawnSync(env.python, [join(here, "taskvine_overhead.py"), ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, PATH: `${join(prefix, "bin")}${delimiter}${process.env.PATH ?? ""}`, PYTHONPATH: [site, process.env.PYTHONPATH].filter(Boolean).join(delimiter) },
});
process.exit(res.status ?? 1);
