import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../../src/cli/progress.js";
import type { ExecutableCell } from "../../../src/jupyter/notebook-executor.js";
import { cellLabel, cellName, cellNumber } from "../../../src/notebook/cell-label.js";

// Issue 9, item 7: one number and one label per cell, everywhere.
describe("cell labels", () => {
  it("skip imports, comments, blank lines and cell magics", () => {
    const parslCell = "import parsl\nfrom parsl.app.app import python_app, bash_app\nfrom parsl.configs.local_threads import config\n\nparsl.load(config)\n";
    expect(cellLabel(parslCell)).toBe("parsl.load(config)");
    expect(cellLabel("%%time\n# sum them\ntotal = sum(xs)")).toBe("total = sum(xs)");
    expect(cellLabel("from a import (\n    b,\n    c,\n)\nrun(b)")).toBe("run(b)");
    expect(cellLabel('import os\n""" This config assumes\nthat it runs on a login node.\n"""\nconfig = Config()')).toBe("config = Config()");
  });

  it("fall back to the first line when the cell is only imports", () => {
    expect(cellLabel("import numpy as np\nimport dask")).toBe("import numpy as np");
    expect(cellLabel("")).toBe("");
  });

  it("number a cell by its 1-based position among all cells", () => {
    expect(cellNumber(0)).toBe(1);
    expect(cellName(3)).toBe("cell 4");
  });
});

describe("progress lines", () => {
  it("use the cell's number among all cells and its label", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString()));
    const progress = new ProgressReporter(out, true, 19);
    const cell = { cell_type: "code", source: "import parsl\nparsl.load(config)", metadata: {}, outputs: [], execution_count: null, id: "x" } as unknown as ExecutableCell;
    // The 7th code cell, at position 13 (from 0) of 19 cells.
    progress.cellStarted(cell, 12, 7, 8);
    progress.cellFinished({ index: 12, id: "x", status: "ok", durationMs: 10, executionCount: 1, outputs: 0 }, 7, 8, cell);
    expect(text).toContain("[13/19] running: parsl.load(config)");
    expect(text).toMatch(/\[13\/19\] ran .* parsl\.load\(config\)/);
  });
});
