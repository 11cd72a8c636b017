/**
 * Benchmark (issue 5, c): repeat of the Parsl workflow after a change, with
 * nbrewind's task memoization against Parsl's own memoization with checkpoint
 * files, on the same change.
 *
 *   npm run bench:parsl [-- --reps 3 --work 0.02 --executor threads|htex]
 *
 * The workflow is the integration tests' 225-task map-reduce with diamonds
 * (test/integration/parsl-workflow.ts); each app sleeps --work seconds as a
 * stand-in for real work. The change weighs 10% of the leaves (26 tasks must
 * run again). Timed, end to end as a user runs them:
 *
 *   nbrewind:  audit (factor 1), then TIMED: repeat with factor 5
 *   Parsl:     run with cache=True apps and BasicMemoizer(checkpoint_mode=
 *              "task_exit", checkpoint_files=get_all_checkpoints(run_dir)), on a
 *              plain kernel (`run`: no shim), factor 1; then TIMED: the same with factor 5
 *
 * Both sides are checked with the engine-side counter (each app appends its
 * name to a log as it runs): each timed run must have executed exactly the 26
 * invalidated tasks, or the figure is refused. Medians over --reps. Prints the
 * ratio nbrewind / Parsl checkpoint (lower is better for nbrewind). It measures;
 * it asserts nothing and exits 0 whether or not nbrewind is faster.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";
import { writeNotebookFile } from "../test/integration/cli-harness.js";
import { afterFactorChange, takeLog, workflowCells, type Executor } from "../test/integration/parsl-workflow.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench", "results");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Compile the CLI privately (dist/ may be in use by others). */
function buildCli(): string {
  const out = join(RESULTS, ".build-parsl");
  rmSync(out, { recursive: true, force: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", out], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the CLI does not build:\n${r.stdout}`);
  return join(out, "cli", "entry.js");
}

function cli(entry: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [entry, ...args], { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) reject(new Error(`nbrewind-engine ${args.join(" ")} exited with ${code}:\n${err.split("\n").slice(-12).join("\n")}`));
      else resolve(performance.now() - started);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function expectRan(what: string, log: string): void {
  const ran = takeLog(log);
  const expected = afterFactorChange();
  if (JSON.stringify(ran) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected the ${expected.length} invalidated tasks to run, the engine ran ${ran.length}: ${ran.slice(0, 8).join(", ")}…`);
  }
}

async function main(): Promise<void> {
  const reps = Number(option("reps", "3"));
  const work = Number(option("work", "0.02"));
  const executor = option("executor", "threads") as Executor;
  if (!Number.isInteger(reps) || reps < 1 || !(work >= 0) || !["threads", "htex"].includes(executor)) throw new Error("usage: --reps N --work SECONDS --executor threads|htex");
  await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));
  const entry = buildCli();
  // HTEX finds its interchange and worker pool through PATH: the embedded server puts the env's bin first.
  const env = { ...process.env };
  const ours: number[] = [];
  const theirs: number[] = [];
  console.error(`parsl repeat vs checkpoint: 225 tasks (${executor}), ${work}s of work each, 26 invalidated, ${reps} reps, ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"})`);
  for (let rep = 0; rep < reps; rep++) {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-parsl-"));
    const log = join(dir, "ran.log");
    const nb = (name: string, factor: number, parslCheckpoint: boolean) =>
      writeNotebookFile(dir, name, workflowCells(executor, join(dir, `runinfo-${name}`), log, { factor, work, parslCheckpoint }));

    nb("ours.ipynb", 1, false);
    await cli(entry, ["audit", join(dir, "ours.ipynb"), "-q"], env, dir);
    takeLog(log);
    nb("ours.ipynb", 5, false);
    const oursMs = await cli(entry, ["repeat", join(dir, "ours.ipynb"), "-q"], env, dir);
    expectRan("nbrewind repeat", log);

    nb("parsl.ipynb", 1, true);
    await cli(entry, ["run", join(dir, "parsl.ipynb"), "-o", join(dir, "parsl.out.ipynb"), "-q"], env, dir);
    takeLog(log);
    nb("parsl.ipynb", 5, true);
    const theirsMs = await cli(entry, ["run", join(dir, "parsl.ipynb"), "-o", join(dir, "parsl.out.ipynb"), "-q"], env, dir);
    expectRan("Parsl checkpoint run", log);

    ours.push(oursMs);
    theirs.push(theirsMs);
    console.error(`  rep ${rep + 1}: nbrewind repeat ${(oursMs / 1000).toFixed(2)} s, Parsl checkpoint ${(theirsMs / 1000).toFixed(2)} s`);
    rmSync(dir, { recursive: true, force: true });
  }
  const o = median(ours);
  const t = median(theirs);
  const ratio = o / t;
  console.log(`nbrewind repeat ${(o / 1000).toFixed(2)} s vs Parsl checkpoint ${(t / 1000).toFixed(2)} s (medians of ${reps}): ratio ${ratio.toFixed(2)} (< 1: nbrewind is faster)`);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "parsl-vs-checkpoint.json"), JSON.stringify({ executor, work, reps, ours_ms: ours, parsl_checkpoint_ms: theirs, ratio }, null, 1) + "\n");
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
