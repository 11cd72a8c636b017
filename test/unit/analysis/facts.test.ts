import { beforeAll, describe, expect, it } from "vitest";
import { analyseCell } from "../../../src/analysis/facts.js";
import { preprocessIPython } from "../../../src/analysis/ipython.js";
import { loadPythonParser } from "../../../src/analysis/parser.js";

beforeAll(async () => {
  await loadPythonParser();
});

const names = (s: Set<string>) => [...s].sort();

describe("analyseCell", () => {
  it("attaches the globals a function body reads and mutates to the function", () => {
    const f = analyseCell("def record(e):\n    history.append((clock(), e))\n\nclass W:\n    size = SIZE\n    def run(self):\n        return pool.submit(self)\n");
    expect(names(f.functions.get("record")!.reads)).toEqual(["clock", "history"]);
    expect(names(f.functions.get("record")!.mutates)).toEqual(["history"]);
    // The class body runs at definition; only its methods run later.
    expect(names(f.functions.get("W")!.reads)).toEqual(["pool"]);
    expect(f.reads.has("SIZE")).toBe(true);
  });

  it("reports a syntax error with line and column and marks the cell opaque, without throwing", () => {
    const f = analyseCell("a = 1\nb = (\n");
    expect(f.syntaxError).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });
    expect(f.opaque && f.opaque.reason).toMatch(/syntax error/);
  });

  it("never throws on hostile input", () => {
    for (const src of ["", "\n\n", "%%", "!", "?", "(((((((((", "def", "x = !", "%time", "\u0000\u0001", "match x:\n  case", "'''unterminated"]) {
      expect(() => analyseCell(src)).not.toThrow();
    }
  });

  it("keeps line numbers when translating IPython", () => {
    const pre = preprocessIPython("%%time\nx = 1\n!ls {d}\ny = x\n");
    expect(pre.python.split("\n")).toHaveLength(5);
    expect(pre.python.split("\n")[2]).toBe("((d),)");
  });

  it("treats conditional binds as not definite", () => {
    const f = analyseCell("if c:\n    x = 1\ny = 2\nfor i in r:\n    pass\n");
    expect(names(f.binds)).toEqual(["i", "x", "y"]);
    expect(names(f.definiteBinds)).toEqual(["y"]);
  });

  it("gives the opaque reasons", () => {
    expect(analyseCell("%run other.py\n").opaque).toMatchObject({ reason: expect.stringMatching(/%run/) });
    expect(analyseCell("from os import *\n").opaque).toMatchObject({ reason: expect.stringMatching(/import \*/) });
    expect(analyseCell("%matplotlib inline\n").opaque).toBe(false);
  });
});
