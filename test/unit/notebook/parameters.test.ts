import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/common/errors.js";
import {
  codifyParameters, collectParameters, injectParameters, isPythonIdentifier, parseParameterValue, pythonLiteral, readParameterFile,
  type ParameterValue,
} from "../../../src/notebook/parameters.js";
import { LITERALS } from "./literal-table.js";
import { PyFloat } from "../../../src/notebook/python-float.js";
import { cellSource } from "../../../src/notebook/source.js";
import { serializeNotebook } from "../../../src/notebook/write.js";
import { validateNotebook } from "../../../src/notebook/validate.js";
import type { Cell } from "../../../src/notebook/types.js";
import { code, errorOf, fixture, notebook, tempDir } from "./helpers.js";

describe("pythonLiteral (papermill's PythonTranslator.translate)", () => {
  it.each(LITERALS)("%s", (_what, value, literal) => expect(pythonLiteral(value)).toBe(literal));

  it("codify: a comment line, then one assignment per parameter, in order", () => {
    expect(codifyParameters({ alpha: 0.1, name: "x", n: 3 })).toBe('# Parameters\nalpha = 0.1\nname = "x"\nn = 3\n');
  });
});

describe("parseParameterValue (-p)", () => {
  it.each<[string, ParameterValue]>([
    ["True", true], ["true", true], ["False", false], ["false", false], ["None", null], ["null", null],
    ["TRUE", "TRUE"], ["none", "none"], ["yes", "yes"],
    ["42", 42], ["-7", -7], ["+3", 3], [" 12 ", 12], ["1_000", 1000], ["007", 7],
    ["0.5", 0.5], ["-2.5", -2.5], [".5", 0.5], ["1e-3", 0.001], ["1.0", new PyFloat(1)], ["5.", new PyFloat(5)], ["1e3", new PyFloat(1000)],
    ["inf", Infinity], ["-Infinity", -Infinity], ["nan", NaN],
    ["[1, 2.5, x]", [1, 2.5, "x"]], ["{a: 1, b: [true, null]}", { a: 1, b: [true, null] }], ["[]", []], ["{}", {}],
    ["[1.0]", [new PyFloat(1)]],
    ["hello", "hello"], ["", ""], ["1_", "1_"], ["0x10", "0x10"], ["1.2.3", "1.2.3"], ["[not closed", "[not closed"], [" spaced ", " spaced "],
  ])("%j", (raw, value) => expect(parseParameterValue(raw)).toEqual(value));

  it("refuses integers it cannot pass exactly", () => {
    expect(() => parseParameterValue("12345678901234567890")).toThrow(InputError);
  });

  it("a list that is not valid YAML is an InputError that says how to pass text", () => {
    const err = (() => {
      try {
        parseParameterValue("[a, [b]");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err?.message).toContain("looks like a list but is not valid YAML");
  });
});

describe("isPythonIdentifier", () => {
  it.each([["x", true], ["_x1", true], ["été", true], ["match", true], ["1x", false], ["a-b", false], ["class", false], ["None", false], ["", false], ["a b", false]])("%j -> %s", (name, ok) =>
    expect(isPythonIdentifier(name as string)).toBe(ok),
  );
});

describe("readParameterFile (-y FILE)", () => {
  it("reads a YAML mapping the way papermill does (YAML 1.1 types, no dates)", async () => {
    expect(await readParameterFile(fixture("params.yaml"))).toEqual({
      alpha: 0.1, n: 3, label: 'run "one"', ratios: [new PyFloat(1), 2.5], enabled: true, when: "2024-01-02",
    });
  });

  it("an empty file is no parameters", async () => {
    const path = join(tempDir(), "empty.yaml");
    writeFileSync(path, "# nothing\n");
    expect(await readParameterFile(path)).toEqual({});
  });

  it.each([
    ["params-list.yaml", "must hold a mapping of parameter names to values, not a list"],
    ["params-bad.yaml", "is not valid YAML"],
    ["params-bad-name.yaml", '"1bad" is not a valid Python variable name'],
    ["nope.yaml", "cannot read parameter file"],
  ])("%s: an InputError naming the file", async (name, expected) => {
    const err = await errorOf(() => readParameterFile(fixture(name)));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(fixture(name));
    expect(err.message).toContain(expected);
  });

  it("YAML errors carry file:line:column", async () => {
    expect((await errorOf(() => readParameterFile(fixture("params-bad.yaml")))).message).toMatch(/params-bad\.yaml:\d+:\d+/);
  });

  it("a value that is not JSON-like (a set) is refused", async () => {
    const path = join(tempDir(), "set.yaml");
    writeFileSync(path, "s: !!set {a, b}\n");
    expect((await errorOf(() => readParameterFile(path))).message).toContain("s holds a set (!!set), which cannot be a parameter");
  });
});

describe("collectParameters", () => {
  it("files in order, then -p pairs, then raw pairs; later wins", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.yaml"), "x: 1\ny: 1\nz: 1\n");
    writeFileSync(join(dir, "b.yaml"), "y: 2\n");
    const params = await collectParameters({ files: [join(dir, "a.yaml"), join(dir, "b.yaml")], pairs: [["z", "3"], ["w", "True"]], rawPairs: [["w", "True"]] });
    expect(params).toEqual({ x: 1, y: 2, z: 3, w: "True" });
  });

  it("names must be Python identifiers", async () => {
    const err = await errorOf(() => collectParameters({ files: [], pairs: [["not-valid", "1"]] }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('parameter "not-valid" (-p) is not a valid Python variable name');
    expect((await errorOf(() => collectParameters({ files: [], pairs: [], rawPairs: [["for", "1"]] }))).message).toContain("(-r)");
  });

  it("a bad -p value names the parameter", async () => {
    expect((await errorOf(() => collectParameters({ files: [], pairs: [["n", "99999999999999999999"]] }))).message).toMatch(/^parameter n \(-p\): the integer/);
  });
});

describe("injectParameters", () => {
  const cells = (): Cell[] => [
    { id: "intro", cell_type: "markdown", metadata: {}, source: "# Title" },
    code("imports", "import math"),
    code("params", "alpha = 0.5\nn = 10", ["parameters"]),
    code("work", "print(alpha * n)"),
  ];

  it("inserts the injected cell right after the first cell tagged parameters", () => {
    const { notebook: nb, injectedIndex } = injectParameters(notebook(cells()), { alpha: 0.1, n: 3 });
    expect(injectedIndex).toBe(3);
    expect(nb.cells.map((c) => c.id)).toEqual(["intro", "imports", "params", "injected-parameters", "work"]);
    const cell = nb.cells[3]!;
    expect(cell).toEqual({
      id: "injected-parameters", cell_type: "code", metadata: { tags: ["injected-parameters"] }, execution_count: null, outputs: [],
      source: ["# Parameters\n", "alpha = 0.1\n", "n = 3\n"],
    });
    expect(cellSource(cell)).toBe("# Parameters\nalpha = 0.1\nn = 3\n");
    expect(validateNotebook(nb)).toEqual([]);
  });

  it("records the parameters in metadata.papermill, keeping other papermill metadata", () => {
    const base = notebook(cells());
    base.metadata.papermill = { input_path: "in.ipynb", parameters: { old: 1 } };
    const { notebook: nb } = injectParameters(base, { ratio: new PyFloat(2), names: ["a"] });
    expect(nb.metadata.papermill).toEqual({ input_path: "in.ipynb", parameters: { ratio: 2, names: ["a"] } });
    expect(serializeNotebook(nb)).toContain('"ratio": 2.0');
  });

  it("replaces an existing injected cell in place, and removes any other", () => {
    const first = injectParameters(notebook(cells()), { n: 1 }).notebook;
    const stale = { ...code("old-copy", "n = 0"), metadata: { tags: ["injected-parameters"] } };
    const { notebook: nb, injectedIndex } = injectParameters({ ...first, cells: [...first.cells, stale] }, { n: 2 });
    expect(injectedIndex).toBe(3);
    expect(nb.cells.map((c) => c.id)).toEqual(["intro", "imports", "params", "injected-parameters", "work"]);
    expect(cellSource(nb.cells[3]!)).toBe("# Parameters\nn = 2\n");
  });

  it("goes to the top when no cell is tagged parameters", () => {
    const { notebook: nb, injectedIndex } = injectParameters(notebook([code("a", "x = 1"), code("b", "y = 2")]), { x: 5 });
    expect(injectedIndex).toBe(0);
    expect(nb.cells.map((c) => c.id)).toEqual(["injected-parameters", "a", "b"]);
  });

  it("empty parameters leave the notebook unchanged", () => {
    const nb = notebook(cells());
    const result = injectParameters(nb, {});
    expect(result.notebook).toBe(nb);
    expect(result.injectedIndex).toBeUndefined();
  });

  it("does not modify its input", () => {
    const nb = notebook(cells());
    const before = JSON.stringify(nb);
    injectParameters(nb, { x: 1 });
    expect(JSON.stringify(nb)).toBe(before);
  });

  it("a cell that already used the id injected-parameters gets a new id", () => {
    const { notebook: nb } = injectParameters(notebook([code("injected-parameters", "x = 1")]), { x: 2 });
    expect(nb.cells[0]?.id).toBe("injected-parameters");
    expect(nb.cells[1]?.id).toMatch(/^[0-9a-f]{12}$/);
    expect(validateNotebook(nb)).toEqual([]);
  });

  it("refuses names that are not Python identifiers (no code injection through names)", () => {
    expect(() => injectParameters(notebook([]), { "x; import os": 1 })).toThrow(InputError);
  });
});
