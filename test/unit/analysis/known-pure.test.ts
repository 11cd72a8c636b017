import { beforeAll, describe, expect, it } from "vitest";
import { isKnownPure, knownPureNames } from "../../../src/analysis/known-pure.js";
import { loadPythonParser } from "../../../src/analysis/parser.js";
import { graphOf, sortedSet } from "./graph-of.js";

// Issue 9, item 5: print(y), len(v), sorted(x) are not changes to their arguments.
beforeAll(async () => {
  await loadPythonParser();
});

const outputs = (g: ReturnType<typeof graphOf>, id: string) => sortedSet(g.cell(id)!.outputs);

describe("calls known not to mutate their arguments", () => {
  it("print, len and sorted of a value do not make the cell its producer", () => {
    const g = graphOf("y = [3, 1]", "print(y)\nn = len(y)\ns = sorted(y)", "z = y");
    expect(outputs(g, "c1")).toEqual(["n", "s"]);
    expect(g.producerOf("c2", "y")).toBe("c0");
  });

  it("a module function through its import alias, in an earlier cell or the same one", () => {
    const g = graphOf("import numpy as np\nx = np.ones(3)", "t = np.sum(x)\nm = np.linalg.norm(x)", "from math import sqrt\nr = sqrt(t)", "w = x");
    expect(outputs(g, "c1")).toEqual(["m", "t"]);
    expect(outputs(g, "c2")).toEqual(["r", "sqrt"]);
    expect(g.producerOf("c3", "x")).toBe("c0");
  });

  it("keeps the conservative rule where the callee is not provably the known function", () => {
    const g = graphOf(
      "x = []\nf = open('log')",
      "print(x, file=f)", // writes to f
      "sorted(x, key=lambda v: v.pop())", // key= runs a callable on the elements
      "def len(v):\n    v.append(1)",
      "len(x)", // `len` rebound by an earlier cell
      "np = make_fake()\nnp.sum(x)", // `np` is not an import
      "np.random.seed(0)", // not in the table: changes numpy's state
    );
    expect(outputs(g, "c1")).toEqual(["f", "x"]);
    expect(outputs(g, "c2")).toEqual(["x"]);
    expect(outputs(g, "c4")).toEqual(["x"]);
    expect(outputs(g, "c5")).toEqual(["np", "x"]);
    expect(outputs(g, "c6")).toEqual(["np"]);
  });

  it("documents its table with fully qualified names", () => {
    expect(knownPureNames()).toEqual(expect.arrayContaining(["builtins.print", "builtins.len", "builtins.sorted", "builtins.repr", "builtins.isinstance", "numpy.sum"]));
    expect(isKnownPure("numpy.sum", ["out"])).toBe(false);
    expect(isKnownPure("builtins.map", [])).toBe(false);
  });
});
