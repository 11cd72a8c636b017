import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killProcessesMarkedWith } from "../../src/jupyter/process-sweep.js";
import { outputText, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { cellOf, editCell, recordsOf, TaskCounter } from "./task-counter.js";

/**
 * Task-level memoization on a real local Ray (ray.init with 2 CPUs: a raylet,
 * GCS and worker processes). What ran is counted on the engine side (see
 * TaskCounter): every remote function notes its name from inside the Ray
 * worker that runs it. One ray.init per kernel: Ray takes seconds to start,
 * so the notebooks are few.
 */
const root = tempDir("nbrewind-ray-tasks-");
const counter = new TaskCounter(root);
const env = counter.env;

// Both notebooks' function cells start with the counter and a stateful actor.
const counterAndTally = [
  ...TaskCounter.preamble,
  "@ray.remote",
  "class Tally:",
  "    def __init__(self):",
  "        self.n = 0",
  "    def add(self, k):",
  "        note('tally')",
  "        self.n += k",
  "        return self.n",
];

// source -> 200 leaves (the first 20 read `scale`) -> 100 pairs -> left / right -> join:
// 1 + 200 + 100 + 3 = 304 tasks. left and right take their pairs as a list of
// ObjectRefs (nested refs, fetched inside the task); the others take refs at the top level.
const mapReduce: CellSpec[] = [
  { id: "params", source: "scale = 2\noffset = 5", tags: ["parameters"] },
  { id: "setup", source: "import ray\nray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)" },
  {
    id: "funcs",
    source: [
      ...counterAndTally,
      "@ray.remote",
      "def source(seed):",
      "    note('source')",
      "    return seed * 10",
      "@ray.remote",
      "def leaf(i, base, s):",
      "    note(f'leaf {i}')",
      "    return base + i * s",
      "@ray.remote",
      "def pair(a, b):",
      "    note('pair')",
      "    return a + b",
      "def bias(x):",
      "    return x + 1",
      "@ray.remote",
      "def left(refs):",
      "    note('left')",
      "    return sum(ray.get(refs))",
      "@ray.remote",
      "def right(refs):",
      "    note('right')",
      "    return bias(sum(ray.get(refs)))",
      "@ray.remote",
      "def join(a, b):",
      "    note('join')",
      "    return a * 1000 + b",
    ].join("\n"),
  },
  // Before the compute cell: calls there are opaque to the static analysis (they may rebind
  // globals), so a later cell reading the funcs cell's names would run on every edit.
  {
    id: "actor",
    source: ["tally = Tally.remote()", "print('tally', ray.get([tally.add.remote(k) for k in range(3)]))"].join("\n"),
  },
  {
    id: "compute",
    source: [
      "src = source.remote(7)",
      "leaves = [leaf.remote(i, src, scale if i < 20 else 1) for i in range(200)]",
      "pairs = [pair.remote(leaves[2 * k], leaves[2 * k + 1]) for k in range(100)]",
      "total = join.options(name='join-all').remote(left.remote(pairs[:50]), right.remote(pairs[50:]))",
      "print('result', ray.get(total))",
    ].join("\n"),
  },
];

const mrDir = join(root, "map-reduce");

afterAll(async () => {
  // Last resort, should a failed run leave Ray behind: every process started by this file's
  // runs carries NBREWIND_TEST_TASKLOG=<this file's log> in its environment, and only those are stopped.
  await killProcessesMarkedWith("NBREWIND_TEST_TASKLOG", counter.logFile);
});

describe("Ray (local, 2 CPUs): a 304-task map-reduce with a diamond", () => {
  beforeAll(async () => {
    mkdirSync(mrDir);
    const nb = writeNotebookFile(mrDir, "nb.ipynb", mapReduce);
    counter.reset();
    const res = await runCli(["audit", nb, "-q", "-o", join(mrDir, "audit.ipynb")], { env });
    expect(res.code, res.stderr).toBe(0);
    // Ray was shut down at the end of the run: no raylet, GCS or worker left behind.
    expect(res.survivors).toEqual([]);
  });

  it("the audit ran every task once on the engine and recorded the cell's task graph and the set-up cell", () => {
    const ran = counter.ran();
    expect(ran.filter((t) => t.startsWith("leaf"))).toHaveLength(200);
    expect(ran.filter((t) => t === "pair")).toHaveLength(100);
    expect(ran.filter((t) => ["source", "left", "right", "join"].includes(t))).toEqual(["join", "left", "right", "source"]);
    const meta = cellOf(join(mrDir, "audit.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, served: 0, dispatched: 304, uncached: 0, failed: 0 });
    const [compute] = recordsOf(join(mrDir, "nb.nbrewind"), "compute");
    const byFunction = (name: string) => compute.tasks.filter((t: any) => t.function === `__main__.${name}`);
    // The diamond, as recorded: join reads left and right, which read 50 pairs each; every leaf reads source.
    const [join1] = byFunction("join");
    expect(join1.upstream.sort()).toEqual([byFunction("left")[0].key, byFunction("right")[0].key].sort());
    expect(byFunction("left")[0].upstream).toHaveLength(50);
    expect(byFunction("leaf").every((t: any) => t.upstream.includes(byFunction("source")[0].key))).toBe(true);
    // Results were persisted where they were produced: in the Ray workers, not from the kernel.
    expect(compute.tasks.every((t: any) => t.result_digest && typeof t.where?.pid === "number" && !t.where.client)).toBe(true);
    const setup = cellOf(join(mrDir, "audit.ipynb"), "setup").metadata.nbrewind;
    expect(setup.engines.started).toContain("ray");
  });

  it("an actor method call is recorded as not cached, with the reason", () => {
    const meta = cellOf(join(mrDir, "audit.ipynb"), "actor").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 3, served: 0, uncached: 3 });
    const [actor] = recordsOf(join(mrDir, "nb.nbrewind"), "actor");
    expect(actor.tasks.map((t: any) => [t.function, t.status, t.key, t.reason])).toEqual(Array(3).fill(["Tally.add", "uncached", null, "actor method"]));
  });

  it("a parameter read by 10% of the leaves: exactly those leaves and their downstream run, after the ray.init cell; results equal a fresh run", async () => {
    const dir = join(root, "mr-scale");
    cpSync(mrDir, dir, { recursive: true });
    const nb = join(dir, "nb.ipynb");
    counter.reset();
    const rep = await runCli(["repeat", nb, "-p", "scale", "3", "-o", join(dir, "repeat.ipynb"), "--explain"], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    const leaves = Array.from({ length: 20 }, (_, i) => `leaf ${i}`);
    expect(counter.ran()).toEqual([...leaves, "join", "left", ...Array(10).fill("pair")].sort());
    // The compute cell never names Ray's runtime: the set-up cell runs because the shim saw it call ray.init.
    expect(cellOf(join(dir, "repeat.ipynb"), "setup").metadata.nbrewind.decision).toBe("run");
    expect(rep.stdout).toMatch(/starts the ray engine that cell 6 submits tasks to/);
    expect(rep.stderr).toMatch(/20 × leaf dispatched because argument 3 changed/);
    expect(rep.stderr).toMatch(/10 × pair dispatched because argument 1 \(the result of a task that re-ran\), argument 2 \(the result of a task that re-ran\) changed/);
    const meta = cellOf(join(dir, "repeat.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, served: 304 - 32, dispatched: 32 });

    counter.reset();
    const fresh = await runCli(["run", nb, "-p", "scale", "3", "-o", join(dir, "fresh.ipynb"), "-q"], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.survivors).toEqual([]);
    expect(counter.ran().length).toBeGreaterThanOrEqual(304); // the plain run memoizes nothing
    expect(outputText(cellOf(join(dir, "repeat.ipynb"), "compute"))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), "compute")));
  });

  it("a helper called by one task changed: only that task and its downstream run", async () => {
    const dir = join(root, "mr-helper");
    cpSync(mrDir, dir, { recursive: true });
    const funcs = mapReduce.find((c) => c.id === "funcs")!.source.replace("    return x + 1", "    return x + 2");
    const nb = writeNotebookFile(dir, "nb.ipynb", editCell(mapReduce, "funcs", funcs));
    counter.reset();
    const rep = await runCli(["repeat", nb, "-q", "-o", join(dir, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    // The actor cell reads the edited cell too: its method calls are never cached, so they run again.
    expect(counter.ran()).toEqual(["join", "right", "tally", "tally", "tally"]);
    const meta = cellOf(join(dir, "repeat.ipynb"), "compute").metadata.nbrewind;
    expect(meta.tasks).toMatchObject({ total: 304, served: 302, dispatched: 2 });

    const fresh = await runCli(["run", nb, "-o", join(dir, "fresh.ipynb"), "-q"], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    for (const id of ["compute", "actor"]) expect(outputText(cellOf(join(dir, "repeat.ipynb"), id))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), id)));
  });
});

// ── soundness: what a task reads, beyond its explicit arguments ─────────────
const soundness: CellSpec[] = [
  { id: "params", source: "K = 1\nD = 1\nCHANGED = 3", tags: ["parameters"] },
  { id: "setup", source: "import ray\nimport numpy as np\nray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)" },
  {
    id: "funcs",
    source: counterAndTally.join("\n"),
  },
  {
    id: "closure",
    source: ["@ray.remote", "def add_k(x):", "    note(f'add_k {x}')", "    return x + K", "print('closure', ray.get([add_k.remote(i) for i in range(3)]))"].join("\n"),
  },
  {
    id: "default",
    source: ["@ray.remote", "def with_default(x, d=D):", "    note(f'with_default {x}')", "    return x * d", "print('default', ray.get([with_default.remote(i) for i in range(3)]))"].join("\n"),
  },
  {
    id: "arrays",
    source: [
      "@ray.remote",
      "def total(a):",
      "    note(f'total {a[0]}')",
      "    return int(a.sum())",
      "arrays = [np.arange(1000) + 10_000 * j for j in range(3)]",
      "arrays[1][CHANGED] = -1",
      "# ray.put values are keyed by content: one changed element is a new key",
      "stored = [ray.put(a) for a in arrays]",
      "print('arrays', ray.get([total.remote(s) for s in stored]))",
    ].join("\n"),
  },
  {
    id: "handle",
    source: ["@ray.remote", "def via_actor(t, k):", "    note('via_actor')", "    return ray.get(t.add.remote(k))", "print('handle', ray.get(via_actor.remote(Tally.remote(), CHANGED)))"].join("\n"),
  },
  {
    id: "shapes",
    source: [
      "# the same code under two names, one with two returns",
      "@ray.remote",
      "def as_pair(x):",
      "    note('shape')",
      "    return (x, x + 1)",
      "@ray.remote(num_returns=2)",
      "def as_two(x):",
      "    note('shape')",
      "    return (x, x + 1)",
      "print('shapes', ray.get(as_pair.remote(7)), ray.get(list(as_two.remote(7))), ray.get(list(as_pair.options(num_returns=2).remote(7))))",
    ].join("\n"),
  },
  {
    id: "nested",
    source: ["@ray.remote", "def inner(x):", "    note('inner')", "    return x * 3", "@ray.remote", "def outer(x):", "    note('outer')", "    return ray.get(inner.remote(x)) + 1", "print('nested', ray.get(outer.remote(5)))"].join("\n"),
  },
];

describe("Ray soundness: a changed global, a default, one array element through ray.put, an actor handle argument", () => {
  const dir = join(root, "soundness");

  beforeAll(async () => {
    mkdirSync(dir);
    const nb = writeNotebookFile(dir, "nb.ipynb", soundness);
    counter.reset();
    const res = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env });
    expect(res.code, res.stderr).toBe(0);
    expect(res.survivors).toEqual([]);
  });

  it("a task that takes an actor handle is recorded as not cached, with the reason", () => {
    const [handle] = recordsOf(join(dir, "nb.nbrewind"), "handle");
    const byFunction = Object.fromEntries(handle.tasks.map((t: any) => [t.function, t]));
    expect(byFunction["__main__.via_actor"]).toMatchObject({ status: "uncached", key: null });
    expect(byFunction["__main__.via_actor"].reason).toMatch(/actor handle/);
  });

  it("the remote function's name and num_returns (decorator or .options) are part of its key; a remote function calling another is keyed", () => {
    const [shapes] = recordsOf(join(dir, "nb.nbrewind"), "shapes");
    expect(shapes.tasks.map((t: any) => t.function)).toEqual(["__main__.as_pair", "__main__.as_two", "__main__.as_pair"]);
    expect(new Set(shapes.tasks.map((t: any) => t.key)).size).toBe(3);
    const [nested] = recordsOf(join(dir, "nb.nbrewind"), "nested");
    const outer = nested.tasks.find((t: any) => t.function === "__main__.outer");
    expect(outer).toMatchObject({ status: "dispatched", key: expect.stringMatching(/^[0-9a-f]{64}$/), result_digest: expect.any(String) });
  });

  it("exactly the tasks whose global, default or array element changed run again; results equal a fresh run", async () => {
    const nb = join(dir, "nb.ipynb");
    const params = ["-p", "K", "2", "-p", "D", "5", "-p", "CHANGED", "4"];
    counter.reset();
    const rep = await runCli(["repeat", nb, ...params, "-q", "-o", join(dir, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    // arrays[0] and arrays[2] are unchanged: their tasks are served; the actor's task is never cached.
    expect(counter.ran()).toEqual(["add_k 0", "add_k 1", "add_k 2", "tally", "total 10000", "via_actor", "with_default 0", "with_default 1", "with_default 2"]);
    expect(cellOf(join(dir, "repeat.ipynb"), "arrays").metadata.nbrewind.tasks).toMatchObject({ total: 3, served: 2, dispatched: 1 });
    const fresh = await runCli(["run", nb, ...params, "-q", "-o", join(dir, "fresh.ipynb")], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    for (const id of ["closure", "default", "arrays", "handle"]) expect(outputText(cellOf(join(dir, "repeat.ipynb"), id))).toBe(outputText(cellOf(join(dir, "fresh.ipynb"), id)));
  });
});
