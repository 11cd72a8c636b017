/**
 * The NBRewind kernel against plain ipykernel (issue 13).
 *
 *   npm run bench:kernel [-- --executes 300 --cells 9 --work 1.0]
 *
 * Builds dist/, installs the kernelspec into a temporary prefix (never the
 * user's Jupyter dirs), and runs bench/kernel_bench.py with the managed env's
 * Python, which measures, in one run and against ipykernel direct:
 *
 *   (a) the latency a trivial execute gains through the proxy (target <= 2 ms),
 *       as the median of per-pair differences, one execute on each kernel in turn;
 *   (b) "Run All" in repeat mode on a notebook audited before, with no edit,
 *       against a plain run of the same cells (target <= 5%).
 *
 * It prints the figures and ratios and writes bench/results/kernel.json; it
 * asserts nothing. Every kernel it starts is shut down.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installKernelSpec } from "../src/kernel/kernelspec.js";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });

const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-kernel-"));
const load = () => loadavg().map((l) => l.toFixed(1)).join(" / ");
try {
  const prefix = join(dir, "prefix");
  await installKernelSpec({ scope: { kind: "prefix", dir: prefix }, name: "nbrewind", displayName: "Python 3 (NBRewind)", python: env.python });
  for (const sub of ["runtime", "data", "config", "keys"]) mkdirSync(join(dir, sub), { recursive: true });
  const out = join(dir, "result.json");
  console.log(`load average (1/5/15 min) at start: ${load()}`);
  const res = spawnSync(env.python, [join(here, "kernel_bench.py"), "--notebook", join(dir, "bench.ipynb"), "--json", out, ...args], {
    cwd: dir,
    stdio: "inherit",
    env: {
      ...process.env,
      JUPYTER_PATH: join(prefix, "share", "jupyter"),
      JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
      JUPYTER_DATA_DIR: join(dir, "data"),
      JUPYTER_CONFIG_DIR: join(dir, "config"),
      NBREWIND_CONFIG_DIR: join(dir, "keys"),
    },
  });
  if (res.status !== 0) process.exit(res.status ?? 1);
  const r = JSON.parse(readFileSync(out, "utf8")) as {
    latency: { plain_ms: number; nbrewind_ms: number; added_ms: number; n: number };
    run_all: { cells: number; plain_s: number; audit_s: number; repeat_s: number; repeat_switch_s: number; reused: number; outputs_match: boolean };
  };
  const l = r.latency;
  const a = r.run_all;
  const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
  console.log(`load average at end: ${load()}`);
  console.log(`\n(a) trivial execute, ${l.n} pairs: ipykernel ${l.plain_ms.toFixed(2)} ms, NBRewind ${l.nbrewind_ms.toFixed(2)} ms (medians)`);
  console.log(`    added latency ${l.added_ms.toFixed(2)} ms per execute (median of pair differences), ratio ${(l.nbrewind_ms / l.plain_ms).toFixed(3)}   target <= 2 ms: ${verdict(l.added_ms <= 2)}`);
  console.log(`\n(b) Run All of ${a.cells} cells: plain ipykernel ${a.plain_s.toFixed(2)} s; audit ${a.audit_s.toFixed(2)} s (ratio ${(a.audit_s / a.plain_s).toFixed(3)})`);
  console.log(`    repeat, no edit: ${a.repeat_s.toFixed(3)} s for the cells (${a.reused}/${a.cells} reused, outputs ${a.outputs_match ? "identical to the plain run's" : "DIFFERENT from the plain run's"}), plus ${a.repeat_switch_s.toFixed(3)} s for the %audit off cell`);
  const ratio = a.repeat_s / a.plain_s;
  const withSwitch = (a.repeat_s + a.repeat_switch_s) / a.plain_s;
  console.log(`    ratio repeat / plain ${ratio.toFixed(4)} (${(ratio * 100).toFixed(2)}%), with the mode cell ${withSwitch.toFixed(4)}   target <= 5%: ${verdict(withSwitch <= 0.05)}`);
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", "kernel.json"), JSON.stringify({ ...r, load_end: loadavg(), measured_at: new Date().toISOString() }, null, 2) + "\n");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
