import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * Task-level memoization on a real Dask LocalCluster (2 worker processes) and
 * on the threaded scheduler. What ran is counted on the engine side: every
 * task function appends its name to a file from inside the worker (or
 * thread) that runs it, so these counts owe nothing to our own records.
 */
const root = tempDir("nbrewind-dask-tasks-");
const taskLog = join(root, "tasks-ran.log");
const env = { NBREWIND_TEST_TASKLOG: taskLog };

function ranTasks(): string[] {
  try {
    return readFileSync(taskLog, "utf8").split("\n").filter(Boolean).sort();
  } catch {
    return [];
  }
}

function resetTaskLog(): void {
  rmSync(taskLog, { force: true });
}

function edit(cells: CellSpec[], id: string, source: string): CellSpec[] {
  return cells.map((c) => (c.id === id ? { ...c, source } : c));
}

function cellOf(nbPath: string, id: string): any {
  return readJson(nbPath).cells.find((c: any) => c.id === id);
}

// ── a map-reduce with a diamond on a LocalCluster ──────────────────────────
//
// source -> 200 leaves (the first 20 read `scale`) -> 100 pairs -> left / right -> join
// 1 + 200 + 100 + 3 = 304 tasks, computed with dask.compute on the distributed
// client, after a futures cell (client.map / client.submit with futures as arguments).
const mapReduce: CellSpec[] = [
  { id: "params", source: "scale = 2\noffset = 5", tags: ["parameters"] },
  {
    id: "setup",
    source: [
      "from dask.distributed import Client, LocalCluster",
      "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)",
      "client = Client(cluster)",
    ].join("\n"),
  },
  {
    id: "funcs",
    source: [
      "import os",
      "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']",
      "def note(name):",
      "    with open(COUNTER, 'a') as f:",
      "        f.write(name + '\\n')",
      "def source(seed):",
      "    note('source')",
      "    return seed * 10",
      "def leaf(i, base, s):",
      "    note(f'leaf {i}')",
      "    return base + i * s",
      "def pair(a, b):",
      "    note('pair')",
      "    return a + b",
      "def bias(x):",
      "    return x + 1",
      "def left(xs):",
      "    note('left')",
      "    return sum(xs)",
      "def right(xs):",
      "    note('right')",
      "    return bias(sum(xs))",
      "def join(a, b):",
      "    note('join')",
      "    return a * 1000 + b",
      "def square(x):",
      "    note('square')",
      "    return x * x",
      "def plus(xs, k):",
      "    note('plus')",
      "    return sum(xs) + k",
    ].join("\n"),
  },
  {
    id: "futures",
    source: ["squares = client.map(square, range(10))", "summed = client.submit(plus, squares, offset).result()", "print('summed', summed)"].join("\n"),
  },
  {
    id: "compute",
    source: [
      "import dask",
      "from dask import delayed",
      "src = delayed(source)(7)",
      "leaves = [delayed(leaf)(i, src, scale if i < 20 else 1) for i in range(200)]",
      "pairs = [delayed(pair)(leaves[2 * k], leaves[2 * k + 1]) for k in range(100)]",
      "total = delayed(join)(delayed(left)(pairs[:50]), delayed(right)(pairs[50:]))",
      "(result,) = dask.compute(total)",
      "print('result', result)",
    ].join("\n"),
  },
];

const mrDir = join(root, "map-reduce");

describe("Dask LocalCluster: a 304-task map-reduce with a diamond", () => {
  beforeAll(async () => {
    mkdirSync(mrDir);
    const nb = writeNotebookFile(mrDir, "nb.ipynb", mapReduce);
    resetTaskLog();
    const res = await runCli(["audit", nb, "-q", "-o", join(mrDir, "audit.ipynb")], { env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.survivors).toEqual([]);
  });

  it("the audit ran every task once on the engine and recorded the cell's task graph", () => {
    const ran = ranTasks();
    expect(ran.filter((t) => t.startsWith("leaf"))).toHaveLength(200);
    expect(ran.filter((t) => t === "pair")).toHaveLength(100);
    expect(ran.filter((t) => ["source", "left", "right", "join"].includes(t))).toEqual(["join", "left", "right", "source"]);
    const meta = cellOf(join(mrDir, "audit.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, served: 0, dispatched: 304, uncached: 0, failed: 0 });
    const setup = cellOf(join(mrDir, "audit.ipynb"), "setup").metadata.nbrewind;
    expect(setup.engines.started).toContain("dask:distributed");
  });

  it("a parameter read by 10% of the leaves: exactly those leaves and their downstream run, the engine set-up cell runs first, results equal a fresh run", async () => {
    const dir = join(root, "mr-scale");
    cpSync(mrDir, dir, { recursive: true });
    const nb = join(dir, "nb.ipynb");
    resetTaskLog();
    const rep = await runCli(["repeat", nb, "-p", "scale", "3", "-o", join(dir, "repeat.ipynb"), "--explain"], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    const leaves = Array.from({ length: 20 }, (_, i) => `leaf ${i}`);
    expect(ranTasks()).toEqual([...leaves, "join", "left", ...Array(10).fill("pair")].sort());
    // The compute cell never names the client: the set-up cell runs because the shim saw it start the engine.
    expect(rep.stdout).toMatch(/starts the dask:distributed engine that cell 6 submits tasks to/);
    expect(rep.stderr).toMatch(/20 × leaf dispatched because argument 3 changed/);
    expect(rep.stderr).toMatch(/10 × pair dispatched because argument 1 \(the result of a task that re-ran\), argument 2 \(the result of a task that re-ran\) changed/);
    const meta = cellOf(join(dir, "repeat.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, served: 304 - 32, dispatched: 32 });

    resetTaskLog();
    const fresh = await runCli(["run", nb, "-p", "scale", "3", "-o", join(dir, "fresh.ipynb"), "-q"], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(ranTasks().length).toBeGreaterThanOrEqual(304); // the plain run memoizes nothing
    for (const id of ["compute", "futures"]) expect(outputText(cellOf(join(dir, "repeat.ipynb"), id))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), id)));
  });

  it("a helper called by one task changed: only that task and its downstream run", async () => {
    const dir = join(root, "mr-helper");
    cpSync(mrDir, dir, { recursive: true });
    const funcs = mapReduce.find((c) => c.id === "funcs")!.source.replace("    return x + 1", "    return x + 2");
    const nb = writeNotebookFile(dir, "nb.ipynb", edit(mapReduce, "funcs", funcs));
    resetTaskLog();
    const rep = await runCli(["repeat", nb, "-q", "-o", join(dir, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    // The futures cell reads the edited cell's functions too: its tasks are all served.
    expect(ranTasks()).toEqual(["join", "right"]);
    const meta = cellOf(join(dir, "repeat.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, dispatched: 2 });
    expect(meta.tasks.dispatched_because).toEqual(
      expect.arrayContaining([expect.objectContaining({ function: "__main__.right", reason: expect.stringMatching(/the code of right changed/) })]),
    );
    expect(cellOf(join(dir, "repeat.ipynb"), "futures").metadata.nbrewind.tasks).toMatchObject({ total: 11, served: 11 });

    const fresh = await runCli(["run", nb, "-o", join(dir, "fresh.ipynb"), "-q"], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    for (const id of ["compute", "futures"]) expect(outputText(cellOf(join(dir, "repeat.ipynb"), id))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), id)));
  });
});

// ── soundness, on the threaded scheduler (no distributed) ──────────────────
const soundness: CellSpec[] = [
  { id: "params", source: "K = 1\nD = 1\nCHANGED = 3", tags: ["parameters"] },
  {
    id: "funcs",
    source: [
      "import os, threading",
      "import numpy as np",
      "import dask",
      "from dask import delayed",
      "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']",
      "def note(name):",
      "    with open(COUNTER, 'a') as f:",
      "        f.write(name + '\\n')",
    ].join("\n"),
  },
  {
    id: "closure",
    source: ["def add_k(x):", "    note(f'add_k {x}')", "    return x + K", "print('closure', dask.compute(*[delayed(add_k)(i) for i in range(3)], scheduler='threads'))"].join("\n"),
  },
  {
    id: "default",
    source: ["def with_default(x, d=D):", "    note(f'with_default {x}')", "    return x * d", "print('default', dask.compute(*[delayed(with_default)(i) for i in range(3)], scheduler='threads'))"].join("\n"),
  },
  {
    id: "arrays",
    source: [
      "def total(a):",
      "    note(f'total {a[0]}')",
      "    return int(a.sum())",
      "arrays = [np.arange(1000) + 10_000 * j for j in range(3)]",
      "arrays[1][CHANGED] = -1",
      "print('arrays', dask.compute(*[delayed(total)(a) for a in arrays], scheduler='threads'))",
    ].join("\n"),
  },
  {
    id: "lock",
    source: ["def guarded(lock, x):", "    note('guarded')", "    with lock:", "        return x + 1", "print('lock', delayed(guarded)(threading.Lock(), CHANGED).compute(scheduler='threads'))"].join("\n"),
  },
];

describe("soundness on the threaded scheduler", () => {
  const dir = join(root, "soundness");

  beforeAll(async () => {
    mkdirSync(dir);
    const nb = writeNotebookFile(dir, "nb.ipynb", soundness);
    const res = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env });
    expect(res.code, res.stderr).toBe(0);
  });

  it("unchanged: every cacheable task is served; an unhashable argument is recorded, not cached, and runs again", async () => {
    const nb = join(dir, "nb.ipynb");
    // Force every cell to run with an edit that changes no task: a comment in the cell that defines `note`.
    const forced = writeNotebookFile(dir, "forced.ipynb", edit(soundness, "funcs", soundness[1]!.source + "\n# touched"));
    resetTaskLog();
    const rep = await runCli(["repeat", forced, "--bundle", join(dir, "nb.nbrewind"), "-q", "-o", join(dir, "forced.out.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(ranTasks()).toEqual(["guarded"]);
    const lock = cellOf(join(dir, "forced.out.ipynb"), "lock").metadata.nbrewind.tasks;
    expect(lock).toMatchObject({ total: 1, served: 0, dispatched: 1, uncached: 1 });
    const record = readdirSync(join(dir, "nb.nbrewind", "cells"))
      .map((f) => readJson(join(dir, "nb.nbrewind", "cells", f)))
      .find((r: any) => r.cell_id === "lock" && r.tasks);
    expect(record.tasks[0]).toMatchObject({ status: "uncached", key: null, function: "__main__.guarded" });
    expect(record.tasks[0].reason).toMatch(/thread synchronisation primitive/);
    expect(nb).toBeTruthy();
  });

  it("a changed global a task's function reads, a changed default, one changed array element: exactly those tasks run, results equal a fresh run", async () => {
    const nb = join(dir, "nb.ipynb");
    resetTaskLog();
    const rep = await runCli(["repeat", nb, "-p", "K", "2", "-p", "D", "5", "-p", "CHANGED", "4", "-q", "-o", join(dir, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    // arrays[0] and arrays[2] are unchanged: their tasks are served; arrays[1] differs in one element.
    expect(ranTasks()).toEqual(["add_k 0", "add_k 1", "add_k 2", "guarded", "total 10000", "with_default 0", "with_default 1", "with_default 2"]);
    const fresh = await runCli(["run", nb, "-p", "K", "2", "-p", "D", "5", "-p", "CHANGED", "4", "-q", "-o", join(dir, "fresh.ipynb")], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    for (const id of ["closure", "default", "arrays", "lock"]) expect(outputText(cellOf(join(dir, "repeat.ipynb"), id))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), id)));
  });
});

// ── a scheduler nbrewind does not know: the worker runners travel by value ──
// Dask's multiprocessing scheduler behind a plain function: to nbrewind a
// scheduler that may run anywhere (as DaskVine does), so the runners are
// pickled by value into spawned processes. The parameters cell is checkpointed
// first: the kernel's blob store has written before any runner is pickled.
const elsewhere: CellSpec[] = [
  { id: "params", source: "n = 6", tags: ["parameters"] },
  {
    id: "funcs",
    source: [
      "import os",
      "import dask, dask.multiprocessing",
      "from dask import delayed",
      "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']",
      "def note(name):",
      "    with open(COUNTER, 'a') as f:",
      "        f.write(name + '\\n')",
      "def cube(x):",
      "    note(f'cube {x}')",
      "    return x ** 3",
      "def elsewhere(dsk, keys, **kwargs):",
      "    return dask.multiprocessing.get(dsk, keys, num_workers=2, **kwargs)",
    ].join("\n"),
  },
  { id: "compute", source: "print('cubes', dask.compute(*[delayed(cube)(i) for i in range(n)], scheduler=elsewhere))" },
];

describe("a scheduler nbrewind does not know (runners shipped by value)", () => {
  const dir = join(root, "elsewhere");

  it("after a checkpoint: every task runs and is stored in the worker process; repeat serves them all from the store there", async () => {
    mkdirSync(dir);
    const nb = writeNotebookFile(dir, "nb.ipynb", elsewhere);
    resetTaskLog();
    const res = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env });
    expect(res.code, res.stderr).toBe(0);
    expect(outputText(cellOf(join(dir, "audit.ipynb"), "compute"))).toContain("cubes (0, 1, 8, 27, 64, 125)");
    expect(ranTasks()).toEqual(Array.from({ length: 6 }, (_, i) => `cube ${i}`).sort());
    expect(cellOf(join(dir, "audit.ipynb"), "compute").metadata.nbrewind.tasks).toMatchObject({ total: 6, dispatched: 6, uncached: 0, failed: 0 });
    const record = readdirSync(join(dir, "nb.nbrewind", "cells"))
      .map((f) => readJson(join(dir, "nb.nbrewind", "cells", f)))
      .find((r: any) => r.cell_id === "compute" && r.tasks);
    for (const t of record.tasks) {
      expect(t.result_digest).toMatch(/^[0-9a-f]{64}$/);
      expect(t.where.client).toBeUndefined(); // stored where it ran, not sent back to the kernel
    }

    // Every cell runs again (an edit that changes no task); every task is a hit (small results: sent as data).
    const forced = writeNotebookFile(dir, "forced.ipynb", edit(elsewhere, "funcs", elsewhere[1]!.source + "\n# touched"));
    resetTaskLog();
    const rep = await runCli(["repeat", forced, "--bundle", join(dir, "nb.nbrewind"), "-q", "-o", join(dir, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(ranTasks()).toEqual([]);
    expect(cellOf(join(dir, "repeat.ipynb"), "compute").metadata.nbrewind.tasks).toMatchObject({ total: 6, served: 6, dispatched: 0 });
    expect(outputText(cellOf(join(dir, "repeat.ipynb"), "compute"))).toContain("cubes (0, 1, 8, 27, 64, 125)");
  });
});
