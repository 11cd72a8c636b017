import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { afterFactorChange, allTasks, parslLog, takeLog, workflowCells, type Executor } from "./parsl-workflow.js";

/**
 * Task-level memoization for Parsl on real executors: audit a 225-task
 * map-reduce, edit, repeat, and count on the engine side (each app appends
 * its name to a log as it runs) that exactly the invalidated tasks and their
 * downstream ran, with the same results as a fresh full run.
 */

function resultOf(path: string): string {
  const nb = readJson(path);
  return outputText(nb.cells.find((c: any) => c.id === "run"));
}

/** Every run must shut Parsl down itself (dfk.cleanup()), not leave it to the process sweep. */
function expectCleanShutdown(runDir: string): void {
  const log = parslLog(runDir);
  expect(log).toContain("Terminated executors");
  expect(log).not.toContain("Python is exiting with a DFK still running");
}

async function auditRepeat(executor: Executor): Promise<void> {
  const root = tempDir(`nbrewind-parsl-${executor}-`);
  const log = join(root, "ran.log");
  const nb = (cells: CellSpec[]) => writeNotebookFile(root, "nb.ipynb", cells);
  const runDir = (name: string) => join(root, `runinfo-${name}`);

  // audit: everything runs once
  const audit = await runCli(["audit", nb(workflowCells(executor, runDir("audit"), log)), "-q"]);
  expect(audit.code, audit.stderr).toBe(0);
  expect(audit.survivors).toEqual([]);
  expect(takeLog(log)).toEqual(allTasks());
  expectCleanShutdown(runDir("audit"));
  // The persisting runner is written into the store for worker processes only, not for the thread pool.
  const runners = readdirSync(join(root, "nb.nbrewind", "blobs", "tasklog")).filter((n) => n.startsWith(".parsl-runner-"));
  expect(runners).toHaveLength(executor === "htex" ? 1 : 0);
  if (executor === "htex") {
    // Stored where they ran: the worker processes loaded the persisting runner from the store.
    const tasks = readdirSync(join(root, "nb.nbrewind", "cells"))
      .map((f) => readJson(join(root, "nb.nbrewind", "cells", f)) as { tasks?: { status: string; result_digest?: string; where?: { client?: boolean; pid?: number } }[] })
      .flatMap((r) => r.tasks ?? [])
      .filter((t) => t.status === "dispatched");
    expect(tasks.length).toBe(allTasks().length);
    for (const t of tasks) {
      expect(t.result_digest).toMatch(/^[0-9a-f]{64}$/);
      expect(t.where?.client).toBeUndefined();
    }
  }

  // repeat with the parameter changed: 20 leaves, 2 groups, total and the diamond below it
  const edited = nb(workflowCells(executor, runDir("audit"), log, { factor: 5 }));
  const repeat = await runCli(["repeat", edited, "-o", join(root, "repeat.ipynb"), "-q", "--json"]);
  expect(repeat.code, repeat.stderr).toBe(0);
  expect(repeat.survivors).toEqual([]);
  expect(takeLog(log)).toEqual(afterFactorChange());
  expectCleanShutdown(runDir("audit"));

  // the same edited notebook, run fresh (no shim, no bundle): same result. HTEX starts its
  // interchange and worker pool by name through PATH: the server puts the environment's bin first.
  const full = await runCli(["run", edited, "-o", join(root, "full.ipynb"), "-q"]);
  expect(full.code, full.stderr).toBe(0);
  expect(takeLog(log)).toEqual(allTasks());
  expect(resultOf(join(root, "repeat.ipynb"))).toMatch(/^result \d+/);
  expect(resultOf(join(root, "repeat.ipynb"))).toBe(resultOf(join(root, "full.ipynb")));
}

describe("Parsl: only invalidated tasks run again", () => {
  it("ThreadPoolExecutor: a parameter that weighs 10% of the leaves re-runs exactly those leaves and their downstream", async () => {
    await auditRepeat("threads");
  });

  it("HighThroughputExecutor (LocalProvider, 2 workers): the same, tasks persisted by the worker processes", async () => {
    await auditRepeat("htex");
  });

  it("ThreadPoolExecutor: a changed helper function re-runs only the app that calls it, and its downstream", async () => {
    const root = tempDir("nbrewind-parsl-helper-");
    const log = join(root, "ran.log");
    const runDir = join(root, "runinfo");
    const path = writeNotebookFile(root, "nb.ipynb", workflowCells("threads", runDir, log));
    expect((await runCli(["audit", path, "-q"])).code).toBe(0);
    takeLog(log);
    writeNotebookFile(root, "nb.ipynb", workflowCells("threads", runDir, log, { helperBody: "return x + 2" }));
    const rep = await runCli(["repeat", path, "-o", join(root, "repeat.ipynb"), "-q"]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(takeLog(log)).toEqual(["final", "level"]);
    const full = await runCli(["run", path, "-o", join(root, "full.ipynb"), "-q"]);
    expect(full.code, full.stderr).toBe(0);
    expect(resultOf(join(root, "repeat.ipynb"))).toBe(resultOf(join(root, "full.ipynb")));
  });
});

describe("Parsl: File inputs and outputs", () => {
  // Four bash apps turn in<i>.txt into out<i>.txt; a python app reads every output
  // through its DataFuture. `which` changes the content of one input file.
  const cells = (root: string, which: number): CellSpec[] => [
    { id: "setup", source: `import parsl\nfrom parsl.config import Config\nfrom parsl.executors import ThreadPoolExecutor\nfrom parsl.data_provider.files import File\nparsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=${JSON.stringify(join(root, "runinfo"))}))` },
    { id: "params", source: `which = ${which}`, tags: ["parameters"] },
    {
      id: "inputs",
      source: [
        `D = ${JSON.stringify(root)}`,
        "for i in range(4):",
        "    with open(f'{D}/in{i}.txt', 'w') as f:",
        "        f.write(f'{i} {100 if i == which else 1}\\n')",
      ].join("\n"),
    },
    {
      id: "run",
      source: [
        "@parsl.bash_app",
        "def upper(inputs=(), outputs=(), log=D + '/ran.log'):",
        "    return f\"echo {inputs[0].filename} >> {log}; tr '0-9' 'a-j' < {inputs[0]} > {outputs[0]}\"",
        "",
        "@parsl.python_app",
        "def collect(inputs=(), log=D + '/ran.log'):",
        "    with open(log, 'a') as f:",
        "        f.write('collect\\n')",
        "    return ''.join(open(p).read() for p in inputs)",
        "",
        "outs = [upper(inputs=[File(f'{D}/in{i}.txt')], outputs=[File(f'{D}/out{i}.txt')]) for i in range(4)]",
        "print(collect(inputs=[o.outputs[0] for o in outs]).result())",
      ].join("\n"),
    },
  ];

  it("hashes inputs by content, restores outputs to their paths on a hit, and re-runs only the task whose input changed", async () => {
    const root = tempDir("nbrewind-parsl-files-");
    const log = join(root, "ran.log");
    const path = writeNotebookFile(root, "nb.ipynb", cells(root, 0));
    const audit = await runCli(["audit", path, "-q"]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(takeLog(log)).toEqual(["collect", "in0.txt", "in1.txt", "in2.txt", "in3.txt"]);

    // The outputs are gone: a hit must write them back, byte for byte.
    const before = [0, 1, 2, 3].map((i) => readFileSync(join(root, `out${i}.txt`), "utf8"));
    for (let i = 0; i < 4; i++) rmSync(join(root, `out${i}.txt`));
    writeNotebookFile(root, "nb.ipynb", cells(root, 2));
    const rep = await runCli(["repeat", path, "-o", join(root, "repeat.ipynb"), "-q"]);
    expect(rep.code, rep.stderr).toBe(0);
    // in0 and in2 changed content (which moved from 0 to 2): those two re-ran, and collect.
    expect(takeLog(log)).toEqual(["collect", "in0.txt", "in2.txt"]);
    for (const i of [1, 3]) expect(readFileSync(join(root, `out${i}.txt`), "utf8")).toBe(before[i]);
    expect(readFileSync(join(root, "out2.txt"), "utf8")).toBe("c baa\n");
    expect(outputText(readJson(join(root, "repeat.ipynb")).cells.find((c: any) => c.id === "run"))).toBe("a b\nb b\nc baa\nd b\n\n");
    expect(existsSync(join(root, "out0.txt"))).toBe(true);

    // Each output file is a blob the task record names (result_blobs), in the audit's record
    // and in the repeat's (hits too): kept by gc, checked by verify.
    const records = readdirSync(join(root, "nb.nbrewind", "cells")).map((f) => readJson(join(root, "nb.nbrewind", "cells", f)));
    const uppers = records.flatMap((r: any) => (r.tasks ?? []).filter((t: any) => t.function.endsWith("upper")));
    expect(uppers.map((t: any) => t.status).sort()).toEqual(["dispatched", "dispatched", "dispatched", "dispatched", "dispatched", "dispatched", "hit", "hit"]);
    for (const t of uppers) expect(t.result_blobs).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    const outBlob = uppers.find((t: any) => t.status === "hit").result_blobs[0];
    expect(readFileSync(join(root, "nb.nbrewind", "blobs", "sha256", outBlob.slice(0, 2), outBlob.slice(2)), "utf8")).toMatch(/^[bd] b\n$/);
    rmSync(join(root, "nb.nbrewind", "blobs", "sha256", outBlob.slice(0, 2), outBlob.slice(2)));
    const verify = await runCli(["verify", join(root, "nb.nbrewind")]);
    expect(verify.code).not.toBe(0);
    expect(verify.stdout + verify.stderr).toContain(`blob ${outBlob} is missing`);
  });
});
