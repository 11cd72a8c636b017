/**
 * Task memoization overhead per engine (issue 5, bench a and b; issue 15, items 5 and 6).
 *
 *   npm run bench:tasks [-- --tasks 2000 --reps 3 --work-ms 0,1 --only dask-distributed,parsl-threads]
 *   npm run bench:tasks -- --engine dask --scheduler threads [--profile audit|repeat] ...   (one run, as before)
 *
 * Runs bench/task_overhead.py with the managed env's Python, one process per
 * engine and task size: N tasks on the engine with the adapter idle (the
 * baseline), audited (every task keyed, recorded and persisted) and repeated
 * with every task a hit, interleaved (engine, audit, repeat, engine, ...) and
 * medians kept. Without --engine it runs Dask distributed, Dask threads,
 * Parsl threads and Ray, each with an empty task (the engine's own floor) and
 * a 1 ms task, then prints one table of the ratios (audit/engine,
 * repeat/engine, hits per second) with the load average of each run, and
 * writes it to bench/results/tasks.json. It measures; it asserts nothing.
 *
 *   npm run bench:tasks -- --baseline REF [--rounds 2] ...
 *
 * also measures the adapters of git revision REF (its `engines/` folder,
 * extracted to a temporary folder and handed to the script through
 * NBREWIND_BENCH_ENGINES), alternating processes (REF, ours, ours, REF, ...
 * `--rounds` pairs) for each configuration, and prints both sides' medians.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const args = process.argv.slice(2);

function option(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
}

if (args.includes("--engine")) {
  // One engine, as the script's own options say.
  const res = spawnSync(env.python, [join(here, "task_overhead.py"), ...args], { stdio: "inherit" });
  process.exit(res.status ?? 1);
}

interface Config {
  name: string;
  argv: string[];
}

const configs: Config[] = [
  { name: "dask-distributed", argv: ["--engine", "dask", "--scheduler", "distributed"] },
  { name: "dask-threads", argv: ["--engine", "dask", "--scheduler", "threads"] },
  { name: "parsl-threads", argv: ["--engine", "parsl", "--scheduler", "threads"] },
  { name: "ray", argv: ["--engine", "ray"] },
];
const only = option("--only", "");
const chosen = only ? configs.filter((c) => only.split(",").includes(c.name)) : configs;
const works = option("--work-ms", "0,1").split(",").map(Number);
const common = ["--tasks", option("--tasks", "2000"), "--reps", option("--reps", "3"), "--json"];

interface Figures {
  engine: string;
  runtime: string;
  work_ms: number;
  load: [number, number];
  baseline: { wall: number; cpu: number };
  audit: { wall: number; cpu: number };
  repeat: { wall: number; cpu: number };
  audit_ratio: number;
  repeat_ratio: number;
  hits_per_s: number;
  compute?: { engine: number; audit: number; repeat: number };
  adapter_s?: number | null;
  adapter_cpu_s?: number | null;
  served: number;
  problems: string[];
}

/** The adapters of git revision `ref`, extracted into a temporary folder: its `engines/` path. */
function enginesAt(ref: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-baseline-"));
  const archive = execFileSync("git", ["-C", join(here, ".."), "archive", "--format=tar", ref, "engines"], { maxBuffer: 1 << 30 });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  return { dir: join(dir, "engines"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function measure(config: Config, work: number, engines?: string): { config: string; figures?: Figures; error?: string } {
  const res = spawnSync(env.python, [join(here, "task_overhead.py"), ...config.argv, ...common, "--work-ms", String(work)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: engines ? { ...process.env, NBREWIND_BENCH_ENGINES: engines } : process.env,
  });
  const lines = (res.stdout ?? "").split("\n");
  process.stdout.write(`${engines ? "[baseline] " : ""}${lines.filter((l) => !l.startsWith("JSON ")).join("\n")}`);
  const json = lines.find((l) => l.startsWith("JSON "));
  return json ? { config: config.name, figures: JSON.parse(json.slice(5)) as Figures } : { config: config.name, error: `exit ${res.status}` };
}

const baselineRef = option("--baseline", "");
const rounds = Math.max(1, Number(option("--rounds", baselineRef ? "2" : "1")));
const baseline = baselineRef ? enginesAt(baselineRef) : undefined;
const rows: { config: string; figures?: Figures; error?: string }[] = [];
const baseRows: { config: string; figures?: Figures; error?: string }[] = [];
try {
  for (const config of chosen) {
    for (const work of works) {
      const ours: typeof rows = [];
      const theirs: typeof rows = [];
      for (let round = 0; round < rounds; round++) {
        // Alternate which side goes first (A B, B A, ...): a drift in the load falls on both.
        const order = round % 2 === 0 ? ["base", "ours"] : ["ours", "base"];
        for (const side of order) {
          if (side === "base" && baseline) theirs.push(measure(config, work, baseline.dir));
          if (side === "ours") ours.push(measure(config, work));
        }
      }
      rows.push(medianRow(ours));
      if (baseline) baseRows.push(medianRow(theirs));
    }
  }
} finally {
  baseline?.cleanup();
}

/** One row from several runs of a configuration: the run whose audit ratio is the median,
 * with the median repeat ratio and the load range of them all. */
function medianRow(runs: { config: string; figures?: Figures; error?: string }[]): { config: string; figures?: Figures; error?: string } {
  const ok = runs.filter((r) => r.figures).map((r) => r.figures!);
  if (ok.length === 0) return runs[0]!;
  const mid = <T,>(xs: T[], by: (x: T) => number): T => [...xs].sort((a, b) => by(a) - by(b))[Math.floor((xs.length - 1) / 2)]!;
  const byAudit = mid(ok, (f) => f.audit_ratio);
  const byRepeat = mid(ok, (f) => f.repeat_ratio);
  return {
    config: runs[0]!.config,
    figures: {
      ...byAudit,
      repeat: byRepeat.repeat,
      repeat_ratio: byRepeat.repeat_ratio,
      hits_per_s: byRepeat.hits_per_s,
      load: [Math.min(...ok.map((f) => f.load[0])), Math.max(...ok.map((f) => f.load[1]))],
      problems: ok.flatMap((f) => f.problems),
    },
  };
}

const fmt = (x: number, d = 2): string => x.toFixed(d);
console.log(`\nSummary (${common.slice(0, 4).join(" ")}${baselineRef ? `; ${rounds} alternating rounds against ${baselineRef}` : ""}; load average now ${loadavg()[0]!.toFixed(1)}; targets: audit <= 1.10, repeat <= 0.20, >= 20,000 hits/s for a Dask graph)`);
console.log("| engine | task | load | engine alone | audit | repeat | audit / engine | repeat / engine | hits/s (repeat) | Dask compute only: audit, repeat | hits/s in the adapter |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
const labelled = [...rows.map((r) => ({ ...r, side: "" })), ...baseRows.map((r) => ({ ...r, side: `${baselineRef}: ` }))];
for (const { config: name, figures: f, error, side } of labelled) {
  const config = `${side}${name}`;
  if (!f) {
    console.log(`| ${config} | | | failed: ${error} | | | | | | | |`);
    continue;
  }
  const compute = f.compute?.engine ? `${fmt(f.compute.audit / f.compute.engine)}, ${fmt(f.compute.repeat / f.compute.engine)}` : "";
  const cpuRate = f.adapter_cpu_s ? ` (cpu ${Math.round(f.served / f.adapter_cpu_s).toLocaleString("en")})` : "";
  const adapter = f.adapter_s ? `${Math.round(f.served / f.adapter_s).toLocaleString("en")}${cpuRate}` : "";
  const problems = f.problems.length ? ` (${f.problems.join("; ")})` : "";
  console.log(
    `| ${config} | ${f.work_ms ? `${f.work_ms} ms` : "empty"} | ${fmt(f.load[0], 1)}-${fmt(f.load[1], 1)} | ${fmt(f.baseline.wall, 3)} s | ${fmt(f.audit.wall, 3)} s | ${fmt(f.repeat.wall, 3)} s | ${fmt(f.audit_ratio)} (cpu ${fmt(f.audit.cpu / f.baseline.cpu)}) | ${fmt(f.repeat_ratio)} (cpu ${fmt(f.repeat.cpu / f.baseline.cpu)}) | ${Math.round(f.hits_per_s).toLocaleString("en")}${problems} | ${compute} | ${adapter} |`,
  );
}
const out = join(here, "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "tasks.json"), JSON.stringify({ when: new Date().toISOString(), rows, ...(baselineRef ? { baseline: { ref: baselineRef, rows: baseRows } } : {}) }, null, 2));
process.exit([...rows, ...baseRows].every((r) => r.figures) ? 0 : 1);
