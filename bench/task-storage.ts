/**
 * Benchmark of the task-result storage policy (issue 9), on the shape of
 * dask-examples `array.ipynb`: a random array in 8 MB chunks, a lazy
 * expression reduced (`z.compute()`), the expression persisted, then two
 * reductions of the persisted array. Each run is timed end to end:
 *
 *   (1) run    nb.ipynb                         the baseline: nothing recorded
 *   (2) audit  nb.ipynb                         the policy: results cheaper to recompute
 *                                               than to store and load are left out
 *   (3) audit  nb.ipynb --store all             every result stored: the size of a bundle
 *                                               before the policy existed
 *   (4) repeat nb.ipynb, persist cell edited    on (2)'s bundle: the persist runs again (its
 *                                               tasks were not stored: recomputed), and every
 *                                               printed number must equal (1)
 *
 * Targets: (2) / (1) - 1 <= 15% (audit overhead), bundle (2) / bundle (3) <= 10%,
 * and (4) prints the same numbers as (1). (1) and (2) alternate over --reps
 * repetitions and medians are taken (a shared 2-core machine drifts).
 *
 *   npm run bench:storage [-- --reps 3 --side 6000]
 *
 * --side N: the array is N x N float64 in 1000 x 1000 chunks (8 MB each);
 * dask-examples uses 10000 (100 chunks, 800 MB; the default 6000 is 36 chunks,
 * 288 MB, so the bench fits beside other work on a shared machine).
 *
 * It measures; it asserts nothing, and exits 0 whether or not a target is met.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";
import { buildCli, check, cleanEnv, median, option, printTable, runTimed, sec, writeCodeNotebook, writeResults } from "./lib/harness.js";

const TARGET = { auditOverhead: 0.15, bundleFraction: 0.1 };

function cells(side: number, edited: boolean): string[] {
  return [
    "from dask.distributed import Client\nclient = Client(processes=False, threads_per_worker=2, n_workers=1, memory_limit='3GB', dashboard_address=None)",
    `import dask.array as da\nx = da.random.RandomState(42).random((${side}, ${side}), chunks=(1000, 1000))`,
    `y = x + x.T\nz = y[::2, ${side / 2}:].mean(axis=1)\nprint("z", float(z.compute().sum()))`,
    edited ? "y = y.persist()  # persisted again: its tasks were not stored, they run" : "y = y.persist()",
    `print("y00", float(y[0, 0].compute()))`,
    `print("sum", float(y.sum().compute()))`,
  ];
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

function printedNumbers(notebookJson: string): string {
  return [...notebookJson.matchAll(/"(z|y00|sum) (-?[\d.e+-]+)\\n"/g)].map((m) => `${m[1]} ${m[2]}`).join(", ");
}

async function main(): Promise<void> {
  const reps = option("reps", 3);
  const side = option("side", 6000);
  if (side % 2000 !== 0) throw new Error("--side must be a multiple of 2000");
  await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));
  const cli = buildCli(".storage-build");
  const runEnv = cleanEnv();
  const work = mkdtempSync(join(tmpdir(), "nbrewind-bench-storage-"));
  const nb = join(work, "array.ipynb");
  const edited = join(work, "array-edited.ipynb");
  writeCodeNotebook(nb, cells(side, false));
  writeCodeNotebook(edited, cells(side, true));
  console.log(`task storage bench: ${side} x ${side} float64 in 8 MB chunks (${(side / 1000) ** 2} chunks), ${reps} rep(s); build: ${cli.source}; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);

  const cliRun = (args: string[]) => runTimed(process.execPath, [cli.entry, ...args], runEnv, work);
  const runs: number[] = [];
  const audits: number[] = [];
  let policyBytes = 0;
  let lastAuditBundle = "";
  let runOutput = "";
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? ["run", "audit"] : ["audit", "run"];
    for (const what of order) {
      if (what === "run") {
        const r = check("run", await cliRun(["run", nb, "-q", "-o", join(work, "run.out.ipynb")]));
        runs.push(r.wallMs);
        runOutput = printedNumbers(readFileSync(join(work, "run.out.ipynb"), "utf8"));
      } else {
        const bundle = join(work, `audit-${rep}.nbrewind`);
        const r = check("audit", await cliRun(["audit", nb, "-q", "--bundle", bundle, "-o", join(work, "audit.out.ipynb")]));
        audits.push(r.wallMs);
        policyBytes = folderBytes(bundle);
        if (lastAuditBundle) rmSync(lastAuditBundle, { recursive: true, force: true });
        lastAuditBundle = bundle;
      }
    }
    console.log(`  rep ${rep + 1}: run ${sec(runs.at(-1)!)}, audit ${sec(audits.at(-1)!)}; load ${loadavg()[0]!.toFixed(1)}`);
  }
  const allBundle = join(work, "all.nbrewind");
  const all = check("audit --store all", await cliRun(["audit", nb, "-q", "--store", "all", "--bundle", allBundle, "-o", join(work, "all.out.ipynb")]));
  const allBytes = folderBytes(allBundle);
  rmSync(allBundle, { recursive: true, force: true });

  const repeat = check("repeat", await cliRun(["repeat", edited, "-q", "--bundle", lastAuditBundle, "-o", join(work, "repeat.out.ipynb")]));
  const repeatOutput = printedNumbers(readFileSync(join(work, "repeat.out.ipynb"), "utf8"));

  const run = median(runs);
  const audit = median(audits);
  const overhead = audit / run - 1;
  const fraction = policyBytes / allBytes;
  const same = repeatOutput === runOutput && runOutput !== "";
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  console.log("");
  printTable([
    ["", "value", "ratio", "target", ""],
    ["run (median)", sec(run), "", "", ""],
    ["audit (median)", sec(audit), `${(overhead * 100).toFixed(1)}% overhead`, `<= ${TARGET.auditOverhead * 100}%`, overhead <= TARGET.auditOverhead ? "PASS" : "MISS"],
    ["audit --store all", sec(all.wallMs), "", "", ""],
    ["bundle, policy", mb(policyBytes), `${(fraction * 100).toFixed(1)}% of --store all`, `<= ${TARGET.bundleFraction * 100}%`, fraction <= TARGET.bundleFraction ? "PASS" : "MISS"],
    ["bundle, --store all", mb(allBytes), "", "", ""],
    ["repeat, persist edited", sec(repeat.wallMs), same ? "results equal the run" : "RESULTS DIFFER", "equal", same ? "PASS" : "MISS"],
  ]);
  console.log(`\n  run:    ${runOutput}\n  repeat: ${repeatOutput}`);
  const path = writeResults("task-storage.json", { side, reps, runs, audits, audit_all_ms: all.wallMs, policy_bytes: policyBytes, all_bytes: allBytes, repeat_ms: repeat.wallMs, overhead, bundle_fraction: fraction, results_equal: same, run_output: runOutput, repeat_output: repeatOutput, load: loadavg() });
  console.log(`  results: ${path}`);
  rmSync(work, { recursive: true, force: true });
}

await main();
