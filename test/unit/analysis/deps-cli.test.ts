import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { runMain } from "../cli/run-main.js";

const cli = (...argv: string[]) => runMain(argv);

function notebook(): string {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-deps-"));
  const code = (id: string, source: string | string[]) => ({ cell_type: "code", id, metadata: {}, execution_count: null, outputs: [], source });
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "markdown", id: "md", metadata: {}, source: "# title" },
      code("imports", ["import numpy as np\n", "N = 10"]),
      code("data", "x = np.arange(N)\n"),
      code("stats", "%time m = x.mean()\n"),
      code("shell", "%%bash\nls\n"),
      code("broken", "y = = 2\n"),
    ],
  };
  const path = join(dir, "demo.ipynb");
  writeFileSync(path, JSON.stringify(nb));
  return path;
}

describe("nbrewind-engine deps", () => {
  it("prints the graph readably", async () => {
    const { code, out } = await cli("deps", notebook());
    expect(code).toBe(0);
    expect(out).toMatch(/5 code cells/);
    expect(out).toMatch(/\[3\] data {2}x = np\.arange\(N\)/);
    expect(out).toMatch(/reads +N ← \[2\], np ← \[2\]/);
    expect(out).toMatch(/opaque +cell magic %%bash/);
    expect(out).toMatch(/error +syntax error at line 1, column 5/);
  });

  it("writes JSON that matches its schema", async () => {
    const { code, out } = await cli("deps", notebook(), "--json");
    expect(code).toBe(0);
    const doc = JSON.parse(out) as { cells: { id: string; notebookIndex: number }[]; edges: { from: string; to: string; names: string[] }[] };
    const schema = JSON.parse(readFileSync(join(packageRoot(), "schemas", "deps.schema.json"), "utf8")) as object;
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(schema, doc), ajv.errorsText()).toBe(true);
    expect(doc.cells.map((c) => c.notebookIndex)).toEqual([1, 2, 3, 4, 5]);
    expect(doc.edges).toContainEqual({ from: "data", to: "stats", names: ["x"] });
  });

  it("writes Graphviz", async () => {
    const { code, out } = await cli("deps", notebook(), "--dot");
    expect(code).toBe(0);
    expect(out).toMatch(/^digraph notebook \{/);
    expect(out).toContain('"imports" -> "data" [label="N, np"];');
  });

  it("names a missing notebook and exits 2", async () => {
    const { code, err } = await cli("deps", "/nonexistent/nb.ipynb");
    expect(code).toBe(2);
    expect(err).toContain("/nonexistent/nb.ipynb");
  });

  it("teaches with an example in --help", async () => {
    const { code, out } = await cli("deps", "--help");
    expect(code).toBe(0);
    expect(out).toMatch(/Example:/);
    expect(out).toMatch(/--dot/);
  });
});
