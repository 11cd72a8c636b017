import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputText, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { setupSource } from "./parsl-workflow.js";
import { cellOf, TaskCounter } from "./task-counter.js";

/**
 * A pipeline author pins the expensive step of a notebook that drives Dask
 * (threaded scheduler) and Parsl (a thread pool), shares results through a
 * team cache, publishes them, and collects the cache. What ran is counted on
 * the engine side: each task function appends a line to a log as it runs.
 *
 * Layout: ROOT/nbrewind.yaml pins `skim`, with cache.dir ROOT/team-cache;
 * ROOT/{a,b,c,d}/nb.ipynb are four notebooks under it (a is the author's).
 */
const root = tempDir("nbrewind-pins-");
const counter = new TaskCounter(root);
const env = counter.env;
const N = 3;

/** `offset` reaches skim as an argument: a pin stands for the code and the globals it reads, not for its arguments. */
function cells(options: { skimBody?: string; offset?: number } = {}): CellSpec[] {
  return [
    { id: "params", source: `offset = ${options.offset ?? 0}`, tags: ["parameters"] },
    {
      id: "funcs",
      source: [
        ...TaskCounter.preamble,
        "def scale(x):",
        "    return x * 10",
        "def skim(i, base, who):",
        "    note(f'{who} skim')",
        `    ${options.skimBody ?? "return scale(i) + base"}`,
        "def fit(*parts, who):",
        "    note(f'{who} fit')",
        "    return sum(parts)",
      ].join("\n"),
    },
    {
      id: "dask",
      source: ["import dask", `parts = [dask.delayed(skim)(i, offset, 'dask') for i in range(${N})]`, "print('dask', dask.compute(dask.delayed(fit)(*parts, who='dask'), scheduler='threads')[0])"].join("\n"),
    },
    {
      id: "parsl",
      source: [
        "import parsl",
        "from parsl.config import Config",
        "from parsl.executors import ThreadPoolExecutor",
        `parsl.load(Config(executors=[ThreadPoolExecutor(label='threads', max_threads=2)], run_dir=${JSON.stringify(join(root, "runinfo"))}))`,
        "skim_app, fit_app = parsl.python_app(skim), parsl.python_app(fit)",
        `print('parsl', fit_app(*[skim_app(i, offset, 'parsl') for i in range(${N})], who='parsl').result())`,
      ].join("\n"),
    },
  ];
}

const CONFIG = ["# the team's pipeline settings", "pins:", "  - function: skim   # three hours on the full data", "    version: v1", "    keep: true", "cache:", "  dir: ./team-cache", ""].join("\n");
const notebook = (dir: string, spec: CellSpec[]) => {
  mkdirSync(join(root, dir), { recursive: true });
  return writeNotebookFile(join(root, dir), "nb.ipynb", spec);
};
const cli = (args: string[], cwd = root) => runCli(args, { env, cwd });
const skims = (who: string) => Array.from({ length: N }, () => `${who} skim`);

describe("pins and shared task caches (Dask threads + Parsl threads)", () => {
  it("a bad nbrewind.yaml is exit 2 with file:line:col and the expected shape; an unwritable cache.dir fails before any kernel", async () => {
    const dir = tempDir("nbrewind-badconfig-");
    const nb = writeNotebookFile(dir, "nb.ipynb", [{ source: "x = 1" }]);
    writeFileSync(join(dir, "nbrewind.yaml"), "pins:\n  - function: skim\n    version: v1\n    colour: red\n");
    let r = await runCli(["audit", nb, "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, "nbrewind.yaml")}:4:5: unknown key \`colour\` in \`pins[0]\`; expected one of: function, cell, version, keep`);
    expect(r.stderr).toContain("expected shape:");
    writeFileSync(join(dir, "nbrewind.yaml"), "pins:\n  - function: skim\n   version: v1\n");
    r = await runCli(["audit", nb, "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${join(dir, "nbrewind.yaml").replace(/\./g, "\\.")}:3:\\d+: .*not valid YAML`));
    writeFileSync(join(dir, "a-file"), "");
    writeFileSync(join(dir, "nbrewind.yaml"), "cache:\n  dir: ./a-file/cache\n");
    r = await runCli(["audit", nb]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cache.dir ${join(dir, "a-file", "cache")} is not writable (ENOTDIR)`);
    expect(r.stderr).not.toContain("starting kernel");
  });

  it("four concurrent audits share one cache.dir, and cache verify passes afterwards", async () => {
    writeFileSync(join(root, "nbrewind.yaml"), CONFIG);
    const paths = ["a", "b", "c", "d"].map((d, i) => notebook(d, cells({ offset: 100 * i })));
    const runs = await Promise.all(paths.map((p) => cli(["audit", p, "-q"])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const ran = counter.ran();
    counter.reset();
    expect(ran).toEqual([...Array(4).fill([...skims("dask"), ...skims("parsl"), "dask fit", "parsl fit"]).flat()].sort());
    const verify = await cli(["cache", "verify", "--json"]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const checked = JSON.parse(verify.stdout);
    expect(checked).toMatchObject({ ok: true, entries: 4 * 2 * (N + 1), problems: [] });
    const ls = JSON.parse((await cli(["cache", "ls", "--json"])).stdout);
    const skimEntry = ls.entries.find((e: any) => e.function === "__main__.skim");
    expect(skimEntry.pinned).toMatchObject({ version: "v1", keep: true });
    expect(ls.entries.every((e: any) => e.needed_by.length === 1)).toBe(true);
  });

  it("bumping the version with 'cache pin' re-runs every pinned task, the reason naming the pin", async () => {
    const pin = await cli(["cache", "pin", "skim", "--version", "v2"]);
    expect(pin.code, pin.stderr).toBe(0);
    const config = readFileSync(join(root, "nbrewind.yaml"), "utf8");
    expect(config).toContain("# the team's pipeline settings");
    expect(config).toContain("# three hours on the full data");
    expect(config).toMatch(/version: v2/);

    const r = await cli(["repeat", join(root, "a", "nb.ipynb"), "--explain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pin `skim` is at version v2 now; its tasks were recorded at version v1");
    expect(counter.ran()).toEqual([...skims("dask"), ...skims("parsl"), "dask fit", "parsl fit"].sort());
    counter.reset();
  });

  it("cache gc --max-size removes only unpinned results no latest run needs; then editing the pinned function re-runs none of its tasks", async () => {
    const before = JSON.parse((await cli(["cache", "ls", "--json"])).stdout).entries as any[];
    const gc = await cli(["cache", "gc", "--max-size", "1", "--keep-runs", "1", "--json"]);
    expect(gc.code, gc.stderr).toBe(0);
    const report = JSON.parse(gc.stdout);
    // the author's v1 `fit` results: not pinned, and its latest run (v2) no longer needs them
    expect(report.removed.map((e: any) => e.function).sort()).toEqual(["__main__.fit", "__main__.fit"]);
    for (const e of before.filter((e) => report.removed.some((x: any) => x.key === e.key))) {
      expect(e.pinned).toBeNull();
      expect(e.needed_by).toEqual([]);
    }
    const after = JSON.parse((await cli(["cache", "ls", "--json"])).stdout).entries as any[];
    expect(after.length).toBe(before.length - 2);
    expect(report.over_limit).toBe(true);
    expect(report.bundles.find((b: any) => b.bundle === join(root, "a", "nb.nbrewind")).records_removed).toBeGreaterThan(0);

    // the repeat that follows: the edit makes every cell from funcs on run, and every task is served
    const author = notebook("a", cells({ skimBody: "return scale(i) + base + 0  # a faster rewrite" }));
    const r = await cli(["repeat", author, "--explain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(counter.ran()).toEqual([]);
    expect(r.stderr).toContain(`${N} × skim served: pinned at version v2; its code changed since it was recorded (bump the version to recompute)`);
    expect(outputText(cellOf(join(root, "a", "nb.out.ipynb"), "dask"))).toBe(`dask ${10 * (N * (N - 1)) / 2}\n`);
    const record = JSON.parse(readFileSync(join(root, "a", "nb.nbrewind", "cells", `${cellOf(join(root, "a", "nb.out.ipynb"), "dask").metadata.nbrewind.fingerprint}.json`), "utf8"));
    expect(record.tasks.find((t: any) => t.function === "__main__.skim").pin).toMatchObject({ version: "v2", by: "nbrewind.yaml: skim", note: "served: pinned at version v2; its code changed since it was recorded (bump the version to recompute)" });
  });

  it("a consumer elsewhere, with only the cache imported from the author's exported file in cache.read, runs none of the pinned tasks", async () => {
    // The author hands over one file; the consumer imports it into a cache of its own (every digest checked).
    const published = join(root, "published", "skim.tar.gz");
    const exported = await cli(["cache", "export", published, "--json"]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout).entries).toBe(5 * 2 * N); // pinned: v1 of the four notebooks, v2 of the author's; both engines

    const consumer = tempDir("nbrewind-consumer-");
    const imported = join(consumer, "from-author");
    const taken = await runCli(["cache", "import", published, "--cache", imported, "--json"], { env, cwd: consumer });
    expect(taken.code, taken.stderr).toBe(0);
    expect(JSON.parse(taken.stdout)).toMatchObject({ entries: 5 * 2 * N, present: 0, replaced: 0 });
    writeFileSync(join(consumer, "nbrewind.yaml"), `pins:\n  - function: skim\n    version: v2\ncache:\n  read: [${JSON.stringify(imported)}]\n`);
    const nb = writeNotebookFile(consumer, "nb.ipynb", cells({ skimBody: "return scale(i) + base + 0  # a faster rewrite" }));
    const r = await runCli(["audit", nb, "-q"], { env, cwd: consumer });
    expect(r.code, r.stderr).toBe(0);
    expect(counter.ran()).toEqual(["dask fit", "parsl fit"]);
    counter.reset();
    const verify = await runCli(["verify", nb]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0); // what it was served was copied into its bundle
  });
  it("Parsl HTEX: editing a pinned app's body dispatches none of its tasks to the worker processes", async () => {
    // A folder of its own with its own nbrewind.yaml (the nearest wins), results in the bundle: runs alone too.
    // HTEX workers do not see the notebook's globals: the counter's path is a default argument.
    const dir = join(root, "htex");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "nbrewind.yaml"), "pins:\n  - function: skim\n    version: v1\n");
    const spec = (body: string): CellSpec[] => [
      { id: "setup", source: setupSource("htex", join(dir, "runinfo")) },
      { id: "apps", source: [`LOG = ${JSON.stringify(counter.logFile)}`, "@parsl.python_app", "def skim(i, log=LOG):", "    with open(log, 'a') as f:", "        f.write('htex skim\\n')", `    ${body}`].join("\n") },
      { id: "run", source: `print('htex', sum(f.result() for f in [skim(i) for i in range(${N})]))` },
    ];
    const nb = writeNotebookFile(dir, "nb.ipynb", spec("return i * 10"));
    counter.reset();
    const audit = await runCli(["audit", nb, "-q"], { env, cwd: dir });
    expect(audit.code, audit.stderr).toBe(0);
    expect(counter.ran()).toEqual(skims("htex"));
    counter.reset();
    // A real change of its code (a comment alone leaves a function's identity, and so its key, as it was: no pin needed).
    writeNotebookFile(dir, "nb.ipynb", spec("return 10 * i  # a rewrite that keeps the meaning"));
    const r = await runCli(["repeat", nb, "--explain"], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(counter.ran()).toEqual([]);
    expect(r.stderr).toContain(`tasks: ${N} submitted, ${N} served from the bundle, 0 dispatched to the engine`);
    expect(r.stderr).toContain(`${N} × skim served: pinned at version v1; its code changed since it was recorded (bump the version to recompute)`);
    expect(outputText(cellOf(join(dir, "nb.out.ipynb"), "run"))).toBe(`htex ${10 * (N * (N - 1)) / 2}\n`);
  });
});
