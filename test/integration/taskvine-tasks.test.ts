import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { recordsOf, TaskCounter } from "./task-counter.js";
import { localWorker, taskVineEnv } from "./taskvine-env.js";

/**
 * The seed's map-combine-reduce on a real TaskVine manager with a local
 * vine_worker (started by the notebook, as a user would): CSV inputs declared
 * as vine.File inputs, a PythonTask given an environment variable, 4 shell
 * Tasks declaring an input and an output file, then FunctionCalls in a library:
 * 160 maps, 30 calling a helper, 4 combines and the reduce (200 tasks), and a
 * later cell writing a summary file. What ran is
 * counted by the tasks themselves: each appends its name to a file from the
 * worker process that runs it (the shell tasks with `echo >>`).
 *
 * The same notebook also runs two Parsl apps on Parsl's TaskVineExecutor (a
 * second manager, in Parsl's own process, with its own local vine_worker).
 *
 * One notebook, four runs: audit; a parameter edit; a helper edit, a one-byte
 * input change, another environment variable and a deleted shell output at
 * once (each invalidates tasks of its own, named apart); then pack and replay
 * in another folder, where every task is served.
 */

let env: Record<string, string> = {};
beforeAll(() => {
  env = taskVineEnv();
}, 900_000);

const FILES = 4;
const ROWS = 40;
const BUMPS = 30;
const TOTAL_TASKS = FILES * ROWS + BUMPS + FILES + 1 + FILES + 1;

interface Params {
  /** Weighs map rows 0 and 20 of every file. */
  factor: number;
  /** The helper that every `bump` FunctionCall calls: `return x + step`. */
  step: number;
  /** The CSV file whose last row holds one byte more (-1: none). */
  which: number;
  /** The environment variable the `env` task is given (set_env_var), which it returns. */
  mark: string;
}

function cells(p: Params): CellSpec[] {
  return [
    { id: "params", source: `factor = ${p.factor}\nrun_tag = 'first'`, tags: ["parameters"] },
    { id: "counter", source: TaskCounter.preamble.join("\n") },
    { id: "helper", source: `def helper(x):\n    return x + ${p.step}` },
    {
      id: "setup",
      source: [
        "import ndcctools.taskvine as vine",
        "m = vine.Manager(port=0)",
        ...localWorker,
        "",
        "def mapper(part, row, weight):",
        "    import csv",
        "    note(f'map{part}.{row}')",
        "    with open('data.csv') as f:",
        "        rows = list(csv.reader(f))",
        "    return sum(int(v) for v in rows[row]) * weight",
        "",
        "def bump(i):",
        "    note(f'bump{i}')",
        "    return helper(i)",
        "",
        "def combine(part, values):",
        "    note(f'combine{part}')",
        "    return sum(values)",
        "",
        "def reduce_all(parts, bumps):",
        "    note('reduce')",
        "    return sum(parts) + sum(bumps)",
        "",
        "# add_env=False: the library runs in the worker's Python, nothing is packed",
        "lib = m.create_library_from_functions('lib', mapper, bump, combine, reduce_all, add_env=False, exec_mode='direct')",
        "lib.set_cores(1)",
        "m.install_library(lib)",
      ].join("\n"),
    },
    {
      id: "inputs",
      source: [
        `for F in range(${FILES}):`,
        "    with open(f'part{F}.csv', 'w') as f:",
        `        for r in range(${ROWS}):`,
        `            f.write(f'{F},{r},1' + ('7' if (F, r) == (${p.which}, ${ROWS - 1}) else '') + '\\n')`,
      ].join("\n"),
    },
    {
      id: "run",
      source: [
        "tags = {'run': run_tag}  # read, but no task depends on it",
        "",
        "def marked():",
        "    import os",
        "    note('env')",
        "    return os.environ['MARK']",
        "",
        "def run_all(tasks):",
        "    for t in tasks:",
        "        m.submit(t)",
        "    out = {}",
        "    while not m.empty():",
        "        t = m.wait(5)",
        "        if t:",
        "            assert t.successful(), (t.tag, t.result, t.std_output)",
        "            out[t.tag] = t.output",
        "    return out",
        "",
        "def call(tag, fn, *args, inputs=()):",
        "    t = vine.FunctionCall('lib', fn, *args)",
        "    t.set_tag(tag)",
        "    for f, name in inputs:",
        "        t.add_input(f, name)",
        "    return t",
        "",
        "def py(tag, fn, *args):",
        "    t = vine.PythonTask(fn, *args)",
        "    t.set_cores(1)",
        "    t.set_tag(tag)",
        "    return t",
        "",
        `parts = {F: m.declare_file(os.path.abspath(f'part{F}.csv')) for F in range(${FILES})}`,
        "# Tasks that are not FunctionCalls first: committing one makes the manager kill the idle",
        "# library instances, and a library that did not die has been seen to hold the worker forever.",
        "e = py('env', marked)",
        `e.set_env_var('MARK', ${JSON.stringify(p.mark)})`,
        "mark = run_all([e])['env']",
        "shells = []",
        `for F in range(${FILES}):`,
        "    t = vine.Task(f'echo shell{F} >> {COUNTER}; wc -l < data.csv > lines.txt; echo counted {F}')",
        "    t.set_cores(1)",
        "    t.set_tag(f'shell{F}')",
        "    t.add_input(parts[F], 'data.csv')",
        "    t.add_output(m.declare_file(os.path.abspath(f'lines{F}.txt')), 'lines.txt')",
        "    shells.append(t)",
        "said = run_all(shells)",
        `maps = run_all([call(f'map{F}.{r}', 'mapper', F, r, factor if r % 20 == 0 else 1, inputs=[(parts[F], 'data.csv')]) for F in range(${FILES}) for r in range(${ROWS})])`,
        `bumps = run_all([call(f'bump{i}', 'bump', i) for i in range(${BUMPS})])`,
        `combined = run_all([call(f'combine{F}', 'combine', F, [maps[f'map{F}.{r}'] for r in range(${ROWS})]) for F in range(${FILES})])`,
        `result = run_all([call('reduce', 'reduce_all', [combined[f'combine{F}'] for F in range(${FILES})], [bumps[f'bump{i}'] for i in range(${BUMPS})])])['reduce']`,
        "print('total', result)",
        "print('mark', mark)",
        `print('said', ' '.join(said[f'shell{F}'].strip() for F in range(${FILES})))`,
      ].join("\n"),
    },
    {
      id: "summary",
      source: [
        `lines = sum(int(open(f'lines{F}.txt').read()) for F in range(${FILES}))`,
        "with open('summary.csv', 'w') as f:",
        "    f.write(f'total,{result}\\nmark,{mark}\\nlines,{lines}\\n')",
        "print(open('summary.csv').read())",
      ].join("\n"),
    },
    {
      id: "parsl-setup",
      source: [
        "import socket, subprocess, sys",
        "import parsl",
        "from parsl.config import Config",
        "from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig",
        "with socket.socket() as s:",
        "    s.bind(('127.0.0.1', 0))",
        "    vine_port = s.getsockname()[1]",
        "# a shared filesystem and no env_pack/app_pack: nothing is packaged (no poncho); the worker is",
        "# given the manager's address (there is no catalog server to find it by name)",
        "dfk = parsl.load(Config(executors=[TaskVineExecutor(label='vine', worker_launch_method='manual', manager_config=TaskVineManagerConfig(port=vine_port, address='127.0.0.1', shared_fs=True))]))",
        "parsl_worker = subprocess.Popen(['vine_worker', '--single-shot', '--cores', '2', '-t', '60', '127.0.0.1', str(vine_port)], env=dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH']), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
      ].join("\n"),
    },
    {
      id: "parsl-run",
      source: [
        "@parsl.python_app",
        "def square(x):",
        "    import os  # Parsl ships the function by reference to its code, not its globals: no note() there",
        "    with open(os.environ['NBREWIND_TEST_TASKLOG'], 'a') as f:",
        "        f.write(f'parsl{x}\\n')",
        "    return x * x",
        "",
        "futures = [square(factor), square(3)]",
        "print('parsl', [f.result() for f in futures])",
      ].join("\n"),
    },
  ];
}

function total(p: Params): number {
  let sum = 0;
  for (let F = 0; F < FILES; F++) {
    for (let r = 0; r < ROWS; r++) {
      const row = F + r + (F === p.which && r === ROWS - 1 ? 17 : 1);
      sum += row * (r % 20 === 0 ? p.factor : 1);
    }
  }
  for (let i = 0; i < BUMPS; i++) sum += i + p.step;
  return sum;
}

const printed = (p: Params) => `total ${total(p)}\nmark ${p.mark}\nsaid ${Array.from({ length: FILES }, (_, F) => `counted ${F}`).join(" ")}\n`;
const summaryFile = (p: Params) => `total,${total(p)}\nmark,${p.mark}\nlines,${FILES * ROWS}\n`;
const names = <T>(n: number, name: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => name(i));
const mapsOf = (F: number) => names(ROWS, (r) => `map${F}.${r}`);
const allTasks = [...names(FILES, mapsOf).flat(), ...names(BUMPS, (i) => `bump${i}`), ...names(FILES, (F) => `combine${F}`), "env", ...names(FILES, (F) => `shell${F}`), "reduce"];

describe("TaskVine: the seed's map-combine-reduce on a real manager and vine_worker", () => {
  it("runs exactly the invalidated tasks after each edit, restores shell outputs, and replays elsewhere with every task served", async () => {
    const root = tempDir("nbrewind-taskvine-");
    const siteA = join(root, "a");
    mkdirSync(siteA);
    const counter = new TaskCounter(root);
    const runEnv = { ...env, ...counter.env };
    const write = (p: Params) => writeNotebookFile(siteA, "nb.ipynb", cells(p));
    const cellText = (nb: string, id: string) => outputText(readJson(nb).cells.find((c: any) => c.id === id));
    const bundle = join(siteA, "nb.nbrewind");
    expect(allTasks).toHaveLength(TOTAL_TASKS);
    expect(TOTAL_TASKS).toBe(200);

    let p: Params = { factor: 1, step: 1, which: -1, mark: "a" };
    const audit = await runCli(["audit", write(p), "-q"], { env: runEnv, cwd: siteA });
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.survivors).toEqual([]);
    expect(counter.ran()).toEqual([...allTasks, "parsl1", "parsl3"].sort());
    expect(cellText(join(bundle, "notebook.ipynb"), "parsl-run")).toBe("parsl [1, 9]\n");
    expect(cellText(join(bundle, "notebook.ipynb"), "run")).toBe(printed(p));
    expect(readFileSync(join(siteA, "summary.csv"), "utf8")).toBe(summaryFile(p));
    // the cell creating the Manager is the engine set-up cell; the cell submitting to it uses it
    expect(recordsOf(bundle, "setup")[0].engines).toEqual({ started: ["taskvine"], used: [] });
    expect(recordsOf(bundle, "run")[0].engines).toEqual({ started: [], used: ["taskvine"] });
    expect(recordsOf(bundle, "run")[0].tasks.filter((t: any) => t.status !== "dispatched")).toEqual([]);

    const repeat = async (next: Params, expectRan: string[], parslRan: string[] = []) => {
      counter.reset();
      p = next;
      const out = join(siteA, "repeat.ipynb");
      const run = await runCli(["repeat", write(p), "-o", out, "-q"], { env: runEnv, cwd: siteA });
      expect(run.code, run.stderr).toBe(0);
      expect(run.survivors).toEqual([]);
      expect(counter.ran()).toEqual([...expectRan, ...parslRan].sort());
      const latest = recordsOf(bundle, "run")
        .sort((a, b) => a.recorded_at.localeCompare(b.recorded_at))
        .at(-1);
      const statuses = latest.tasks.map((t: any) => t.status);
      expect(statuses.filter((s: string) => s === "dispatched")).toHaveLength(expectRan.length);
      expect(statuses.filter((s: string) => s === "hit")).toHaveLength(TOTAL_TASKS - expectRan.length);
      // hits are handed back by m.wait() with the recorded output: the same printout as computing them
      expect(cellText(out, "run")).toBe(printed(p));
      expect(readFileSync(join(siteA, "summary.csv"), "utf8")).toBe(summaryFile(p));
    };

    // factor weighs rows 0 and 20 of each file: those maps, the combines they feed, the reduce;
    // and on Parsl's TaskVineExecutor, square(factor) but not square(3), which is served
    await repeat({ ...p, factor: 5 }, [...names(FILES, (F) => [`map${F}.0`, `map${F}.20`]).flat(), ...names(FILES, (F) => `combine${F}`), "reduce"], ["parsl5"]);
    expect(cellText(join(siteA, "repeat.ipynb"), "parsl-run")).toBe("parsl [25, 9]\n");
    const parslRun = recordsOf(bundle, "parsl-run")
      .sort((a, b) => a.recorded_at.localeCompare(b.recorded_at))
      .at(-1);
    expect(parslRun.tasks.map((t: any) => [t.engine, t.status])).toEqual([
      ["parsl", "dispatched"],
      ["parsl", "hit"],
    ]);
    // the miss was stored where it ran (the worker sees the store), not from the kernel
    expect(parslRun.tasks[0].where).toMatchObject({ worker: "parsl:vine" });
    expect(parslRun.tasks[0].where.client).toBeUndefined();

    // At once, each invalidating tasks of its own: a helper called from inside bump (the prototype's
    // blind spot: neither a task's own function nor an argument), one byte more in part2.csv (the
    // tasks that declared it: its maps, its shell task; then its combine and the reduce), and another
    // MARK for the env task. The shell output lines1.txt is deleted: its task is served, and the file comes back.
    rmSync(join(siteA, "lines1.txt"));
    await repeat({ ...p, step: 2, which: 2, mark: "b" }, [...names(BUMPS, (i) => `bump${i}`), ...mapsOf(2), "shell2", "combine2", "env", "reduce"]);
    expect(readFileSync(join(siteA, "lines1.txt"), "utf8")).toBe(`${ROWS}\n`);

    // Pack, and replay in another folder with a parameter the run cell reads but no task does:
    // the cells run on a new manager and worker there, and every task is served from the bundle.
    const packed = join(root, "nb.nbrewind.tgz");
    const pack = await runCli(["pack", join(siteA, "nb.ipynb"), "-o", packed], { env: runEnv, cwd: siteA });
    expect(pack.code, pack.stderr).toBe(0);
    counter.reset();
    const siteB = join(root, "b");
    mkdirSync(siteB);
    const work = join(siteB, "work");
    const replay = await runCli(["replay", packed, "-C", work, "-p", "run_tag", "second", "--trust", "--check", "--json", "-q"], { env: runEnv, cwd: siteB });
    expect(replay.code, replay.stderr + replay.stdout).toBe(0);
    expect(replay.survivors).toEqual([]);
    const summary = JSON.parse(replay.stdout);
    expect(summary.cells.run).toBeGreaterThan(0);
    expect(counter.ran()).toEqual([]);
    // the 200 TaskVine tasks and the 2 Parsl ones
    expect(summary.tasks).toEqual({ total: TOTAL_TASKS + 2, reused: TOTAL_TASKS + 2, run: 0 });
    expect(summary.outputs.matched).toBe(true);
    expect(readFileSync(join(work, "summary.csv"), "utf8")).toBe(summaryFile(p));
    for (let F = 0; F < FILES; F++) expect(existsSync(join(work, `lines${F}.txt`))).toBe(true);
  }, 300_000);
});
