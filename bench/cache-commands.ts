/**
 * Benchmark of `cache ls` and `cache gc --dry-run` on a task cache of
 * 100,000 entries (issue 14: each at most 2 s on this machine).
 *
 *   npm run bench:cache [-- --entries 100000 --reps 5 --baseline OTHER/bin/nbrewind-engine.js]
 *
 * Generates (once; reused while its size matches) a cache folder under
 * bench/results/ with N entries, each with its own small blob, uses for a
 * tenth of them and refs of 20 bundles, then times, through the built CLI
 * as a user runs it (a new node process each):
 *
 *   ls       nbrewind-engine cache ls --json --cache DIR      (stdout discarded)
 *   gc       nbrewind-engine cache gc --dry-run --max-size 1 --json --cache DIR
 *   floor    a node process that only reads and parses the index (one
 *            file of N lines), nothing else: the baseline
 *
 * With --baseline, the same two commands through another build (say, the
 * commit before a change, built in a folder of its own) are timed too. The
 * runs are interleaved (ours, baseline, floor, ours, …) so a neighbour's
 * burst of load falls on all of them alike. Prints the median and the best of
 * --reps runs, wall and CPU (user + sys), the load average over the runs,
 * the ratio to the floor, and the verdict against 2 s. It measures; it
 * asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { INDEX_FILE, indexLine, type TaskCacheEntry } from "../src/store/task-cache.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench", "results");
const BIN = join(ROOT, "bin", "nbrewind-engine.js");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const entries = option("entries", 100_000);
const reps = option("reps", 5);
const baselineAt = process.argv.indexOf("--baseline");
const BASELINE = baselineAt > 0 ? process.argv[baselineAt + 1] : undefined;
const dir = join(RESULTS, `cache-${entries}`);
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function generate(): void {
  const marker = join(dir, ".complete-v3");
  if (existsSync(marker)) return;
  rmSync(dir, { recursive: true, force: true });
  console.log(`generating ${entries} entries in ${dir} (once)…`);
  for (let p = 0; p < 256; p++) {
    const prefix = p.toString(16).padStart(2, "0");
    mkdirSync(join(dir, "tasks", prefix), { recursive: true });
    mkdirSync(join(dir, "blobs", "sha256", prefix), { recursive: true });
  }
  mkdirSync(join(dir, "refs"), { recursive: true });
  mkdirSync(join(dir, "uses"), { recursive: true });
  const keys: string[] = [];
  const uses: string[] = [];
  const index: string[] = [];
  for (let i = 0; i < entries; i++) {
    const value = `result ${i}`;
    const digest = sha(value);
    const key = sha(`key ${i}`);
    keys.push(key);
    writeFileSync(join(dir, "blobs", "sha256", digest.slice(0, 2), digest.slice(2)), value);
    const entry = {
      format_version: 1,
      key,
      engine: "dask",
      function: `pipeline.step${i % 50}`,
      digest,
      size: value.length,
      ...(i % 10 === 0 ? { pin: { version: "v1", by: "nbrewind.yaml: pipeline.step0*" } } : {}),
      created_at: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      producer: { bundle: `/work/b${i % 20}.nbrewind`, notebook: `/work/b${i % 20}.ipynb` },
    };
    writeFileSync(join(dir, "tasks", key.slice(0, 2), `${key}.json`), JSON.stringify(entry, null, 2) + "\n");
    index.push(indexLine(entry as TaskCacheEntry, [value.length]));
    if (i % 10 === 1) uses.push(JSON.stringify({ key, at: new Date().toISOString() }));
  }
  writeFileSync(join(dir, "uses", "run-1.jsonl"), uses.join("\n") + "\n");
  writeFileSync(join(dir, INDEX_FILE), index.join(""));
  for (let b = 0; b < 20; b++) {
    // refs of bundles that exist, so gc counts them as live
    const bundle = join(dir, "..", `cache-bench-bundle-${b}`);
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, "manifest.json"), "{}");
    writeFileSync(join(dir, "refs", `${b}.json`), JSON.stringify({ format_version: 1, bundle, notebook: `${bundle}.ipynb`, updated_at: new Date().toISOString(), keys: keys.filter((_, i) => i % 20 === b && i % 7 === 0) }));
  }
  writeFileSync(marker, "");
}

/** Wall and CPU (user + sys) seconds of one run, by bash's \`time\`: on a shared machine the wall time mostly measures the neighbours. */
function time(args: string[]): { wall: number; cpu: number } {
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%R %U %S'; time ${quoted} > /dev/null`], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const [wall, user, sys] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number];
  return { wall, cpu: user + sys };
}

const FLOOR = `
const fs = require("fs"), path = require("path");
let n = 0;
for (const line of fs.readFileSync(path.join(process.argv[1], "index.jsonl"), "utf8").split("\\n")) if (line) { JSON.parse(line); n++; }
`;

mkdirSync(RESULTS, { recursive: true });
generate();
type Run = { wall: number; cpu: number };
const commands: [string, string[]][] = [
  ["cache ls --json", [BIN, "cache", "ls", "--json", "--cache", dir]],
  ["cache gc --dry-run", [BIN, "cache", "gc", "--dry-run", "--max-size", "1", "--json", "--cache", dir]],
  ...(BASELINE
    ? ([
        ["baseline ls --json", [BASELINE, "cache", "ls", "--json", "--cache", dir]],
        ["baseline gc --dry-run", [BASELINE, "cache", "gc", "--dry-run", "--max-size", "1", "--json", "--cache", dir]],
      ] as [string, string[]][])
    : []),
  ["floor (parse the index)", ["-e", FLOOR, dir]],
];
const runs = new Map<string, Run[]>(commands.map(([what]) => [what, []]));
const loads: number[] = [];
for (let r = 0; r < reps; r++) {
  for (const [what, args] of commands) {
    loads.push(loadavg()[0]!);
    runs.get(what)!.push(time(args));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (what: string) => {
  const rs = runs.get(what)!;
  return { wall: median(rs.map((r) => r.wall)), cpu: median(rs.map((r) => r.cpu)), best_wall: Math.min(...rs.map((r) => r.wall)), best_cpu: Math.min(...rs.map((r) => r.cpu)) };
};
const floor = summary("floor (parse the index)");
const ls = summary("cache ls --json");
const gc = summary("cache gc --dry-run");
const load = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
console.log(`\n${entries} entries, ${reps} interleaved runs each, load average (1 min) ${load} during the runs`);
console.log(`  ${"".padEnd(26)} ${"median wall".padStart(11)} ${"cpu".padStart(7)}   ${"best wall".padStart(9)} ${"cpu".padStart(7)}   wall/floor`);
for (const [what] of commands) {
  const t = summary(what);
  console.log(`  ${what.padEnd(26)} ${t.wall.toFixed(2).padStart(9)} s ${t.cpu.toFixed(2).padStart(5)} s   ${t.best_wall.toFixed(2).padStart(7)} s ${t.best_cpu.toFixed(2).padStart(5)} s   ${(t.wall / floor.wall).toFixed(2)} ×`);
}
if (BASELINE) {
  const b = (what: string) => summary(what);
  console.log(`ours against the baseline (median CPU): ls ${(ls.cpu / b("baseline ls --json").cpu).toFixed(2)} ×, gc --dry-run ${(gc.cpu / b("baseline gc --dry-run").cpu).toFixed(2)} ×`);
}
const verdict = (t: Run) => (t.wall <= 2 ? "met" : t.cpu <= 2 ? "not met by wall time, met by CPU time (the machine is busy)" : "NOT met");
console.log(`target ≤ 2 s each (median): ls ${verdict(ls)}; gc --dry-run ${verdict(gc)}`);
writeFileSync(join(RESULTS, "cache-commands.json"), JSON.stringify({ entries, reps, load: loads, runs: Object.fromEntries(runs), ls, gc_dry_run: gc, floor }, null, 2) + "\n");
