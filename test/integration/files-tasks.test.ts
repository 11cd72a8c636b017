import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { setupSource } from "./parsl-workflow.js";
import { TaskCounter } from "./task-counter.js";

/**
 * Tasks open files given as plain `str` paths, on the engines' own workers:
 * Dask distributed with worker processes (two threads each), Parsl's
 * HighThroughputExecutor and Ray. After a one-byte change to one file per
 * engine, exactly the tasks that read a changed file are dispatched (the
 * workers themselves count what ran), the others are served, and the outputs
 * equal a fresh run's.
 */
const root = tempDir("nbrewind-files-tasks-");
const counter = new TaskCounter(root);
const runDir = join(root, "parsl-runinfo");

const reader = (name: string) =>
  [`def ${name}(path, counter=COUNTER):`, "    with open(counter, 'a') as log:", "        log.write(path.rsplit('/', 1)[-1] + '\\n')", "    with open(path) as f:", "        return sum(int(x) for x in f.read().split())"].join("\n");

const cells: CellSpec[] = [
  { id: "prelude", source: ["import os", "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']", "here = os.path.abspath('data')"].join("\n") },
  { id: "dask-setup", source: "from dask.distributed import Client, LocalCluster\ncluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None)\nclient = Client(cluster)" },
  { id: "dask", source: ["import dask", reader("dask_read"), "parts = [dask.delayed(dask_read)(f'{here}/d{i}.txt') for i in (1, 2, 3)]", "print('dask', dask.compute(*parts))"].join("\n") },
  { id: "parsl-setup", source: setupSource("htex", runDir) },
  { id: "parsl", source: ["from parsl import python_app", "@python_app", reader("parsl_read"), "print('parsl', [parsl_read(f'{here}/p{i}.txt').result() for i in (1, 2)])"].join("\n") },
  { id: "ray-setup", source: "import ray\nray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)" },
  { id: "ray", source: ["@ray.remote", reader("ray_read"), "print('ray', ray.get([ray_read.remote(f'{here}/r{i}.txt') for i in (1, 2)]))"].join("\n") },
];

const template = join(root, "nb");

function writeData(dir: string): void {
  const data: [string, string][] = [["d1", "1 2"], ["d2", "3 4"], ["d3", "5 6"], ["p1", "10 20"], ["p2", "30 40"], ["r1", "7 8"], ["r2", "9 10"]];
  for (const [name, text] of data) writeFileSync(join(dir, "data", `${name}.txt`), text);
}

beforeAll(async () => {
  mkdirSync(join(template, "data"), { recursive: true });
  writeData(template);
  writeNotebookFile(template, "nb.ipynb", cells);
  counter.reset();
  const res = await runCli(["audit", join(template, "nb.ipynb"), "-q"], { env: counter.env });
  expect(res.code, res.stderr).toBe(0);
  expect(res.survivors).toEqual([]);
  expect(counter.ran()).toEqual(["d1.txt", "d2.txt", "d3.txt", "p1.txt", "p2.txt", "r1.txt", "r2.txt"]);
});

describe("files read by tasks", () => {
  it("each task's record names the file it read, relative to the notebook's folder", () => {
    const dir = join(template, "nb.nbrewind", "cells");
    const tasks = readdirSync(dir).flatMap((f) => readJson(join(dir, f)).tasks ?? []);
    const reads = tasks.map((t: any) => [t.engine, (t.files?.read ?? []).map((r: any) => r.path)]).sort();
    expect(reads).toEqual([
      ["dask", ["data/d1.txt"]],
      ["dask", ["data/d2.txt"]],
      ["dask", ["data/d3.txt"]],
      ["parsl", ["data/p1.txt"]],
      ["parsl", ["data/p2.txt"]],
      ["ray", ["data/r1.txt"]],
      ["ray", ["data/r2.txt"]],
    ]);
  });

  it("a one-byte change dispatches exactly the tasks that read it, says why, and the outputs equal a fresh run", async () => {
    for (const f of ["d2", "p1", "r2"]) {
      const path = join(template, "data", `${f}.txt`);
      const data = readFileSync(path);
      data[0] = data[0]! + 1; // "3 4" -> "4 4": one byte
      writeFileSync(path, data);
    }
    counter.reset();
    const rep = await runCli(["repeat", join(template, "nb.ipynb"), "-o", join(root, "repeat.ipynb"), "--explain"], { env: counter.env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    expect(counter.ran()).toEqual(["d2.txt", "p1.txt", "r2.txt"]);
    expect(rep.stderr).toContain("reads `data/d2.txt`, which changed since it was recorded");
    expect(rep.stdout + rep.stderr).toContain("dispatched because it reads `data/d2.txt`, which changed");
    expect(rep.stdout + rep.stderr).toContain("dispatched because it reads `data/p1.txt`, which changed");
    expect(rep.stdout + rep.stderr).toContain("dispatched because it reads `data/r2.txt`, which changed");

    const full = await runCli(["run", join(template, "nb.ipynb"), "-o", join(root, "full.ipynb"), "-q"], { env: counter.env });
    expect(full.code, full.stderr).toBe(0);
    const text = (p: string) => readJson(p).cells.map((c: any) => [c.id, outputText(c)]);
    expect(text(join(root, "repeat.ipynb"))).toEqual(text(join(root, "full.ipynb")));
  });
});
