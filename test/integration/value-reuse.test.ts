import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
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
