/**
 * What the end-to-end benchmarks share: command-line options, timing a child
 * process as a user waits for it, building the CLI privately, medians and
 * number formats, and the table printer. Benchmarks measure and report; none
 * of this asserts anything.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BENCH = join(ROOT, "bench");
export const RESULTS = join(BENCH, "results");
/** The kernelspec every bench runs on: the managed env's own. */
export const KERNEL = "python3";

/** `--name N` from argv: a positive integer, else the fallback. */
export function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i > 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

// ---------------------------------------------------------------- notebooks

/** Write an nbformat 4.5 notebook of code cells with these sources, ids cell-001, cell-002, ... */
export function writeCodeNotebook(path: string, sources: string[]): void {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: KERNEL, display_name: "Python 3", language: "python" },
      language_info: { name: "python" },
    },
    cells: sources.map((source, i) => ({
      id: `cell-${String(i + 1).padStart(3, "0")}`,
      cell_type: "code",
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  writeFileSync(path, JSON.stringify(nb, null, 1) + "\n");
}

// ---------------------------------------------------------------- processes

export interface Timed {
  wallMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Each stderr line with the time it arrived, relative to spawn. */
  lines: { ms: number; text: string }[];
  /** With `cpu`: user + system CPU time of the process and every descendant it waited for (server, kernel). */
  cpuMs?: number;
}

/**
 * Run a process to completion; wall time is spawn to exit, as a shell's `time` sees it.
 * With `cpu`, the command runs under `sh`, whose POSIX `times` then reports
 * the CPU its children used: a figure that other people's load on a shared
 * machine barely moves, unlike wall time.
 */
export function runTimed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, options: { cpu?: boolean } = {}): Promise<Timed> {
  const timesFile = options.cpu ? join(mkdtempSync(join(tmpdir(), "nbrewind-bench-times-")), "times") : undefined;
  const [file, argv] = timesFile ? ["sh", ["-c", 'f=$1; shift; "$@"; s=$?; times > "$f"; exit $s', "sh", timesFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(file, argv, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const lines: { ms: number; text: string }[] = [];
    let err = "";
    let partial = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      const ms = performance.now() - start;
      const text = c.toString("utf8");
      err += text;
      const parts = (partial + text).split(/\r?\n|\r/);
      partial = parts.pop() ?? "";
      for (const p of parts) if (p.trim()) lines.push({ ms, text: p });
    });
    child.once("error", reject);
    child.once("close", (code) => {
      const wallMs = performance.now() - start;
      const timed: Timed = { wallMs, code, stdout: Buffer.concat(out).toString("utf8"), stderr: err, lines };
      if (timesFile) {
        timed.cpuMs = childrenCpuMs(timesFile);
        rmSync(dirname(timesFile), { recursive: true, force: true });
      }
      resolve(timed);
    });
  });
}

/** `times` prints two lines, the shell's own user/system time and its children's: "0m10.650s 0m1.480s". */
function childrenCpuMs(timesFile: string): number | undefined {
  const line = (existsSync(timesFile) ? readFileSync(timesFile, "utf8") : "").trim().split("\n")[1] ?? "";
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => (Number(m[1]) * 60 + Number(m[2])) * 1000);
  return parts.length === 2 ? parts[0]! + parts[1]! : undefined;
}

export function check(what: string, r: Timed): Timed {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stderr.split("\n").slice(-15).join("\n")}`);
  return r;
}

/** The environment for the CLI under test: a caller's server settings would send our runs elsewhere. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.JUPYTER_SERVER_URL;
  delete env.JUPYTER_TOKEN;
  return env;
}

/**
 * Split one run's wall time at the first stderr line matching each mark, in
 * order; whatever follows the last mark up to exit is `rest`.
 */
export function phases(run: Timed, marks: [string, RegExp][], rest: string): [string, number][] {
  const out: [string, number][] = [];
  let last = 0;
  for (const [name, re] of marks) {
    const hit = run.lines.find((l) => l.ms >= last && re.test(l.text));
    if (!hit) return [["total (marks not found in stderr)", run.wallMs]];
    out.push([name, hit.ms - last]);
    last = hit.ms;
  }
  out.push([rest, run.wallMs - last]);
  return out;
}

// ---------------------------------------------------------------- stats and formats

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const ms = (x: number) => `${x.toFixed(1)} ms`;
export const signed = (x: number) => `${x >= 0 ? "+" : ""}${ms(x)}`;
export const sec = (x: number) => `${(x / 1000).toFixed(2)} s`;

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const r of rows) console.log("  " + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

export function writeResults(file: string, results: unknown): string {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, file);
  writeFileSync(path, JSON.stringify(results, null, 2) + "\n");
  return path;
}

// ---------------------------------------------------------------- build

/**
 * Compile the CLI into a private folder under bench/results/ (gitignored)
 * rather than dist/: others may be running dist/ or editing src/ while we
 * measure. bin/nbrewind-engine.js only imports dist/cli/entry.js, so running
 * entry.js directly is the same program. When the working tree does not
 * type-check (someone's change in flight), measure the last commit instead,
 * and say so. `folder` is per benchmark, so two benches can run at once
 * without deleting each other's build.
 */
export function buildCli(folder = ".build"): { entry: string; source: string } {
  const base = join(RESULTS, folder);
  rmSync(base, { recursive: true, force: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const worktreeOut = join(base, "worktree");
  const wt = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", worktreeOut], { cwd: ROOT, encoding: "utf8" });
  if (wt.status === 0) return { entry: join(worktreeOut, "cli", "entry.js"), source: "the working tree" };

  const errors = wt.stdout.split("\n").filter((l) => l.includes("error TS"));
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
  console.error(`  warning: the working tree does not type-check (${errors.length} errors, e.g. ${errors[0] ?? "?"}); measuring HEAD ${head} instead`);
  const built = buildRef("HEAD", join(base, "head"));
  return { entry: built.entry, source: `HEAD ${head} (the working tree did not type-check)` };
}

/**
 * Compile the CLI of a git ref (a baseline to measure against in the same
 * run) into `dir`, inside the repository, so node_modules and package.json
 * (packageRoot: the Python shim) resolve as they do for dist/.
 */
export function buildRef(ref: string, dir: string): { entry: string; source: string } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const commit = spawnSync("git", ["rev-parse", "--short", ref], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
  if (!commit) throw new Error(`no such git ref: ${ref}`);
  const archive = spawnSync("sh", ["-c", `git archive '${commit}' src | tar -x -C '${dir}'`], { cwd: ROOT, encoding: "utf8" });
  if (archive.status !== 0) throw new Error(`git archive ${ref} src failed: ${archive.stderr}`);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: join(ROOT, "tsconfig.json"), compilerOptions: { rootDir: "src", outDir: "out" }, include: ["src/**/*.ts"] }));
  const built = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { cwd: dir, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`${ref} (${commit}) does not build:\n${built.stdout}`);
  return { entry: join(dir, "out", "cli", "entry.js"), source: `${ref} (${commit})` };
}
