import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import { engineImports } from "../../../src/planner/engines.js";
import { sha256 } from "../../../src/planner/fingerprint.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell, RecordedTask, RecordedWrite } from "../../../src/planner/recorded.js";

beforeAll(async () => {
  await loadPythonParser();
});

type Cells = { id: string; source: string }[];
interface Observed {
  engines?: { started: string[]; used: string[] };
  /** Writes other than plain stored values, by name. */
  writes?: Record<string, Partial<RecordedWrite>>;
  tasks?: number;
}

function plan(cells: Cells, records = new Map<string, RecordedCell>(), runAll = false): Plan {
  return makePlan({ cells: cells.map((c, index) => ({ ...c, index })), graph: buildGraph(cells), records, runAll });
}

function task(i: number): RecordedTask {
  return { key: sha256(`task ${i}`), engine: "dask", function: "m.f", arg_keys: [], upstream: [], engine_key: `f-${i}`, status: "dispatched", result_digest: sha256(`r${i}`), result_size: 8 };
}

/** Records as an audit would leave them, with what the shim observed per cell. */
function recordAll(cells: Cells, observed: Record<string, Observed>): Map<string, RecordedCell> {
  const records = new Map<string, RecordedCell>();
  for (const c of plan(cells, new Map(), true).cells) {
    const o = observed[c.id] ?? {};
    records.set(c.identity.fingerprint, {
      fingerprint: c.identity.fingerprint,
      cell_id: c.id,
      source_hash: c.identity.sourceHash,
      status: "ok",
      reads: c.identity.reads,
      writes: c.candidates.map((name) => ({ name, status: "stored", digest: sha256(`${name}@${c.id}`), size: 10, type: "int", ...o.writes?.[name] }) as RecordedWrite),
      outputs: [],
      execution_count: c.index + 1,
      duration_s: 1,
      recorded_at: "2026-11-24T00:00:00Z",
      value_key: sha256(`value:${c.identity.fingerprint}`),
      ...(o.engines ? { engines: o.engines } : {}),
      ...(o.tasks ? { tasks: Array.from({ length: o.tasks }, (_, i) => task(i)), task_key_scheme: 1 } : {}),
    });
  }
  return records;
}

const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));
const reasons = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.reasons;
const handle = { status: "unserialisable", type: "distributed.client.Client", reason: "dask.distributed.Client: holds live connections to a scheduler" } as const;

describe("engine set-up cells of running cells that submitted work when recorded", () => {
  // The compute cell never names the client: only the shim's observations link them.
  const cells: Cells = [
    { id: "params", source: "scale = 2" },
    { id: "setup", source: "import dask.distributed\nstart_cluster()" },
    { id: "other", source: "label = 'x'" },
    { id: "compute", source: "import dask\nresult = dask.compute(work(scale))" },
  ];
  const observed: Record<string, Observed> = { setup: { engines: { started: ["dask:distributed"], used: [] } }, compute: { engines: { started: [], used: ["dask:distributed"] } } };

  it("a running cell that submitted to an engine makes the cell that started it run first", () => {
    const edited = cells.map((c) => (c.id === "params" ? { ...c, source: "scale = 3" } : c));
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toEqual({ params: "run", setup: "run", other: "reuse", compute: "run" });
    expect(reasons(p, "setup")).toEqual(["starts the dask:distributed engine that cell 4 submits tasks to (observed when they were recorded)"]);
  });

  it("no running cell submits to the engine: its set-up cell stays reused", () => {
    const edited = cells.map((c) => (c.id === "other" ? { ...c, source: "label = 'y'" } : c));
    expect(decisions(plan(edited, recordAll(cells, observed)))).toEqual({ params: "reuse", setup: "reuse", other: "run", compute: "reuse" });
  });

  it("another engine's set-up is left alone", () => {
    const edited = cells.map((c) => (c.id === "params" ? { ...c, source: "scale = 3" } : c));
    const p = plan(edited, recordAll(cells, { setup: { engines: { started: ["ray"], used: [] } }, compute: observed.compute! }));
    expect(decisions(p).setup).toBe("reuse");
  });
});

describe("engine-bound values", () => {
  const cells: Cells = [
    { id: "client", source: "from dask.distributed import Client\nclient = Client()" },
    { id: "persist", source: "import dask.array as da\ny = da.ones(10, chunks=2).persist()" },
    { id: "use", source: "print(y.sum().compute())" },
  ];
  const observed: Record<string, Observed> = {
    client: { engines: { started: ["dask:distributed"], used: [] }, writes: { client: handle } },
    persist: {
      engines: { started: [], used: ["dask:distributed"] },
      tasks: 5,
      writes: { y: { status: "engine-bound", type: "dask.array.core.Array", engine: "dask", holds: "dask.distributed.Future", reason: "a dask.array.core.Array holding dask.distributed.Future(s), bound to the Dask cluster of the run that made it" } },
    },
  };

  it("are never restored: their producer runs again, with its engine, and the plan says why and how cheaply", () => {
    const edited = cells.map((c) => (c.id === "use" ? { ...c, source: "print(y.mean().compute())" } : c));
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toEqual({ client: "run", persist: "run", use: "run" });
    expect(p.cells.flatMap((c) => c.restores)).toEqual([]);
    expect(reasons(p, "persist")).toEqual([
      "`y` (needed by cell 3): a dask.array.core.Array holding dask.distributed.Future(s), bound to the Dask cluster of the run that made it; it is never restored as data, so this cell runs again, its 5 recorded task(s) served from the bundle",
    ]);
  });
});

describe("engines for a cell whose engine use is unknown", () => {
  const cells: Cells = [
    { id: "imports", source: "import parsl\nfrom parsl.app.app import python_app\nfrom parsl.configs.local_threads import config" },
    { id: "load", source: "parsl.load(config)" },
    { id: "app", source: "@python_app\ndef multiply(a, b):\n    return a * b\nprint(multiply(5, 9).result())" },
    { id: "plain", source: "n = 3" },
  ];
  const observed: Record<string, Observed> = { load: { engines: { started: ["parsl"], used: [] } }, app: { engines: { started: [], used: ["parsl"] }, tasks: 1 } };

  it("a new cell that calls an app made by a cell that used the engine gets the set-up cell run before it", () => {
    const edited = [...cells, { id: "new", source: "print(multiply(6, 7).result())" }];
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toMatchObject({ load: "run", new: "run", plain: "reuse" });
    expect(reasons(p, "load")).toEqual(["starts the parsl engine that cell 5 may use: it is new, so what it submits is not recorded, and it uses `multiply` from cell 3, which submitted parsl tasks when recorded"]);
  });

  it("an edited cell that names a decorator imported from the engine gets the set-up cell too", () => {
    const edited = cells.map((c) => (c.id === "app" ? { ...c, id: "app-edited", source: c.source.replace("5, 9", "5, 10") } : c));
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toMatchObject({ load: "run", "app-edited": "run" });
    expect(reasons(p, "load")[0]).toContain("it uses `python_app`, imported from parsl in cell 1");
  });

  it("a new cell that names nothing of the engine leaves the set-up cell reused", () => {
    const edited = [...cells, { id: "new", source: "print(n + 1)" }];
    expect(decisions(plan(edited, recordAll(cells, observed)))).toMatchObject({ load: "reuse", new: "run" });
  });
});

describe("an edited cell reading what a cell that used the engine made", () => {
  // The shim records, per stored value, the engines whose objects it holds (reaches_engines).
  const cells: Cells = [
    { id: "imports", source: "import parsl\nfrom parsl.app.app import python_app\nfrom parsl.configs.local_threads import config" },
    { id: "load", source: "parsl.load(config)" },
    { id: "app", source: "@python_app\ndef multiply(a, b):\n    return a * b\nresults = [multiply(i, 2).result() for i in range(3)]" },
    { id: "last", source: "TOP = 2\nprint(sorted(results)[:TOP])" },
  ];
  const observed = (results: string[] | undefined): Record<string, Observed> => ({
    load: { engines: { started: ["parsl"], used: [] } },
    app: { engines: { started: [], used: ["parsl"] }, tasks: 3, writes: { multiply: { reaches_engines: ["parsl"] }, results: results ? { reaches_engines: results } : {} } },
  });
  const edited = cells.map((c) => (c.id === "last" ? { ...c, source: c.source.replace("TOP = 2", "TOP = 1") } : c));

  it("reads gathered results, plain data: the engine's set-up cell stays reused (no engine started for a cell that cannot submit)", () => {
    expect(decisions(plan(edited, recordAll(cells, observed([]))))).toEqual({ imports: "reuse", load: "reuse", app: "reuse", last: "run" });
  });

  it("reads a value holding an engine object (an app, a lazy collection), or one recorded by an older shim: the set-up cell runs first", () => {
    const p = plan(edited, recordAll(cells, observed(["parsl"])));
    expect(decisions(p)).toMatchObject({ load: "run", app: "reuse", last: "run" });
    expect(reasons(p, "load")).toEqual(["starts the parsl engine that cell 4 may use: it is edited, so what it submits is not recorded, and it uses `results` from cell 3, which submitted parsl tasks when recorded"]);
    expect(decisions(plan(edited, recordAll(cells, observed(undefined))))).toMatchObject({ load: "run", last: "run" });
  });
});

describe("cells that acted on an engine object run again after its set-up cell", () => {
  const cells: Cells = [
    { id: "client", source: "from dask.distributed import Client\nclient = Client(n_workers=1)" },
    { id: "scale", source: "client.cluster.scale(10)" },
    { id: "submit", source: "f = client.submit(sum, [1, 2])\nr = f.result()" },
    { id: "params", source: "n = 16" },
    { id: "compute", source: "import dask\nzs = dask.compute([n])" },
  ];
  const observed: Record<string, Observed> = {
    client: { engines: { started: ["dask:distributed"], used: [] }, writes: { client: handle } },
    submit: { engines: { started: [], used: ["dask:distributed"] }, tasks: 1 },
    compute: { engines: { started: [], used: ["dask:distributed"] }, tasks: 1 },
  };

  it("the scale cell runs again, in order; a cell that only submitted tasks through the client stays reused", () => {
    const edited = cells.map((c) => (c.id === "params" ? { ...c, source: "n = 8" } : c));
    const p = plan(edited, recordAll(cells, observed));
    expect(decisions(p)).toEqual({ client: "run", scale: "run", submit: "reuse", params: "run", compute: "run" });
    expect(reasons(p, "scale")).toEqual(["acts on `client`, the engine object cell 1 creates again: it runs again after it, so the new engine is set up as the recorded one was"]);
  });

  it("when the client cell stays reused, so does the scale cell", () => {
    const edited = [...cells, { id: "more", source: "m = 1" }];
    expect(decisions(plan(edited, recordAll(cells, observed)))).toMatchObject({ client: "reuse", scale: "reuse" });
  });
});

describe("engineImports", () => {
  it("finds the names a cell binds from engine modules, and only those", () => {
    const source = [
      "import os, dask.array as da",
      "import ray",
      "from parsl.app.app import python_app, bash_app as bash",
      "from dask.distributed import (Client,",
      "    progress)",
      "from numpy import array",
      "import distributed.worker",
    ].join("\n");
    expect(Object.fromEntries(engineImports(source))).toEqual({ da: "dask", ray: "ray", python_app: "parsl", bash: "parsl", Client: "dask", progress: "dask", distributed: "dask" });
  });
});
