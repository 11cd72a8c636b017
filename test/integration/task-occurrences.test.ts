import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { cellOf, editCell, recordsOf, TaskCounter } from "./task-counter.js";

/**
 * A run keeps the engine's meaning: every submission is a task of its own,
 * a repeat replays the recorded samples in order, a task belongs to the cell
 * that submitted it, retries behave as without us, and results cheaper to
 * recompute than to store are not stored. Real Parsl (thread pool) and a real
 * Dask distributed client (in-process workers); what ran is counted on the
 * engine side (TaskCounter), from inside the worker thread or process.
 */
const root = tempDir("nbrewind-task-occurrences-");
const counter = new TaskCounter(root);
// The store's bandwidth fixed, slow (50 MB/s): whether an 8 MB chunk computed in a few ms is
// "cheaper to recompute" must not hang on a probe of this machine's disk while other tests load it.
const env = { ...counter.env, NBREWIND_STORE_BANDWIDTH: "50e6" };

/** Audit `cells` as a notebook in `dir` (counting afresh); the audited notebook's path. */
async function audit(dir: string, cells: CellSpec[]): Promise<string> {
  mkdirSync(dir);
  const nb = writeNotebookFile(dir, "nb.ipynb", cells);
  counter.reset();
  const res = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env });
  expect(res.code, res.stderr).toBe(0);
  expect(res.survivors).toEqual([]);
  return join(dir, "audit.ipynb");
}

function numbersIn(text: string): number[] {
  return (text.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
}

// ── Parsl: identical submissions ────────────────────────────────────────────
const parslCells: CellSpec[] = [
  {
    id: "setup",
    source: `import parsl, os\nfrom parsl.config import Config\nfrom parsl.executors import ThreadPoolExecutor\nfrom parsl.data_provider.files import File\nparsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=${JSON.stringify(join(root, "runinfo"))}))`,
  },
  {
    id: "apps",
    source: [
      ...TaskCounter.preamble,
      "from parsl import python_app, bash_app",
      "@python_app",
      "def pi(n):",
      "    import random",
      "    note('pi')",
      "    inside = sum(1 for _ in range(n) if random.random() ** 2 + random.random() ** 2 < 1)",
      "    return 4 * inside / n",
      "@bash_app",
      "def generate(outputs=()):",
      "    return f'echo rand >> {COUNTER}; echo $RANDOM$RANDOM > {outputs[0]}'",
      "def draw5(folder):",
      "    futures = [generate(outputs=[File(os.path.join(folder, f'rand-{i}.txt'))]) for i in range(5)]",
      "    return [int(open(f.outputs[0].result().filepath).read()) for f in futures]",
    ].join("\n"),
  },
  { id: "pis", source: "estimates = [pi(20_000) for _ in range(3)]\nprint('pis', [e.result() for e in estimates])" },
  { id: "gen1", source: `first = draw5(${JSON.stringify(root)})\nprint('first', first)` },
  { id: "gen2", source: `# the same five apps again, in a later cell\nsecond = draw5(${JSON.stringify(root)})\nprint('second', second)` },
];

describe("Parsl: identical submissions are distinct tasks, and a repeat replays their samples in order", () => {
  const dir = join(root, "parsl");
  let auditNb = "";

  beforeAll(async () => {
    auditNb = await audit(dir, parslCells);
  });

  it("the audit runs every submission: three pi(20000) give three estimates, and the later cell's five apps are not served the earlier cell's", () => {
    const ran = counter.ran();
    expect(ran.filter((t) => t === "pi")).toHaveLength(3);
    expect(ran.filter((t) => t === "rand")).toHaveLength(10);
    const [pis] = recordsOf(join(dir, "nb.nbrewind"), "pis");
    expect(pis.tasks.map((t: any) => t.occurrence)).toEqual([0, 1, 2]);
    expect(new Set(pis.tasks.map((t: any) => t.key)).size).toBe(1);
    expect(cellOf(auditNb, "gen2").metadata.nbrewind.tasks).toMatchObject({ total: 5, served: 0, dispatched: 5 });
    expect(outputText(cellOf(auditNb, "gen2"))).not.toBe(outputText(cellOf(auditNb, "gen1")).replace("first", "second"));
  });

  it("a repeat serves each cell's recorded samples in order: the same three estimates, and each cell its own five numbers", async () => {
    const copy = join(root, "parsl-repeat");
    cpSync(dir, copy, { recursive: true });
    let cells = editCell(parslCells, "pis", parslCells[2]!.source.replace("'pis'", "'estimates'"));
    cells = editCell(cells, "gen1", cells[3]!.source.replace("'first'", "'first draw'"));
    cells = editCell(cells, "gen2", cells[4]!.source.replace("'second'", "'second draw'"));
    const nb = writeNotebookFile(copy, "nb.ipynb", cells);
    counter.reset();
    const rep = await runCli(["repeat", nb, "-q", "-o", join(copy, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    expect(counter.ran()).toEqual([]);
    const out = (id: string, nbPath: string) => numbersIn(outputText(cellOf(nbPath, id)));
    const recorded = out("pis", auditNb);
    expect(new Set(recorded).size).toBe(3);
    expect(out("pis", join(copy, "repeat.ipynb"))).toEqual(recorded);
    for (const id of ["gen1", "gen2"]) expect(out(id, join(copy, "repeat.ipynb"))).toEqual(out(id, auditNb));
  });
});

// ── Dask distributed: pure=False, retries, attribution, storage ────────────
const daskCells: CellSpec[] = [
  { id: "setup", source: "from dask.distributed import Client, wait\nclient = Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None)" },
  {
    id: "funcs",
    source: [
      ...TaskCounter.preamble,
      "import time",
      "def inc(x):",
      "    note('inc')",
      "    return x + 1",
      "def flaky(i):",
      "    # The first attempt of each i fails, the retry succeeds (as with random failures, but certain).",
      "    note(f'flaky {i}')",
      "    marker = f'{COUNTER}.flaky-{i}'",
      "    if not os.path.exists(marker):",
      "        open(marker, 'w').close()",
      "        raise ValueError('You hit the error!')",
      "    return i * 10",
      "def slow(i):",
      "    time.sleep(0.8)",
      "    note('slow')",
      "    return i",
    ].join("\n"),
  },
  { id: "map1", source: "print('map1', client.gather(client.map(inc, range(5))))" },
  { id: "map2", source: "print('map2', client.gather(client.map(inc, range(5), pure=False)))" },
  { id: "retry", source: "print('retry', client.gather(client.map(flaky, range(4), retries=3, pure=False)))" },
  { id: "late", source: "pending = client.map(slow, range(3))" },
  { id: "after", source: "wait(pending)\nprint('after', sum(client.gather(pending)), client.submit(inc, 100).result())" },
  {
    id: "persist",
    // wait(y): the sum is served in the kernel at repeat (all its tasks are hits) while the
    // chunks, not stored at audit, run again; the cell waits for them as a notebook that
    // needs them would, so their results are recorded in this cell (it is the last one).
    source: ["import dask.array as da", "x = da.arange(4_000_000, chunks=1_000_000)", "y = (x + 1).persist()", "print('persist', int(y.sum().compute()))", "_ = wait(y)  # its repr lists a set of futures, in no fixed order"].join("\n"),
  },
];

describe("Dask distributed: pure=False within a run, retries, attribution to the submitting cell, results cheaper to recompute", () => {
  const dir = join(root, "dask");
  const bundle = join(dir, "nb.nbrewind");
  let auditNb = "";

  beforeAll(async () => {
    auditNb = await audit(dir, daskCells);
  });

  it("client.map(..., pure=False) is not served within the audit what an earlier cell computed", () => {
    expect(counter.ran().filter((t) => t === "inc")).toHaveLength(11);
    expect(cellOf(auditNb, "map2").metadata.nbrewind.tasks).toMatchObject({ total: 5, served: 0, dispatched: 5 });
  });

  it("retries behave as without us: each task failed once, then succeeded, and is recorded with its result, not as failed", () => {
    expect(counter.ran().filter((t) => t.startsWith("flaky"))).toHaveLength(8);
    expect(outputText(cellOf(auditNb, "retry"))).toContain("retry [0, 10, 20, 30]");
    const [retry] = recordsOf(bundle, "retry");
    expect(retry.tasks).toHaveLength(4);
    for (const t of retry.tasks) expect(t).toMatchObject({ status: "dispatched", result_digest: expect.any(String) });
  });

  it("a task belongs to the cell that submitted it, not to the cell during which it finished", () => {
    const [late] = recordsOf(bundle, "late");
    const [after] = recordsOf(bundle, "after");
    expect(late.tasks).toHaveLength(3);
    for (const t of late.tasks) expect(t).toMatchObject({ cell_id: "late", status: "dispatched", result_digest: expect.any(String) });
    expect(after.tasks.map((t: any) => t.function)).toEqual(["__main__.inc"]);
    expect(cellOf(auditNb, "after").metadata.nbrewind.tasks).toMatchObject({ total: 1 });
  });

  it("a persisted array cheaper to recompute than to store is not stored, and says why; the sum the cell receives is", () => {
    const [persist] = recordsOf(bundle, "persist");
    const chunks = persist.tasks.filter((t: any) => t.not_stored);
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    // Weighed against the bandwidth the environment gave (NBREWIND_STORE_BANDWIDTH), not a probe's.
    expect(chunks[0].reason).toMatch(/at 50 MB\/s write, 50 MB\/s read\)$/);
    for (const t of chunks) expect(t.reason).toMatch(/not stored: cheaper to recompute .* than to store and load/);
    expect(persist.task_bytes).toBeLessThan(1_000_000);
    const sums = persist.tasks.filter((t: any) => t.status === "dispatched" && t.result_digest);
    expect(sums.length).toBeGreaterThan(0);
  });

  it("repeat: the retried tasks are served; the chunks not stored are dispatched with that reason (--store all then stores them); results equal the audit", async () => {
    const copy = join(root, "dask-repeat");
    cpSync(dir, copy, { recursive: true });
    let cells = editCell(daskCells, "retry", daskCells[4]!.source.replace("'retry'", "'retried'"));
    cells = editCell(cells, "persist", daskCells[7]!.source.replace("'persist'", "'persisted'"));
    const nb = writeNotebookFile(copy, "nb.ipynb", cells);
    counter.reset();
    const rep = await runCli(["repeat", nb, "--store", "all", "--explain", "-o", join(copy, "repeat.ipynb")], { env });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.survivors).toEqual([]);
    expect(counter.ran().filter((t) => t.startsWith("flaky"))).toEqual([]);
    expect(cellOf(join(copy, "repeat.ipynb"), "retry").metadata.nbrewind.tasks).toMatchObject({ total: 4, served: 4 });
    expect(rep.stderr).toMatch(/dispatched because its result was left out of the bundle when recorded, cheaper to recompute \(/);
    const persisted = recordsOf(join(copy, "nb.nbrewind"), "persist").find((r: any) => r.tasks.every((t: any) => !t.not_stored));
    expect(persisted?.task_bytes).toBeGreaterThan(4 * 8_000_000);
    expect(numbersIn(outputText(cellOf(join(copy, "repeat.ipynb"), "persist")))).toEqual(numbersIn(outputText(cellOf(auditNb, "persist"))));
    expect(numbersIn(outputText(cellOf(join(copy, "repeat.ipynb"), "retry")))).toEqual(numbersIn(outputText(cellOf(auditNb, "retry"))));
  });
});
