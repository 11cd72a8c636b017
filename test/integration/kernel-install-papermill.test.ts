import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";
import { KernelWorld } from "./kernel/harness.js";

function run(cmd: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** A Dask notebook whose tasks append to a log from inside the worker: the engine-side counter. */
function daskNotebook(mode: "on" | "off"): CellSpec[] {
  return [
    { id: "mode", source: `%audit ${mode}` },
    { id: "setup", source: "import dask, os\nLOG = os.environ['TASK_LOG']\ndef leaf(i):\n    with open(LOG, 'a') as f:\n        f.write(f'leaf {i}\\n')\n    return i * i" },
    { id: "compute", source: "parts = [dask.delayed(leaf)(i) for i in range(6)]\nsquares = dask.compute(*parts, scheduler='threads')\nprint('squares', squares)" },
    { id: "total", source: "total = sum(squares)\ntotal" },
  ];
}

describe("the NBRewind kernel, installed", () => {
  const world = new KernelWorld();
  let specDir = "";

  beforeAll(async () => {
    specDir = await world.install();
  });

  afterAll(async () => {
    expect(await world.survivingKernels()).toEqual([]);
    rmSync(world.dir, { recursive: true, force: true });
  });

  it("installs a kernelspec that Jupyter lists, which kernel list shows and kernel uninstall removes", async () => {
    const specs = world.jupyterKernelspecs();
    expect(specs.nbrewind?.spec.display_name).toBe("Python 3 (NBRewind)");
    expect(specs.nbrewind?.spec.argv).toContain("{connection_file}");
    expect(specs.nbrewind?.resource_dir).toBe(specDir);

    const listed = await runCli(["kernel", "list", "--json"], { env: world.env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ name: "nbrewind", dir: specDir }));

    // A second one, under another name, removed again; a kernelspec not ours is refused.
    const other = await runCli(["kernel", "install", "--prefix", world.prefix, "--name", "nbrewind-2", "--display-name", "NBRewind two"], { env: world.env });
    expect(other.code, other.stderr).toBe(0);
    expect(world.jupyterKernelspecs()["nbrewind-2"]?.spec.display_name).toBe("NBRewind two");
    const removed = await runCli(["kernel", "uninstall", "--prefix", world.prefix, "--name", "nbrewind-2"], { env: world.env });
    expect(removed.code, removed.stderr).toBe(0);
    expect(world.jupyterKernelspecs()["nbrewind-2"]).toBeUndefined();
    const bad = await runCli(["kernel", "install", "--prefix", world.prefix, "--name", "bad/name"], { env: world.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--name");
  });

  it("passes jupyter_kernel_test (execute, complete, inspect, history, is_complete, stdin, display data, clear_output), as a plain proxy and in audit mode", async () => {
    const res = await run(world.python, [join(import.meta.dirname, "kernel", "conformance.py")], {
      cwd: world.dir,
      env: { ...world.env, NBREWIND_NOTEBOOK: join(world.dir, "conformance.ipynb") },
    });
    expect(res.out).toMatch(/Ran \d+ tests/);
    expect(res.code, res.out.split("\n").slice(-60).join("\n")).toBe(0);
    // audit mode recorded the suite's cells into the bundle beside the notebook the env names
    expect(existsSync(join(world.dir, "conformance.nbrewind", "manifest.json"))).toBe(true);
  });

  it("papermill -k nbrewind: %audit on records the Dask notebook; %audit off runs it again with no cell body executed and no task dispatched", async () => {
    const counter = new KernelCounter(join(world.dir, "pm"));
    const taskLog = join(world.dir, "pm-tasks.log");
    // The task log is the test's side channel, not the notebook's input: outside the notebook's folder, and hidden from
    // the shim's file observation (it records the log as read by the cell; deleting it between runs would make that cell run).
    const env = { ...world.env, ...counter.env, TASK_LOG: taskLog, NBREWIND_IGNORE_FILES: taskLog, NBREWIND_NOTEBOOK: join(world.dir, "pm", "dask.ipynb") };
    const dir = join(world.dir, "pm");
    writeNotebookFile(dir, "audit.ipynb", daskNotebook("on"));
    writeNotebookFile(dir, "repeat.ipynb", daskNotebook("off"));
    const tasks = () => (existsSync(taskLog) ? readFileSync(taskLog, "utf8").split("\n").filter(Boolean) : []);

    const first = await run(world.python, ["-m", "papermill", "-k", "nbrewind", "audit.ipynb", "audit.out.ipynb"], { cwd: dir, env });
    expect(first.code, first.out).toBe(0);
    expect(counter.executed()).toEqual(["import dask, os", "parts = [dask.delayed(leaf)(i) for i in range(6)]", "total = sum(squares)"]);
    expect(tasks().sort()).toEqual(["leaf 0", "leaf 1", "leaf 2", "leaf 3", "leaf 4", "leaf 5"]);
    const audited = readJson(join(dir, "audit.out.ipynb"));
    expect(outputText(audited.cells[2])).toContain("squares (0, 1, 4, 9, 16, 25)");
    expect(outputText(audited.cells[2])).toContain("6 task(s): 0 served from the bundle, 6 dispatched");

    counter.reset();
    rmSync(taskLog);
    const second = await run(world.python, ["-m", "papermill", "-k", "nbrewind", "repeat.ipynb", "repeat.out.ipynb"], { cwd: dir, env });
    expect(second.code, second.out).toBe(0);
    expect(counter.executed()).toEqual([]);
    expect(tasks()).toEqual([]);
    const repeated = readJson(join(dir, "repeat.out.ipynb"));
    // What the user sees: the recorded outputs, each cell saying it was reused.
    expect(outputText(repeated.cells[2])).toContain("squares (0, 1, 4, 9, 16, 25)");
    expect(outputText(repeated.cells[3])).toContain("55");
    for (const cell of repeated.cells.slice(1)) expect(outputText(cell)).toMatch(/reused from the bundle: not executed, saved \d/);
    expect(repeated.cells.map((c: { execution_count: number }) => c.execution_count)).toEqual([1, 2, 3, 4]);

    // The CLI's repeat uses the bundle the kernel wrote: the same cells, without the mode cell, are all reused.
    writeNotebookFile(dir, "plain.ipynb", daskNotebook("on").slice(1));
    const cli = await runCli(["repeat", "plain.ipynb", "--bundle", join(dir, "dask.nbrewind"), "--json", "-q"], { cwd: dir, env });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).counts).toMatchObject({ reused: 3, run: 0 });
  });
});
