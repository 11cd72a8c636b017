import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * The cross-site case with a real engine: a Dask notebook audited at
 * site A (its folder, its key) is packed and replayed at site B under another
 * path with another key. The replay changes a parameter the compute cell
 * reads but its tasks do not, so that cell really runs on a fresh
 * LocalCluster at B — and every one of its tasks must be served from the
 * unpacked bundle. What ran is counted on the engine side: each task
 * function appends to a file from inside the worker that runs it.
 */
const root = tempDir("nbrewind-share-dask-");
const siteA = join(root, "site-a");
const siteB = join(root, "site-b");
const taskLog = join(root, "tasks-ran.log");
const alice = { NBREWIND_CONFIG_DIR: join(root, "alice-config"), NBREWIND_TEST_TASKLOG: taskLog };
const bob = { NBREWIND_CONFIG_DIR: join(root, "bob-config"), NBREWIND_TEST_TASKLOG: taskLog };
const packed = join(root, "pipeline.nbrewind.tgz");

const cells: CellSpec[] = [
  { id: "params", source: "scale = 3\nrun_tag = 'first'", tags: ["parameters"] },
  {
    id: "setup",
    source: ["from dask.distributed import Client, LocalCluster", "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)", "client = Client(cluster)"].join("\n"),
  },
  {
    id: "funcs",
    source: [
      "import os",
      "def note(name):",
      "    with open(os.environ['NBREWIND_TEST_TASKLOG'], 'a') as f:",
      "        f.write(name + '\\n')",
      "def leaf(i, s):",
      "    note(f'leaf {i}')",
      "    return i * s",
      "def pair(a, b):",
      "    note('pair')",
      "    return a + b",
      "def total(xs):",
      "    note('total')",
      "    return sum(xs)",
    ].join("\n"),
  },
  {
    id: "compute",
    source: [
      "import dask",
      "from dask import delayed",
      "tags = {'run': run_tag}  # read, but no task depends on it",
      "leaves = [delayed(leaf)(i, scale) for i in range(100)]",
      "pairs = [delayed(pair)(leaves[2 * k], leaves[2 * k + 1]) for k in range(50)]",
      "(result,) = dask.compute(delayed(total)(pairs))",
      "print('result', result)",
    ].join("\n"),
  },
];

function ranTasks(): string[] {
  try {
    return readFileSync(taskLog, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

describe("audit a Dask notebook at one site, replay it at another", () => {
  beforeAll(async () => {
    mkdirSync(siteA, { recursive: true });
    mkdirSync(siteB, { recursive: true });
    const nb = writeNotebookFile(siteA, "pipeline.ipynb", cells);
    const audit = await runCli(["audit", nb, "-q"], { env: alice, cwd: siteA });
    expect(audit.code, audit.stderr).toBe(0);
    expect(ranTasks()).toHaveLength(151);
    const pack = await runCli(["pack", nb, "-o", packed], { env: alice, cwd: siteA });
    expect(pack.code, pack.stderr).toBe(0);
    // The sender hands over their public key; the receiver trusts it.
    const exported = await runCli(["keys", "export"], { env: alice });
    expect(exported.code, exported.stderr).toBe(0);
    const trusted = await runCli(["keys", "trust", exported.stdout.trim()], { env: bob });
    expect(trusted.code, trusted.stderr).toBe(0);
    rmSync(taskLog, { force: true });
  }, 300_000);

  it("runs the edited cell on a fresh cluster at the other site, serving every task from the unpacked bundle", async () => {
    const work = join(siteB, "work");
    const res = await runCli(["replay", packed, "-C", work, "-p", "run_tag", "second", "--check", "--json", "-q"], { env: bob, cwd: siteB });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.survivors).toEqual([]);
    const summary = JSON.parse(res.stdout);
    // The compute cell ran (it reads run_tag) ...
    expect(summary.cells.run).toBeGreaterThan(0);
    // ... but no task reached the engine: the counter kept by the task functions is empty.
    expect(ranTasks()).toEqual([]);
    expect(summary.tasks).toEqual({ total: 151, reused: 151, run: 0 });
    // And the numbers are the same as at the auditing site.
    expect(summary.outputs.matched).toBe(true);
  }, 300_000);
});
