import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { recordsOf, TaskCounter } from "./task-counter.js";

/**
 * Task-level memoization on a real TaskVine manager with a local vine_worker
 * (started by the notebook, as a user would). What ran is counted by the tasks
 * themselves: each appends its name to a file from inside the worker process
 * that runs it. TaskVine is built from the cctools source tarball once per
 * machine (scripts/taskvine.sh) and reaches the kernel through PATH and
 * PYTHONPATH, which every process of a CLI run inherits.
 */

const repo = join(import.meta.dirname, "..", "..");
let env: Record<string, string> = {};

beforeAll(() => {
  const prefix = execFileSync("bash", [join(repo, "scripts", "taskvine.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  const lib = join(prefix, "lib");
  const site = readdirSync(lib)
    .filter((d) => d.startsWith("python3"))
    .map((d) => join(lib, d, "site-packages"))[0]!;
  env = { PATH: `${join(prefix, "bin")}${delimiter}${process.env.PATH ?? ""}`, PYTHONPATH: [site, process.env.PYTHONPATH].filter(Boolean).join(delimiter) };
}, 900_000);

const LEAVES = 30;
const BUMPS = 10;
const FILES = 4;

interface Params {
  factor: number;
  /** The helper that every `bump` task calls: `return x + step`. */
  step: number;
  /** The input file that holds one more byte. */
  which: number;
  /** An environment variable the file tasks are given (set_env_var), which they print. */
  mark: string;
}

function cells(root: string, p: Params): CellSpec[] {
  return [
    {
      id: "setup",
      source: [
        "import os, subprocess, sys",
        "import ndcctools.taskvine as vine",
        "m = vine.Manager(port=0)",
        "# the worker runs tasks with the kernel's Python (cloudpickle must match)",
        "worker_env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])",
        "worker = subprocess.Popen(['vine_worker', '--single-shot', '--cores', '2', '-t', '60', '127.0.0.1', str(m.port)], env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
      ].join("\n"),
    },
    { id: "params", source: `factor = ${p.factor}`, tags: ["parameters"] },
    { id: "counter", source: TaskCounter.preamble.join("\n") },
    { id: "helper", source: `def helper(x):\n    return x + ${p.step}` },
    {
      id: "inputs",
      source: [
        `D = ${JSON.stringify(root)}`,
        `for i in range(${FILES}):`,
        "    with open(f'{D}/in{i}.txt', 'w') as f:",
        `        f.write(f'{i}' + ('!' if i == ${p.which} else ''))`,
      ].join("\n"),
    },
    {
      id: "run",
      source: [
        "def leaf(i, factor):",
        "    note(f'leaf{i}')",
        "    return (i + 1) * factor",
        "",
        "def bump(i):",
        "    note(f'bump{i}')",
        "    return helper(i)",
        "",
        "def total(leaves, bumps):",
        "    note('total')",
        "    return sum(leaves) + sum(bumps)",
        "",
        "def readf(name):",
        "    import os",
        "    note('read' + name)",
        "    with open(name) as f:",
        "        return f.read() + os.environ['MARK']",
        "",
        "def run_all(tasks):",
        "    for t in tasks.values():",
        "        m.submit(t)",
        "    out = {}",
        "    while not m.empty():",
        "        t = m.wait(5)",
        "        if t:",
        "            assert t.successful(), t.std_output",
        "            out[t.tag] = t.output",
        "    return out",
        "",
        "def task(tag, fn, *args):",
        "    t = vine.PythonTask(fn, *args)",
        "    t.set_tag(tag)",
        "    return t",
        "",
        `leaves = run_all({f'leaf{i}': task(f'leaf{i}', leaf, i, factor if i % 10 == 0 else 1) for i in range(${LEAVES})})`,
        `bumps = run_all({f'bump{i}': task(f'bump{i}', bump, i) for i in range(${BUMPS})})`,
        `files = {}`,
        `for i in range(${FILES}):`,
        "    t = task(f'in{i}', readf, f'in{i}.txt')",
        "    t.add_input(m.declare_file(f'{D}/in{i}.txt'), f'in{i}.txt')",
        `    t.set_env_var('MARK', ${JSON.stringify(p.mark)} if i == 3 else '')`,
        "    files[f'in{i}'] = t",
        "texts = run_all(files)",
        "shell = vine.Task(f'echo shell >> {COUNTER}')",
        "shell.set_tag('shell')",
        "run_all({'shell': shell})",
        `result = run_all({'total': task('total', total, [leaves[f'leaf{i}'] for i in range(${LEAVES})], [bumps[f'bump{i}'] for i in range(${BUMPS})])})['total']`,
        "print('total', result)",
        `print('files', ' '.join(texts[f'in{i}'] for i in range(${FILES})))`,
      ].join("\n"),
    },
  ];
}

function expected(p: Params): string {
  let sum = 0;
  for (let i = 0; i < LEAVES; i++) sum += (i + 1) * (i % 10 === 0 ? p.factor : 1);
  for (let i = 0; i < BUMPS; i++) sum += i + p.step;
  const files = Array.from({ length: FILES }, (_, i) => `${i}${i === p.which ? "!" : ""}${i === 3 ? p.mark : ""}`).join(" ");
  return `total ${sum}\nfiles ${files}\n`;
}

const range = (n: number, name: string) => Array.from({ length: n }, (_, i) => `${name}${i}`);

describe("TaskVine: PythonTasks on a real manager and vine_worker run again only when invalidated", () => {
  it("audit, then a parameter edit, a helper edit, a one-byte input change and an environment variable each re-run exactly the tasks they invalidate", async () => {
    const root = tempDir("nbrewind-taskvine-");
    const counter = new TaskCounter(root);
    const runEnv = { ...env, ...counter.env };
    const path = (p: Params) => writeNotebookFile(root, "nb.ipynb", cells(root, p));
    const resultOf = (nb: string) => outputText(readJson(nb).cells.find((c: any) => c.id === "run"));

    let p: Params = { factor: 1, step: 1, which: 0, mark: "a" };
    const audit = await runCli(["audit", path(p), "-q"], { env: runEnv });
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.survivors).toEqual([]);
    expect(counter.ran()).toEqual([...range(LEAVES, "leaf"), ...range(BUMPS, "bump"), ...range(FILES, "readin").map((n) => `${n}.txt`), "total", "shell"].sort());
    expect(resultOf(join(root, "nb.nbrewind", "notebook.ipynb"))).toBe(expected(p));
    // the cell creating the Manager is the engine set-up cell; the cell submitting to it uses it
    expect(recordsOf(join(root, "nb.nbrewind"), "setup")[0].engines).toEqual({ started: ["taskvine"], used: [] });
    expect(recordsOf(join(root, "nb.nbrewind"), "run")[0].engines).toEqual({ started: [], used: ["taskvine"] });

    const repeat = async (next: Params, expectRan: string[]) => {
      counter.reset();
      p = next;
      const out = join(root, "repeat.ipynb");
      const run = await runCli(["repeat", path(p), "-o", out, "-q"], { env: runEnv });
      expect(run.code, run.stderr).toBe(0);
      expect(run.survivors).toEqual([]);
      // a shell Task is not memoized: it runs every time, recorded uncached with the reason
      expect(counter.ran()).toEqual([...expectRan, "shell"].sort());
      const latest = recordsOf(join(root, "nb.nbrewind"), "run").sort((a, b) => a.recorded_at.localeCompare(b.recorded_at)).at(-1);
      const statuses = latest.tasks.map((t: any) => t.status);
      expect(statuses.filter((s: string) => s === "dispatched")).toHaveLength(expectRan.length);
      expect(statuses.filter((s: string) => s === "hit")).toHaveLength(LEAVES + BUMPS + FILES + 1 - expectRan.length);
      expect(latest.tasks.filter((t: any) => t.status === "uncached").map((t: any) => t.reason)).toEqual([expect.stringContaining("a shell Task")]);
      // hits are handed back by m.wait() with the recorded output: the same result as computing it
      expect(resultOf(out)).toBe(expected(p));
    };

    // factor weighs leaves 0, 10 and 20: those and the total, nothing else
    await repeat({ ...p, factor: 5 }, ["leaf0", "leaf10", "leaf20", "total"]);
    // a helper called from inside bump (not a task's own function, nor an argument): every bump, and the total
    await repeat({ ...p, step: 2 }, [...range(BUMPS, "bump"), "total"]);
    // one input file one byte longer, another one byte shorter: only the tasks that declared them
    await repeat({ ...p, which: 2 }, ["readin0.txt", "readin2.txt"]);
    // the environment a task is given is part of its key: only the task given another MARK
    await repeat({ ...p, mark: "b" }, ["readin3.txt"]);
  }, 300_000);
});
