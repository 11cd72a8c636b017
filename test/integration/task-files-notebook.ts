import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { setupSource } from "./parsl-workflow.js";
import { TaskCounter } from "./task-counter.js";

/**
 * Tasks open files given as plain `str` paths, on the engines' own workers:
 * Dask distributed with worker processes (two threads each), Parsl's
 * HighThroughputExecutor, Ray. After a one-byte change to one file per
 * engine, exactly the tasks that read a changed file are dispatched (the
 * workers themselves count what ran), the others are served, the reason
 * names the file, and the outputs equal a fresh run's.
 */
export type Engine = "dask" | "parsl" | "ray";

/** A task taking readers' results: it must run again when one of them does (its key names them by their keys, not their values). */
const summer = (name: string, args: string) =>
  [`def ${name}(${args}, counter=COUNTER):`, "    with open(counter, 'a') as log:", `        log.write('${name}\\n')`, `    return sum([${args}])`].join("\n");

const reader = (name: string) =>
  [`def ${name}(path, counter=COUNTER):`, "    with open(counter, 'a') as log:", "        log.write(path.rsplit('/', 1)[-1] + '\\n')", "    with open(path) as f:", "        return sum(int(x) for x in f.read().split())"].join("\n");

function engineCells(engine: Engine, runDir: string): CellSpec[] {
  switch (engine) {
    case "dask":
      return [
        { id: "dask-setup", source: "from dask.distributed import Client, LocalCluster\ncluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None)\nclient = Client(cluster)" },
        {
          id: "dask",
          source: [
            "import dask",
            reader("dask_read"),
            // A read no audit hook sees (as by a C library), declared from inside the task.
            "def dask_declared(path, counter=COUNTER):",
            "    import nbrewind",
            "    nbrewind.reads(path)",
            "    with open(counter, 'a') as log:",
            "        log.write(path.rsplit('/', 1)[-1] + '\\n')",
            "    return 0",
            summer("dask_sum", "a, b, c"),
            "parts = [dask.delayed(dask_read)(f'{here}/d{i}.txt') for i in (1, 2, 3)] + [dask.delayed(dask_declared)(f'{here}/h.txt')]",
            "print('dask', dask.compute(*parts, dask.delayed(dask_sum)(*parts[:3])))",
          ].join("\n"),
        },
      ];
    case "parsl":
      return [
        { id: "parsl-setup", source: setupSource("htex", runDir) + "\npass  # no repr of the DataFlowKernel: its address differs per run" },
        {
          id: "parsl",
          source: ["from parsl import python_app", "@python_app", reader("parsl_read"), "@python_app", summer("parsl_sum", "a, b"), "futs = [parsl_read(f'{here}/p{i}.txt') for i in (1, 2)]", "print('parsl', [f.result() for f in futs], parsl_sum(*futs).result())"].join("\n"),
        },
      ];
    case "ray":
      return [
        { id: "ray-setup", source: "import ray\nray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)" },
        {
          id: "ray",
          source: ["@ray.remote", reader("ray_read"), "refs = [ray_read.remote(f'{here}/r{i}.txt') for i in (1, 2)]", "print('ray', ray.get(refs))"].join("\n"),
        },
        // In a cell of its own: it reads ObjectRefs (engine-bound) from a cell that runs again,
        // so it must run too, never be taken for a cell reading its recorded values.
        { id: "ray-sum", source: ["@ray.remote", summer("ray_sum", "a, b"), "print('ray sum', ray.get(ray_sum.remote(*refs)))"].join("\n") },
      ];
  }
}

const DATA: Record<Engine, [string, string][]> = {
  dask: [["d1", "1 2"], ["d2", "3 4"], ["d3", "5 6"], ["h", "0"]],
  parsl: [["p1", "10 20"], ["p2", "30 40"]],
  ray: [["r1", "7 8"], ["r2", "9 10"]],
};
/** The file of each engine that the test changes by one byte. */
const CHANGED: Record<Engine, string> = { dask: "d2", parsl: "p1", ray: "r1" };

export function describeTaskFiles(engines: Engine[]): void {
  const root = tempDir("nbrewind-files-tasks-");
  const counter = new TaskCounter(root);
  const template = join(root, "nb");
  const cells: CellSpec[] = [
    { id: "prelude", source: ["import os", "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']", "here = os.path.abspath('data')"].join("\n") },
    ...engines.flatMap((e) => engineCells(e, join(root, "parsl-runinfo"))),
  ];
  const files = (e: Engine) => DATA[e].map(([name]) => `${name}.txt`);

  beforeAll(async () => {
    mkdirSync(join(template, "data"), { recursive: true });
    for (const e of engines) for (const [name, text] of DATA[e]) writeFileSync(join(template, "data", `${name}.txt`), text);
    writeNotebookFile(template, "nb.ipynb", cells);
    counter.reset();
    const res = await runCli(["audit", join(template, "nb.ipynb"), "-q"], { env: counter.env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.survivors).toEqual([]);
    expect(counter.ran()).toEqual([...engines.flatMap(files), ...engines.map((e) => `${e}_sum`)].sort());
  });

  describe(`files read by tasks (${engines.join(", ")})`, () => {
    it("each task's record names the file it read, relative to the notebook's folder", () => {
      const dir = join(template, "nb.nbrewind", "cells");
      const tasks = readdirSync(dir).flatMap((f) => readJson(join(dir, f)).tasks ?? []);
      const readers = tasks.filter((t: any) => !String(t.function).endsWith("_sum"));
      const reads = readers.map((t: any) => [t.engine, (t.files?.read ?? []).map((r: any) => r.path)]).sort();
      expect(reads).toEqual(engines.flatMap((e) => files(e).map((f) => [e, [`data/${f}`]])).sort());
      const declared = tasks.flatMap((t: any) => (t.files?.read ?? []).filter((r: any) => r.declared).map((r: any) => r.path));
      expect(declared).toEqual(engines.includes("dask") ? ["data/h.txt"] : []);
    });

    it("a one-byte change dispatches exactly the tasks that read it and the tasks taking their results, says why, and the outputs equal a fresh run", async () => {
      for (const e of engines) {
        const path = join(template, "data", `${CHANGED[e]}.txt`);
        const data = readFileSync(path);
        data[0] = data[0]! + 1; // "3 4" -> "4 4": one byte, still a number
        writeFileSync(path, data);
      }
      counter.reset();
      const rep = await runCli(["repeat", join(template, "nb.ipynb"), "-o", join(root, "repeat.ipynb"), "--explain"], { env: counter.env });
      expect(rep.code, rep.stderr).toBe(0);
      expect(rep.survivors).toEqual([]);
      // The sum of the readers' results is recorded under the same key (its inputs' keys did not
      // change), but was made from the old content: served, it would print a stale total.
      expect(counter.ran()).toEqual([...engines.map((e) => `${CHANGED[e]}.txt`), ...engines.map((e) => `${e}_sum`)].sort());
      const said = rep.stdout + rep.stderr;
      for (const e of engines) {
        expect(said).toContain(`reads \`data/${CHANGED[e]}.txt\`, which changed since it was recorded`);
        expect(said).toContain(`dispatched because it reads \`data/${CHANGED[e]}.txt\`, which changed`);
        expect(said).toContain(`${e}_sum dispatched because it takes the result of a task computed again in this run (reads \`data/${CHANGED[e]}.txt\`, which changed)`);
      }
      const full = await runCli(["run", join(template, "nb.ipynb"), "-o", join(root, "full.ipynb"), "-q"], { env: counter.env });
      expect(full.code, full.stderr).toBe(0);
      // The engines' set-up cells print start-up logs with timestamps: the task cells' outputs are what is compared.
      const text = (p: string) => readJson(p).cells.filter((c: any) => !c.id.endsWith("-setup")).map((c: any) => [c.id, outputText(c)]);
      expect(text(join(root, "repeat.ipynb"))).toEqual(text(join(root, "full.ipynb")));
    });
  });
}
