import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { cellOf, editCell, recordsOf, TaskCounter } from "./task-counter.js";

/**
 * Issue 9: values bound to a live engine, and engines in the plan, on real
 * Dask (an in-process LocalCluster) and Parsl (threads) in one notebook, so
 * that one audit and one repeat cover both (each part only touches its own
 * cells), and Ray in a second one. Task functions note their name from
 * inside the engine worker that runs them (TaskCounter): what ran owes
 * nothing to our own records.
 *
 * The first repeat makes two edits at once:
 *  - the Dask cell that reads a persisted array and persisted delayed values
 *    changes its print: the persisted values must be recreated by
 *    running their cell again (tasks served), never unpickled, and the
 *    cell that scaled the cluster must run again after the client cell;
 *  - a new cell calls a Parsl app: the cell that loaded the DataFlowKernel
 *    must run before it.
 * The second is a one-line bug fix in a Ray remote function: the ObjectRefs
 * its caller reads must come from running their cell again, not from the
 * audit's Ray session.
 */
const root = tempDir("nbrewind-engine-values-");

interface Repeated {
  dir: string;
  out: string;
  repeat: { code: number | null; stdout: string; stderr: string; survivors: number[] };
  /** Tasks the engine ran during the repeat. */
  ran: string[];
}

/** Audit `cells`, apply `edit`, repeat with --explain; what a user would see. */
async function auditThenRepeat(name: string, cells: CellSpec[], edit: (cells: CellSpec[]) => CellSpec[]): Promise<Repeated> {
  const dir = join(root, name);
  mkdirSync(dir);
  const counter = new TaskCounter(dir);
  const nb = writeNotebookFile(dir, "nb.ipynb", cells);
  const audit = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env: counter.env });
  expect(audit.code, audit.stderr).toBe(0);
  writeNotebookFile(dir, "nb.ipynb", edit(cells));
  counter.reset();
  const out = join(dir, "repeat.ipynb");
  // --allow-errors: each part is judged on its own cells, whatever another part does.
  const repeat = await runCli(["repeat", nb, "-o", out, "--explain", "--allow-errors", "--cell-timeout", "60"], { env: counter.env });
  return { dir, out, repeat, ran: counter.ran() };
}

const daskParsl: CellSpec[] = [
  { id: "counter", source: TaskCounter.preamble.join("\n") },
  // ── Dask
  { id: "client", source: "from dask.distributed import Client\nclient = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)" },
  { id: "scale", source: "client.cluster.scale(2)\nclient.wait_for_workers(2)" },
  // Neither of the next two cells names the client: the scale cell is linked to them only through the engine.
  {
    id: "persist",
    source: [
      "import numpy as np",
      "import dask",
      "import dask.array as da",
      "def block(b):",
      "    note('block')",
      "    return b * 2",
      "def inc(x):",
      "    note('inc')",
      "    return x + 1",
      "y = da.from_array(np.arange(8), chunks=2).map_blocks(block, meta=np.array((), dtype=np.int64))",
      "y = y.persist()",
      "zs = dask.persist(*[dask.delayed(inc)(i) for i in range(4)])",
    ].join("\n"),
  },
  {
    id: "use-dask",
    source: [
      "from dask.distributed import futures_of, get_client",
      "print('sum', int(y.sum().compute()))",
      "print('results', list(dask.compute(*zs)))",
      "print('statuses', [f.status for f in futures_of(y)])",
      "print('workers', len(get_client().scheduler_info()['workers']))",
    ].join("\n"),
  },
  // ── Parsl
  { id: "parsl-import", source: "import parsl\nfrom parsl.app.app import python_app\nfrom parsl.configs.local_threads import config" },
  { id: "parsl-load", source: "parsl.load(config)" },
  {
    id: "parsl-app",
    source: [
      "@python_app",
      "def multiply(a, b):",
      "    note(f'multiply {a} {b}')",
      "    return a * b",
      "print('product', multiply(5, 9).result())",
      "futs = [multiply(i, 2) for i in range(2)]",
      "print('products', [f.result() for f in futs])",
    ].join("\n"),
  },
];

describe("Dask and Parsl: values bound to an engine, and the engine cells a repeat needs", () => {
  let r: Repeated;
  beforeAll(async () => {
    r = await auditThenRepeat("dask-parsl", daskParsl, (cells) => {
      const edited = editCell(cells, "use-dask", cells.find((c) => c.id === "use-dask")!.source.replace("'sum'", "'total'"));
      edited.push({ id: "parsl-new", source: "print('new product', multiply(6, 7).result())" });
      return edited;
    });
  });

  it("the repeat completes and leaves no process behind", () => {
    expect(r.repeat.code, r.repeat.stderr).toBe(0);
    expect(r.repeat.survivors).toEqual([]);
  });

  it("records a persisted array and persisted delayed values as engine-bound, never as stored data", () => {
    const writes = recordsOf(join(r.dir, "nb.nbrewind"), "persist").flatMap((rec: any) => rec.writes);
    expect(writes.filter((w: any) => w.name === "y" || w.name === "zs").map((w: any) => w.status)).not.toContain("stored");
    expect(writes.find((w: any) => w.name === "y")).toMatchObject({ status: "engine-bound", engine: "dask", holds: "dask.distributed.Future", type: "dask.array.core.Array" });
    expect(writes.find((w: any) => w.name === "zs")).toMatchObject({ status: "engine-bound", engine: "dask", type: "builtins.tuple" });
  });

  it("recreates them by running their cell again, its tasks served (none runs on the engine), and says so in the plan", () => {
    const use = cellOf(r.out, "use-dask");
    expect(outputText(use)).toContain("total 56");
    expect(outputText(use)).toContain("results [1, 2, 3, 4]");
    // Live futures of this run: restored pickles would not be.
    expect(outputText(use)).toContain("statuses ['finished', 'finished', 'finished', 'finished']");
    expect(cellOf(r.out, "persist").metadata.nbrewind.decision).toBe("run");
    expect(r.ran.filter((t) => t === "block" || t === "inc")).toEqual([]);
    expect(r.repeat.stdout).toMatch(/`y` \(needed by cell 5\): a dask\.array\.core\.Array holding dask\.distributed\.Future\(s\), bound to the Dask cluster of the run that made it; it is never restored as data, so this cell runs again, its \d+ recorded task\(s\) served from the bundle/);
  });

  it("runs the cell that scaled the cluster again after the client cell, so the new cluster has its two workers", () => {
    expect(cellOf(r.out, "client").metadata.nbrewind.decision).toBe("run");
    expect(cellOf(r.out, "scale").metadata.nbrewind.decision).toBe("run");
    expect(cellOf(r.out, "scale").metadata.nbrewind.reason).toContain("acts on `client`");
    expect(outputText(cellOf(r.out, "use-dask"))).toContain("workers 2");
  });

  it("records a list of Parsl AppFutures as engine-bound", () => {
    const writes = recordsOf(join(r.dir, "nb.nbrewind"), "parsl-app").flatMap((rec: any) => rec.writes);
    expect(writes.find((w: any) => w.name === "futs")).toMatchObject({ status: "engine-bound", engine: "parsl", holds: "parsl.AppFuture", type: "builtins.list" });
  });

  it("a new cell calling a Parsl app gets the DataFlowKernel loaded before it", () => {
    expect(outputText(cellOf(r.out, "parsl-new"))).toBe("new product 42\n");
    expect(cellOf(r.out, "parsl-load").metadata.nbrewind.decision).toBe("run");
    expect(cellOf(r.out, "parsl-load").metadata.nbrewind.reason).toContain("cell 9 may use: it is new, so what it submits is not recorded, and it uses `multiply` from cell 8");
    expect(r.ran.filter((t) => t.startsWith("multiply"))).toEqual(["multiply 6 7"]);
  });
});

const rayCells: CellSpec[] = [
  { id: "counter", source: [...TaskCounter.preamble, "import numpy as np"].join("\n") },
  { id: "ray-init", source: "import ray, logging\nray.init(num_cpus=1, include_dashboard=False, logging_level=logging.ERROR)" },
  // As in academy's 01-Ray-Tasks: each remote function in a cell of its own, the refs made between them.
  { id: "ray-read", source: ["@ray.remote", "def read(i):", "    note(f'read {i}')", "    return np.arange(3) + i"].join("\n") },
  { id: "ray-add", source: ["@ray.remote", "def add_arrays(a, b):", "    note('add_arrays')", "    return np.add(a, a)"].join("\n") },
  { id: "ray-refs", source: "ref1 = read.remote(1)\nref2 = read.remote(10)" },
  { id: "ray-use", source: "print('added', ray.get(add_arrays.remote(ref1, ref2)).tolist())" },
];

describe("Ray: ObjectRefs are recreated in the repeat's session", () => {
  let r: Repeated;
  beforeAll(async () => {
    r = await auditThenRepeat("ray", rayCells, (cells) => editCell(cells, "ray-add", cells.find((c) => c.id === "ray-add")!.source.replace("np.add(a, a)", "np.add(a, b)")));
  });

  it("a bug fix in a remote function gets ObjectRefs of this session, their tasks served", () => {
    expect(r.repeat.code, r.repeat.stderr).toBe(0);
    expect(outputText(cellOf(r.out, "ray-use"))).toBe("added [11, 13, 15]\n");
    expect(cellOf(r.out, "ray-refs").metadata.nbrewind.decision).toBe("run");
    expect(r.ran).toEqual(["add_arrays"]);
    const writes = recordsOf(join(r.dir, "nb.nbrewind"), "ray-refs").flatMap((rec: any) => rec.writes);
    expect(writes.find((w: any) => w.name === "ref1")).toMatchObject({ status: "engine-bound", engine: "ray", holds: "ray.ObjectRef", type: "ray.ObjectRef" });
    expect(r.repeat.survivors).toEqual([]);
  });
});
