/**
 * npm run bench:cases [-- --quick] [--case NAME[,NAME]] [--reps N] [--no-peers] [--kishu NAME[,NAME]] [--keep]
 *
 * Issue 15's case studies (bench/case-studies/*: five notebooks with the seed
 * paper's shapes, each generating its data from a fixed seed), taken through
 * what a user does, in one run per case:
 *
 *   plain run (papermill, the managed env's python3 kernel) and `audit`,
 *   alternated --reps times; `repeat` with no edit; then the three scripted
 *   edits, one after the other, each followed by `repeat` and by a fresh
 *   plain run of the edited notebook on its edited data (the reference for
 *   results and the baseline for time).
 *
 * After each repeat, the cells that ran and the tasks they dispatched are held
 * against the edit's ideal (declared in the case's descriptor), and the
 * repeat's outputs and result file against the fresh run's. Then the peers on
 * the same notebook and data: Kishu on every case, Parsl's checkpointing on
 * the Parsl case, graphchain on the Dask-delayed case (bench/case-studies/peers/).
 *
 * It prints the table and writes bench/results/cases.json (a `--quick` or `--case`
 * run writes cases-quick.json, cases-NAME.json, ...: never over the full table). It exits 1 when
 * any repeat re-ran something outside its ideal, missed something in it,
 * gave results different from a fresh run, or failed: that is a defect.
 * Timings are figures, never a verdict.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Notebook } from "../../src/notebook/types.js";
import { ensureManagedEnv } from "../../src/pyenv/managed-env.js";
import { buildCli, cleanEnv, median, printTable, RESULTS, runTimed, writeResults } from "../lib/harness.js";
import type { CaseStudy, EditKind } from "./case.js";
import { differences } from "./fresh.js";
import { departures, describeSet, rerunSet } from "./ideal.js";
import { CASES } from "./index.js";
import { runGraphchain } from "./peers/graphchain.js";
import { runKishu } from "./peers/kishu.js";
import { runParslCheckpoint } from "./peers/parsl-checkpoint.js";
import type { PeerResult } from "./peers/result.js";
import { ensurePeersEnv, type PeersEnv } from "./peers/venv.js";
import { papermill, sizeOf, stepOf, type Step } from "./runs.js";
import { applyEdit, NOTEBOOK, prepareFolder, readOutput, type Size } from "./workspace.js";

interface RepeatResult {
  kind: EditKind | "none";
  why: string;
  repeat: Step;
  /** The fresh plain run it is held against (for "none": the first plain run). */
  fresh: Step;
  /** Repeat wall time over the fresh run's. */
  ratio?: number;
  ideal: Record<string, number>;
  got?: Record<string, number>;
  departures: string[];
  equalFresh: boolean;
  differences: string[];
}

interface CaseResult {
  name: string;
  title: string;
  engine: string;
  size: Size;
  plain: Step[];
  audit: Step[];
  /** Median audit over median plain run, minus 1, in %. */
  auditOverheadPct?: number;
  auditCpuOverheadPct?: number;
  bundleBytes: number;
  repeats: RepeatResult[];
  peers: PeerResult[];
  pass: boolean;
  load: number[];
  failure?: string;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const size: Size = process.argv.includes("--quick") ? "quick" : "full";
const only = argValue("case")?.split(",").map((s) => s.trim());
const reps = Number(argValue("reps") ?? (size === "quick" ? "1" : "2"));
const withPeers = !process.argv.includes("--no-peers");
/** Kishu runs every case unless limited (it re-runs whole cells after each edit: as long as a fresh run). */
const kishuCases = argValue("kishu")?.split(",").map((x) => x.trim());
const keep = process.argv.includes("--keep");
/** A quick or partial run writes a file of its own: it must not replace the full table a reader of bench/README.md holds ours against. */
const resultsFile = `cases${size === "quick" ? "-quick" : ""}${only ? `-${only.join("+")}` : ""}.json`;

const load = () => loadavg().map((x) => Number(x.toFixed(2)));
const s = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(1)} s`);
const pct = (x: number | undefined) => (x === undefined ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`);
const mb = (b: number | undefined) => (b === undefined ? "-" : `${(b / 1e6).toFixed(2)} MB`);

interface Context {
  cli: string;
  python: string;
  cache: string;
  peers?: PeersEnv;
}

function cliRun(ctx: Context, dir: string, args: string[]) {
  return runTimed(process.execPath, [ctx.cli, ...args], cleanEnv(), dir, { cpu: true });
}

async function plainRun(ctx: Context, study: CaseStudy, dir: string, applied: number): Promise<Step> {
  prepareFolder(study, dir, size, ctx.python, ctx.cache, applied);
  return stepOf(await papermill(ctx.python, ctx.python, "python3", dir, NOTEBOOK, "plain.out.ipynb"));
}

async function repeatOnce(ctx: Context, study: CaseStudy, ours: string, out: string, fresh: string, freshStep: Step, kind: RepeatResult["kind"], why: string, ideal: Record<string, number>): Promise<RepeatResult> {
  const repeat = stepOf(await cliRun(ctx, ours, ["repeat", NOTEBOOK, "-o", out, "--json", "-q"]));
  const result: RepeatResult = { kind, why, repeat, fresh: freshStep, ideal, departures: [], equalFresh: false, differences: [] };
  if (!repeat.ok) {
    result.departures.push(`repeat failed: ${repeat.failure}`);
    return result;
  }
  result.got = rerunSet(JSON.parse(readFileSync(join(ours, out), "utf8")) as Notebook);
  result.departures = departures(ideal, result.got);
  if (freshStep.ok) {
    result.ratio = repeat.seconds / freshStep.seconds;
    result.differences = differences(join(fresh, "plain.out.ipynb"), join(ours, out), readOutput(study, fresh), readOutput(study, ours), [fresh, ours]);
    result.equalFresh = result.differences.length === 0;
  } else result.differences.push(`the fresh run failed: ${freshStep.failure}`);
  return result;
}

async function runCase(ctx: Context, study: CaseStudy, root: string): Promise<CaseResult> {
  const dir = join(root, study.name);
  const result: CaseResult = { name: study.name, title: study.title, engine: study.engine, size, plain: [], audit: [], bundleBytes: 0, repeats: [], peers: [], pass: false, load: load() };
  let ours = "";
  for (let r = 0; r < reps; r++) {
    for (const which of r % 2 === 0 ? ["plain", "audit"] : ["audit", "plain"]) {
      if (which === "plain") {
        result.plain.push(await plainRun(ctx, study, join(dir, `plain-${r}`), 0));
      } else {
        ours = join(dir, `ours-${r}`);
        prepareFolder(study, ours, size, ctx.python, ctx.cache);
        result.audit.push(stepOf(await cliRun(ctx, ours, ["audit", NOTEBOOK, "-o", "audited.ipynb", "--json", "-q"])));
      }
      const last = which === "plain" ? result.plain[result.plain.length - 1]! : result.audit[result.audit.length - 1]!;
      console.log(`  ${which.padEnd(5)} ${s(last.seconds)}${last.cpuSeconds !== undefined ? ` (cpu ${s(last.cpuSeconds)})` : ""}${last.ok ? "" : `  FAILED: ${last.failure}`}`);
    }
  }
  const failed = [...result.plain, ...result.audit].find((x) => !x.ok);
  if (failed) {
    result.failure = `a plain run or audit failed: ${failed.failure}`;
    return result;
  }
  const plainMedian = median(result.plain.map((x) => x.seconds));
  result.auditOverheadPct = (median(result.audit.map((x) => x.seconds)) / plainMedian - 1) * 100;
  const cpu = (xs: Step[]) => (xs.every((x) => x.cpuSeconds !== undefined) ? median(xs.map((x) => x.cpuSeconds!)) : undefined);
  const [pc, ac] = [cpu(result.plain), cpu(result.audit)];
  if (pc && ac) result.auditCpuOverheadPct = (ac / pc - 1) * 100;
  result.bundleBytes = sizeOf(join(ours, "notebook.nbrewind"));

  const plain0 = join(dir, "plain-0");
  const noEdit = await repeatOnce(ctx, study, ours, "repeat-0.ipynb", plain0, result.plain[0]!, "none", "no edit", {});
  noEdit.ratio = noEdit.repeat.seconds / plainMedian;
  result.repeats.push(noEdit);
  report(noEdit);
  const freshOutputs: (string | undefined)[] = [];
  for (const [i, edit] of study.edits.entries()) {
    applyEdit(study, edit, ours, size, ctx.python);
    const freshDir = join(dir, `fresh-${i + 1}`);
    const fresh = await plainRun(ctx, study, freshDir, i + 1);
    freshOutputs.push(readOutput(study, freshDir));
    const r = await repeatOnce(ctx, study, ours, `repeat-${i + 1}.ipynb`, freshDir, fresh, edit.kind, edit.why, edit.ideal);
    result.repeats.push(r);
    report(r);
  }
  result.pass = result.repeats.every((r) => r.repeat.ok && r.departures.length === 0 && r.equalFresh);

  if (ctx.peers) {
    if (!kishuCases || kishuCases.includes(study.name)) result.peers.push(await runKishu(study, join(dir, "kishu"), size, ctx.python, ctx.peers, ctx.cache, freshOutputs));
    if (study.engine === "parsl-htex") result.peers.push(await runParslCheckpoint(study, join(dir, "parsl-checkpoint"), size, ctx.python, ctx.cache, freshOutputs));
    if (study.engine === "dask-delayed") result.peers.push(await runGraphchain(study, join(dir, "graphchain"), size, ctx.python, ctx.peers, ctx.cache, freshOutputs));
    for (const p of result.peers) reportPeer(p, plainMedian);
  }
  result.load = load();
  return result;
}

function report(r: RepeatResult): void {
  const verdict = r.repeat.ok && r.departures.length === 0 && r.equalFresh ? "ok" : "FAIL";
  console.log(`  repeat, ${r.why}: ${s(r.repeat.seconds)} (fresh ${s(r.fresh.seconds)}); re-ran ${r.got ? describeSet(r.got) : "?"}; ideal ${describeSet(r.ideal)}; = fresh: ${r.equalFresh ? "yes" : "no"}  ${verdict}`);
  for (const d of r.departures) console.log(`    departs from the ideal: ${d}`);
  for (const d of r.differences.slice(0, 4)) console.log(`    differs from a fresh run: ${d}`);
}

function reportPeer(p: PeerResult, plainMedian: number): void {
  if (!p.record) {
    console.log(`  peer ${p.peer}: cannot run this case: ${p.why}`);
    return;
  }
  console.log(`  peer ${p.peer}: recording ${s(p.record.seconds)} (${pct((p.record.seconds / plainMedian - 1) * 100)} vs plain), stores ${mb(p.storageBytes)} (${mb(p.storageAfterEditsBytes)} after the edits' runs)`);
  for (const e of p.edits) console.log(`    after ${e.kind}: ${e.ok ? s(e.seconds) : "FAILED"}${e.executed !== undefined ? `, ${e.executed} task(s) executed (ideal ${e.idealTasks})` : ""}; = fresh: ${e.equalFresh ? "yes" : "no"}${e.note ? `; ${e.note}` : ""}`);
}

function summary(results: CaseResult[]): void {
  console.log("\nnbrewind-engine (times are wall clock; ratios explained in bench/README.md)");
  const rows = [["case", "engine", "plain", "audit", "overhead", "no edit", "last-step", "upstream", "input-file", "vs ideal", "bundle", "= fresh"]];
  for (const r of results) {
    const pm = r.plain.length ? median(r.plain.map((x) => x.seconds)) : undefined;
    const edit = (k: EditKind) => {
      const e = r.repeats.find((x) => x.kind === k);
      return e ? `${s(e.repeat.seconds)} ${e.ratio !== undefined ? `(${e.ratio.toFixed(2)})` : ""}` : "-";
    };
    const none = r.repeats.find((x) => x.kind === "none");
    rows.push([
      r.name,
      r.engine,
      s(pm),
      s(r.audit.length ? median(r.audit.map((x) => x.seconds)) : undefined),
      pct(r.auditOverheadPct),
      none ? `${s(none.repeat.seconds)} (${none.ratio?.toFixed(2) ?? "-"})` : "-",
      edit("last-step"),
      edit("upstream"),
      edit("input-file"),
      r.repeats.length ? (r.repeats.every((x) => x.departures.length === 0) ? "match" : `${r.repeats.filter((x) => x.departures.length).length} off`) : "-",
      mb(r.bundleBytes),
      r.repeats.length ? (r.repeats.every((x) => x.equalFresh) ? "yes" : `no (${r.repeats.filter((x) => !x.equalFresh).map((x) => x.kind).join(", ")})`) : r.failure ? "failed" : "-",
    ]);
  }
  printTable(rows);
  const peers = results.flatMap((r) => r.peers.map((p) => [r, p] as const));
  if (peers.length === 0) return;
  console.log("\npeers, same notebooks and data (ratios: recording vs plain run; after an edit vs nbrewind's repeat)");
  const prow = [["case", "peer", "recording", "overhead", "storage / after edits", "last-step", "upstream", "input-file", "tasks run/ideal", "= fresh"]];
  for (const [r, p] of peers) {
    const pm = median(r.plain.map((x) => x.seconds));
    const edit = (k: EditKind) => {
      const e = p.edits.find((x) => x.kind === k);
      const ours = r.repeats.find((x) => x.kind === k);
      return e ? (e.ok ? `${s(e.seconds)}${ours ? ` (${(e.seconds / ours.repeat.seconds).toFixed(1)}x)` : ""}` : "failed") : "-";
    };
    prow.push([
      r.name,
      p.peer,
      p.record ? s(p.record.seconds) : "-",
      p.record ? pct((p.record.seconds / pm - 1) * 100) : "-",
      `${mb(p.storageBytes)} / ${mb(p.storageAfterEditsBytes)}`,
      edit("last-step"),
      edit("upstream"),
      edit("input-file"),
      p.edits.some((e) => e.executed !== undefined) ? p.edits.map((e) => `${e.executed ?? "?"}/${e.idealTasks}`).join(", ") : "-",
      p.record ? p.edits.map((e) => (e.equalFresh ? "yes" : "no")).join(", ") : `cannot run: ${p.why?.slice(0, 80)}`,
    ]);
  }
  printTable(prow);
}

async function main(): Promise<void> {
  const cases = only ? only.flatMap((n) => CASES.filter((c) => c.name === n)) : CASES;
  if (cases.length === 0) {
    console.error(`bench:cases: --case ${only?.join(",")}: no such case (${CASES.map((c) => c.name).join(", ")})`);
    process.exit(2);
  }
  if (!Number.isInteger(reps) || reps < 1) {
    console.error("bench:cases: --reps must be a positive integer");
    process.exit(2);
  }
  const env = await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));
  // A build folder of its own: two runs at once must not delete each other's build.
  const buildFolder = `.cases-build-${process.pid}`;
  const cli = buildCli(buildFolder);
  const root = mkdtempSync(join(tmpdir(), "nbrewind-cases-"));
  const ctx: Context = { cli: cli.entry, python: env.python, cache: join(root, ".data") };
  mkdirSync(ctx.cache, { recursive: true });
  if (withPeers) ctx.peers = ensurePeersEnv(env, (line) => console.log(`  ${line}`));
  console.log(`bench:cases: ${cases.length} case(s) at ${size} size, ${reps} plain/audit pair(s) each; nbrewind-engine built from ${cli.source}; ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"})`);
  console.log(`  machine load (1/5/15 min) at start: ${load().join(" / ")}; work folder ${root}`);
  if (ctx.peers) console.log(`  peers' venv ${ctx.peers.dir}: kishu ${ctx.peers.installed.kishu.how}; graphchain ${ctx.peers.installed.graphchain.how}`);
  const results: CaseResult[] = [];
  for (const study of cases) {
    console.log(`\n${study.name}: ${study.title} (${study.engine}); load ${load().join(" / ")}`);
    try {
      results.push(await runCase(ctx, study, root));
    } catch (err) {
      results.push({ name: study.name, title: study.title, engine: study.engine, size, plain: [], audit: [], bundleBytes: 0, repeats: [], peers: [], pass: false, load: load(), failure: (err as Error).stack ?? String(err) });
      console.log(`  FAILED: ${(err as Error).message}`);
    }
    // Written after every case too, so a long run interrupted keeps what it measured.
    writeResults(resultsFile, { size, reps, complete: false, cores: availableParallelism(), cases: results });
  }
  summary(results);
  const failing = results.filter((r) => !r.pass);
  console.log(`\n  ${results.length - failing.length} of ${results.length} case(s) re-ran exactly their ideal with results equal to a fresh run; machine load at end: ${load().join(" / ")}`);
  for (const r of failing) console.log(`  FAIL ${r.name}: ${r.failure ?? r.repeats.flatMap((x) => [...x.departures, ...(x.equalFresh ? [] : [`${x.kind}: results differ from a fresh run`])]).slice(0, 3).join("; ")}`);
  console.log(`  results: ${writeResults(resultsFile, { size, reps, complete: true, cores: availableParallelism(), cases: results })}`);
  if (keep) console.log(`  work folder kept: ${root}`);
  else rmSync(root, { recursive: true, force: true });
  rmSync(join(RESULTS, buildFolder), { recursive: true, force: true });
  process.exit(failing.length ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(`bench:cases: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});


