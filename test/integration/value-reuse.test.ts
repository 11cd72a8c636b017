import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

/**
 * A cell the static plan runs "because its input may have changed" is reused
 * when the values it reads turn out identical. The next repeat, with no
 * edit, must then reuse it too, without a kernel: seen in dask-tutorial's
 * 03_dask.delayed (issue 9's corpus), where a dozen such cells ran again on
 * every repeat and replay.
 */
describe("a cell reused for identical input values", () => {
  it("is reused by the next repeat as well, with no kernel started", async () => {
    const dir = tempDir("nbrewind-value-reuse-");
    const counter = new KernelCounter(dir);
    const cells: CellSpec[] = [
      { id: "params", source: "# cell:params\nn = 3" },
      { id: "square", source: "# cell:square\nsquare = n * n\nprint(square)" },
    ];
    const nb = writeNotebookFile(dir, "nb.ipynb", cells);
    const audit = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { env: counter.env });
    expect(audit.code, audit.stderr).toBe(0);
    // A new source, the same value of n.
    writeNotebookFile(dir, "nb.ipynb", [{ id: "params", source: "# cell:params\nn = 3  # three" }, cells[1]!]);
    counter.reset();
    const first = await runCli(["repeat", nb, "-q", "-o", join(dir, "first.ipynb")], { env: counter.env });
    expect(first.code, first.stderr).toBe(0);
    expect(counter.executed()).toEqual(["# cell:params"]);

    counter.reset();
    const again = await runCli(["repeat", nb, "-o", join(dir, "again.ipynb"), "--json"], { env: counter.env });
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout);
    // Planned as reused, not found identical once a kernel was up.
    expect(summary.plan.counts).toMatchObject({ reuse: 2, run: 0 });
    expect(summary.counts).toMatchObject({ reused: 2, run: 0 });
    expect(counter.executed()).toEqual([]);
  });
});

/**
 * The same conversion must never apply to a cell reading a value bound to an
 * engine (AppFutures, ObjectRefs, Dask futures): such a value is known by its
 * producer's fingerprint, not by its content. Here the producer runs again
 * because a task of it reads a data file that changed; its fingerprint is the
 * same, so the reader's value key is the recorded one, yet the futures now
 * hold other results (bench:cases climate found this with Ray ObjectRefs).
 */
describe("a cell reading engine-bound values from a cell that ran again", () => {
  it("runs, and prints what the new data gives, never the recorded output", async () => {
    const dir = tempDir("nbrewind-value-reuse-engine-");
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "a.txt"), "1 2");
    writeFileSync(join(dir, "data", "b.txt"), "3 4");
    const cells: CellSpec[] = [
      {
        id: "setup",
        source: ["import parsl", "from parsl.config import Config", "from parsl.executors import ThreadPoolExecutor", `parsl.load(Config(executors=[ThreadPoolExecutor(label='threads', max_threads=2)], run_dir=${JSON.stringify(join(dir, "runinfo"))}))`, "pass"].join("\n"),
      },
      { id: "app", source: "@parsl.python_app\ndef read(path):\n    with open(path) as f:\n        return sum(int(x) for x in f.read().split())" },
      { id: "submit", source: "futs = [read(f'data/{n}.txt') for n in ('a', 'b')]" },
      // Reads the AppFutures (engine-bound) and writes a plain int.
      { id: "total", source: "total = sum(f.result() for f in futs)\nprint('total', total)" },
    ];
    const nb = writeNotebookFile(dir, "nb.ipynb", cells);
    const audit = await runCli(["audit", nb, "-q", "-o", join(dir, "audit.ipynb")], { cwd: dir });
    expect(audit.code, audit.stderr).toBe(0);
    expect(outputText(readJson(join(dir, "audit.ipynb")).cells[3])).toBe("total 10\n");

    writeFileSync(join(dir, "data", "a.txt"), "5 2");
    const repeat = await runCli(["repeat", nb, "-q", "-o", join(dir, "repeat.ipynb")], { cwd: dir });
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(repeat.survivors).toEqual([]);
    const total = readJson(join(dir, "repeat.ipynb")).cells[3];
    expect(total.metadata.nbrewind.decision).toBe("run");
    expect(outputText(total)).toBe("total 14\n");
  });
});
