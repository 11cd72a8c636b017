/**
 * npm run bench:corpus [-- --corpus DIR] [--only NAME[,NAME]] [--keep]
 *
 * Issue 9's corpus: public tutorial notebooks that drive Dask, Parsl and
 * Ray, taken through what a user does in the first hour. For each notebook
 * (notebooks.ts): export it from its git mirror into a temporary folder,
 * apply the listed changes that make it run here (no internet, 2 cores),
 * then
 *
 *   audit -> the scripted edit -> repeat -> pack + replay --check
 *
 * and, in a clean copy of the edited notebook's folder, a plain `run`: the
 * baseline for time and the reference for results. It reports per notebook
 * whether each step passed, the cells reused and run, the tasks served and
 * dispatched, the repeat's time against the plain run, and whether the
 * repeat's outputs equal the plain run's (compare.ts says what is masked).
 *
 * The corpus folder (`--corpus DIR`, else $NBREWIND_CORPUS, else
 * /work/.mirror) holds one bare-ish git mirror per repository, as
 * `<owner>+<name>/repo`; a notebook whose mirror is absent is skipped, and
 * the report says so. Nothing of the notebooks is kept in this repository.
 * It asserts nothing; the exit code is 0 unless the runner itself fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Notebook } from "../../src/notebook/types.js";
import { buildCli, cleanEnv, printTable, runTimed, writeResults, type Timed } from "../lib/harness.js";
import { compareResults, MASKS, type Difference, type ExtraMask } from "./compare.js";
import { CORPUS, type CorpusNotebook, type FileChange, type MoreEdit, type SourceChange } from "./notebooks.js";
import { writeGeneratedData } from "./generated-data.js";

interface StepResult {
  ok: boolean;
  seconds: number;
  /** What went wrong, in a line or two: the cell's error, or the CLI's last words. */
  failure?: string;
}

interface RepeatCounts {
  reused: number;
  ran: number;
  restored: number;
  tasks: { total: number; served: number; dispatched: number };
}

/** One of a notebook's further edits (notebooks.ts, MoreEdit): its repeat against a fresh run. */
interface MoreResult {
  why: string;
  steps: Record<string, StepResult>;
  repeat?: RepeatCounts;
  equalFresh?: { equal: boolean; differences: Difference[] };
}

interface NotebookResult {
  name: string;
  status: "pass" | "fail" | "skipped";
  why?: string;
  changes: string[];
  edit: string;
  steps: Record<string, StepResult>;
  repeat?: RepeatCounts;
  more?: MoreResult[];
  /** Repeat wall time over the plain run's. */
  ratio?: number;
  replay?: { matched: boolean; differences: number; first?: string };
  equalFresh?: { equal: boolean; differences: Difference[] };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const corpusDir = argValue("corpus") ?? process.env.NBREWIND_CORPUS ?? "/work/.mirror";
const only = argValue("only")?.split(",").map((s) => s.trim());
const keep = process.argv.includes("--keep");

function cellSource(cell: { source: string | string[] }): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** The one code cell a snippet identifies; throws with a clear message otherwise. */
function findCell(nb: Notebook, snippet: string, path: string): number {
  // `^source$`: the cell whose whole source is that (as in randomCells).
  const exact = snippet.length > 1 && snippet.startsWith("^") && snippet.endsWith("$") ? snippet.slice(1, -1) : undefined;
  const matches = (source: string) => (exact !== undefined ? source.trim() === exact : source.includes(snippet));
  const hits = nb.cells.map((c, i) => [c, i] as const).filter(([c]) => c.cell_type === "code" && matches(cellSource(c)));
  if (hits.length !== 1) throw new Error(`${path}: the snippet ${JSON.stringify(snippet)} is in ${hits.length} code cells, expected exactly 1 (has the notebook changed upstream?)`);
  return hits[0]![1];
}

/** Apply one change to the notebook's JSON; throws with a clear message when its snippet does not identify one cell. */
function applyChange(nb: Notebook, change: SourceChange, path: string): void {
  const index = findCell(nb, change.cell, path);
  const cell = nb.cells[index]!;
  if (change.truncate) {
    nb.cells.splice(index);
    return;
  }
  if (change.moveAfter !== undefined) {
    nb.cells.splice(index, 1);
    nb.cells.splice(findCell(nb, change.moveAfter, path) + 1, 0, cell);
    return;
  }
  if (change.insertAfter !== undefined) {
    nb.cells.splice(index + 1, 0, { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: change.insertAfter } as unknown as Notebook["cells"][number]);
    return;
  }
  if (change.from === undefined) {
    nb.cells.splice(index, 1);
    return;
  }
  const source = cellSource(cell);
  if (!source.includes(change.from)) throw new Error(`${path}: ${JSON.stringify(change.from)} is not in the cell identified by ${JSON.stringify(change.cell)}`);
  cell.source = source.replace(change.from, change.to ?? "");
}

/** Apply a data-file edit beside the notebook; throws when the text to replace is not there. */
function editFile(notebookDir: string, change: FileChange): void {
  const file = join(notebookDir, change.path);
  const text = readFileSync(file, "utf8");
  if (!text.includes(change.from)) throw new Error(`${file}: ${JSON.stringify(change.from)} is not in it (has the generated data changed?)`);
  writeFileSync(file, text.replace(change.from, change.to));
}

function editNotebook(file: string, changes: SourceChange[]): void {
  const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
  for (const change of changes) applyChange(nb, change, file);
  writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
}

/** Export the notebook and what it reads from the mirror's HEAD into `dir`. */
function exportFiles(repo: string, entry: CorpusNotebook, dir: string): void {
  const paths = [entry.path, ...entry.support];
  const tar = spawnSync("sh", ["-c", `git -C '${repo}' archive HEAD ${paths.map((p) => `'${p}'`).join(" ")} | tar -x -C '${dir}'`], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`cannot export ${paths.join(", ")} from ${repo}: ${tar.stderr.trim()}`);
  // git archive keeps the executable bit; make sure (the Parsl apps are shell scripts).
  for (const p of entry.support) {
    const full = join(dir, p);
    if (existsSync(full) && statSync(full).isDirectory() && p.endsWith("app")) for (const f of execFileSync("ls", [full], { encoding: "utf8" }).split("\n").filter(Boolean)) chmodSync(join(full, f), 0o755);
  }
  if (entry.generate) writeGeneratedData(entry.generate, join(dir, dirname(entry.path)));
}

/** The first error a notebook shows, as "cell N: Name: message", or undefined. */
function firstError(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
  let n = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    n++;
    for (const o of cell.outputs as unknown as Record<string, unknown>[]) {
      if (o.output_type === "error") return `cell ${n}: ${String(o.ename)}: ${String(o.evalue).slice(0, 300)}`;
    }
  }
  return undefined;
}

/** What a repeat's --json summary counted, if it printed one. */
function repeatCounts(repeat: Timed): RepeatCounts | undefined {
  try {
    const summary = JSON.parse(repeat.stdout.slice(repeat.stdout.indexOf("{"))) as { counts?: { reused: number; run: number; restored_values: number; tasks?: { total: number; served: number; dispatched: number } } };
    const c = summary.counts;
    return c ? { reused: c.reused, ran: c.run, restored: c.restored_values, tasks: { total: c.tasks?.total ?? 0, served: c.tasks?.served ?? 0, dispatched: c.tasks?.dispatched ?? 0 } } : undefined;
  } catch {
    return undefined; // no summary: the failure says why
  }
}

/** The repeat's outputs against the plain run's, with the folders each ran in (and the notebook's own masks) masked. */
function compareFresh(entry: CorpusNotebook, freshOut: string, repeatOut: string, folders: string[]): { equal: boolean; differences: Difference[] } {
  const expected = JSON.parse(readFileSync(freshOut, "utf8")) as Notebook;
  const got = JSON.parse(readFileSync(repeatOut, "utf8")) as Notebook;
  const escape = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g");
  // Longest first: a folder's copies (`X.fresh`) are masked whole, not as X followed by `.fresh`.
  const paths = [...folders].sort((a, b) => b.length - a.length);
  const extra: ExtraMask[] = [...paths.map((f): ExtraMask => [escape(f), "<folder>"]), ...(entry.varies ?? []).map((v): ExtraMask => [v.pattern, v.replacement])];
  const differences = compareResults(expected, got, entry.randomCells, extra);
  return { equal: differences.length === 0, differences };
}

/**
 * One further edit: the audited folder is put back at the audit's own path
 * (`dir`), edited and repeated, as a user repeats where they audited; a copy
 * of the folder as it was before the audit is edited the same way and run
 * plainly, and the two are compared. At another path the comparison would
 * not hold: a value restored from the audit may hold the audit folder's
 * absolute paths (a bag from `read_text('data/*.json')` does), and its tasks
 * then read the files there. With --keep, the edited folder is kept as
 * `keepAs`.
 */
async function tryMore(entry: CorpusNotebook, more: MoreEdit, dir: string, keepAs: string, audited: string, pristine: string, cli: (args: string[], dir: string) => Promise<Timed>): Promise<MoreResult> {
  const result: MoreResult = { why: more.why, steps: {} };
  const freshDir = `${keepAs}.fresh`;
  rmSync(dir, { recursive: true, force: true });
  cpSync(audited, dir, { recursive: true });
  cpSync(pristine, freshDir, { recursive: true });
  for (const d of [dir, freshDir]) {
    editNotebook(join(d, entry.path), more.changes);
    for (const f of more.files ?? []) editFile(dirname(join(d, entry.path)), f);
  }
  const nb = join(dir, entry.path);
  const repeatOut = join(dir, "repeated.ipynb");
  const repeat = await cli(["repeat", nb, "-o", repeatOut, "--json", "--explain"], dirname(nb));
  writeFileSync(join(dir, "repeat.log"), repeat.stderr);
  result.steps.repeat = step(repeat, repeatOut);
  const counts = repeatCounts(repeat);
  if (counts) result.repeat = counts;
  const freshNb = join(freshDir, entry.path);
  const freshOut = join(freshDir, "fresh.ipynb");
  const plain = await cli(["run", freshNb, "-o", freshOut, "-q"], dirname(freshNb));
  result.steps.fresh = step(plain, freshOut);
  if (repeat.code === 0 && plain.code === 0) result.equalFresh = compareFresh(entry, freshOut, repeatOut, [dir, freshDir]);
  if (keep) cpSync(dir, keepAs, { recursive: true });
  return result;
}

function step(r: Timed, output?: string): StepResult {
  const ok = r.code === 0;
  const tail = r.stderr.trim().split("\n").slice(-3).join(" | ");
  return { ok, seconds: r.wallMs / 1000, ...(ok ? {} : { failure: (output && firstError(output)) ?? `exit ${r.code}: ${tail}` }) };
}

async function runOne(entry: CorpusNotebook, cliEntry: string, root: string): Promise<NotebookResult> {
  const result: NotebookResult = { name: entry.name, status: "fail", changes: entry.changes.map((c) => c.why), edit: entry.edit.why, steps: {} };
  const repo = join(corpusDir, entry.mirror, "repo");
  if (!existsSync(repo)) return { ...result, status: "skipped", why: `no mirror at ${repo}` };
  const work = join(root, entry.name.replace(/[^A-Za-z0-9_-]+/g, "_"));
  const fresh = work + ".fresh";
  mkdirSync(work, { recursive: true });
  exportFiles(repo, entry, work);
  const nb = join(work, entry.path);
  editNotebook(nb, entry.changes);
  // The clean copy for the plain run, taken before anything ran in `work`.
  cpSync(work, fresh, { recursive: true });
  const pristine = `${work}.pristine`;
  if (entry.more?.length) cpSync(work, pristine, { recursive: true });
  const freshNb = join(fresh, entry.path);
  editNotebook(freshNb, [entry.edit]);

  // Ray started by a notebook is its own: without this, ray.init() joins any Ray cluster already
  // running on the machine (another user's), and times out or fails when that one is busy.
  const env = { ...cleanEnv(), RAY_ADDRESS: "local" };
  const cwd = dirname(nb);
  const cli = (args: string[], dir = cwd) => runTimed(process.execPath, [cliEntry, ...args], env, dir);
  const out = (name: string) => join(work, `${name}.ipynb`);

  const audit = await cli(["audit", nb, "-o", out("audited"), "--json", "-q"]);
  result.steps.audit = step(audit, out("audited"));
  const audited = `${work}.audited`;
  if (entry.more?.length) cpSync(work, audited, { recursive: true });
  editNotebook(nb, [entry.edit]);
  const repeat = await cli(["repeat", nb, "-o", out("repeated"), "--json", "--explain"]);
  result.steps.repeat = step(repeat, out("repeated"));
  const counts = repeatCounts(repeat);
  if (counts) result.repeat = counts;
  writeFileSync(join(work, "repeat.log"), repeat.stderr);

  if (repeat.code === 0) {
    const archive = join(work, "packed.nbrewind.tgz");
    // With the data files it read: a replay elsewhere needs its inputs (without them it lists them and the cells reading them fail).
    const pack = await cli(["pack", nb, "-o", archive, "--inputs", "-q"]);
    result.steps.pack = step(pack);
    if (pack.code === 0) {
      const replayDir = join(work, "replay");
      const replay = await cli(["replay", archive, "--check", "-C", replayDir, "--json", "-q"]);
      result.steps.replay = step(replay);
      try {
        const s = JSON.parse(replay.stdout) as { outputs: { matched: boolean; differences: { cell_index: number; what: string; expected: string; got: string }[] } };
        const d = s.outputs.differences[0];
        result.replay = { matched: s.outputs.matched, differences: s.outputs.differences.length, ...(d ? { first: `cell index ${d.cell_index}, ${d.what}: expected ${JSON.stringify(d.expected.slice(0, 120))}, got ${JSON.stringify(d.got.slice(0, 120))}` } : {}) };
      } catch {
        /* the step's failure says why */
      }
    }
  }

  const plain = await cli(["run", freshNb, "-o", join(fresh, "fresh.ipynb"), "-q"], dirname(freshNb));
  result.steps.fresh = step(plain, join(fresh, "fresh.ipynb"));
  if (result.steps.repeat.ok && plain.code === 0) {
    result.ratio = repeat.wallMs / plain.wallMs;
    // The plain run ran in its own folder: its paths are not a difference.
    result.equalFresh = compareFresh(entry, join(fresh, "fresh.ipynb"), out("repeated"), [fresh, work]);
  }
  if (entry.more?.length && audit.code === 0) {
    result.more = [];
    // The main edit's folder is kept as `<work>.main`: each further edit starts again at `work`.
    if (keep) cpSync(work, `${work}.main`, { recursive: true });
    for (const [i, more] of entry.more.entries()) result.more.push(await tryMore(entry, more, work, `${work}.more${i + 1}`, audited, pristine, cli));
  }
  const allOk = Object.values(result.steps).every((s) => s.ok);
  const moreOk = (result.more ?? []).every((m) => Object.values(m.steps).every((s) => s.ok) && m.equalFresh?.equal);
  result.status = allOk && moreOk && result.replay?.matched && result.equalFresh?.equal ? "pass" : "fail";
  return result;
}

function describeMore(m: MoreResult, i: number): string[] {
  const rp = m.repeat;
  const verdict = m.equalFresh ? (m.equalFresh.equal ? "= fresh: yes" : `= fresh: NO, ${m.equalFresh.differences.length} difference(s)`) : "= fresh: not compared";
  const lines = [`  more ${i + 1}: ${m.why}`, `    ${rp ? `${rp.reused} cell(s) reused, ${rp.ran} ran; tasks ${rp.tasks.served} served, ${rp.tasks.dispatched} dispatched; ` : ""}${verdict}`];
  for (const [name, s] of Object.entries(m.steps)) if (!s.ok) lines.push(`    ${name} failed: ${s.failure}`);
  for (const d of m.equalFresh?.differences.slice(0, 3) ?? []) lines.push(`      cell ${d.cell} ${d.what}: fresh ${JSON.stringify(d.expected.slice(0, 100))}, repeat ${JSON.stringify(d.got.slice(0, 100))}`);
  return lines;
}

function describe(r: NotebookResult): string[] {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(r.steps)) if (!s.ok) lines.push(`    ${name} failed: ${s.failure}`);
  if (r.replay && !r.replay.matched) lines.push(`    replay --check: ${r.replay.differences} difference(s); first: ${r.replay.first}`);
  if (r.equalFresh && !r.equalFresh.equal) {
    lines.push(`    repeat differs from a fresh run in ${r.equalFresh.differences.length} output part(s):`);
    for (const d of r.equalFresh.differences.slice(0, 3)) lines.push(`      cell ${d.cell} ${d.what}: fresh ${JSON.stringify(d.expected.slice(0, 100))}, repeat ${JSON.stringify(d.got.slice(0, 100))}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const entries = CORPUS.filter((e) => !only || only.some((o) => e.name.includes(o)));
  if (entries.length === 0) throw new Error(`--only ${only?.join(",")}: no notebook of the corpus matches (${CORPUS.map((e) => e.name).join(", ")})`);
  const cli = buildCli(".corpus-build");
  const root = mkdtempSync(join(tmpdir(), "nbrewind-corpus-"));
  console.log(`corpus: ${entries.length} notebook(s) from ${corpusDir}; nbrewind-engine built from ${cli.source}; work folder ${root}`);
  console.log(`  machine load (1/5/15 min) at start: ${loadavg().map((x) => x.toFixed(2)).join(" / ")}`);
  console.log(`  outputs compared with a fresh run, masking: ${MASKS.join("; ")}`);
  const results: NotebookResult[] = [];
  for (const entry of entries) {
    console.log(`\n${entry.name}`);
    for (const c of entry.changes) console.log(`  change: ${c.why}`);
    console.log(`  edit:   ${entry.edit.why}`);
    for (const m of entry.more ?? []) console.log(`  more:   ${m.why}`);
    for (const v of entry.varies ?? []) console.log(`  masked: ${v.why}`);
    let r: NotebookResult;
    try {
      r = await runOne(entry, cli.entry, root);
    } catch (err) {
      r = { name: entry.name, status: "skipped", why: (err as Error).message, changes: [], edit: entry.edit.why, steps: {} };
    }
    results.push(r);
    if (r.status === "skipped") console.log(`  SKIPPED: ${r.why}`);
    else {
      const rp = r.repeat;
      console.log(`  ${r.status.toUpperCase()}: ${Object.entries(r.steps).map(([n, s]) => `${n} ${s.ok ? "ok" : "FAILED"} ${s.seconds.toFixed(1)} s`).join(", ")}`);
      if (rp) console.log(`  repeat: ${rp.reused} cell(s) reused, ${rp.ran} ran, ${rp.restored} value(s) restored; tasks ${rp.tasks.served} served, ${rp.tasks.dispatched} dispatched${r.ratio ? `; ${r.ratio.toFixed(2)} x the plain run` : ""}`);
      for (const line of describe(r)) console.log(line);
      for (const [i, m] of (r.more ?? []).entries()) for (const line of describeMore(m, i)) console.log(line);
    }
  }
  console.log("\nsummary");
  const rows = [["notebook", "result", "reused/ran", "served/dispatched", "repeat/run", "replay", "= fresh", "more edits = fresh"]];
  for (const r of results) {
    rows.push([
      r.name,
      r.status,
      r.repeat ? `${r.repeat.reused}/${r.repeat.ran}` : "-",
      r.repeat ? `${r.repeat.tasks.served}/${r.repeat.tasks.dispatched}` : "-",
      r.ratio ? r.ratio.toFixed(2) : "-",
      r.replay ? (r.replay.matched ? "match" : `${r.replay.differences} diff`) : "-",
      r.equalFresh ? (r.equalFresh.equal ? "yes" : `${r.equalFresh.differences.length} diff`) : "-",
      r.more ? `${r.more.filter((m) => m.equalFresh?.equal).length} of ${r.more.length}` : "-",
    ]);
  }
  printTable(rows);
  console.log(`\n  ${results.filter((r) => r.status === "pass").length} of ${results.length} passed; machine load at end: ${loadavg().map((x) => x.toFixed(2)).join(" / ")}`);
  console.log(`  results: ${writeResults("corpus.json", results)}`);
  if (keep) console.log(`  work folder kept: ${root}`);
  else rmSync(root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(`bench:corpus: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
