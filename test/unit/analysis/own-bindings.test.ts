import { beforeAll, describe, expect, it } from "vitest";
import { loadPythonParser } from "../../../src/analysis/parser.js";
import { graphOf, sortedSet } from "./graph-of.js";

// Issue 9, item 5: a name the cell binds before it reads (or mutates) it is
// not read from an earlier cell.
beforeAll(async () => {
  await loadPythonParser();
});

const inputs = (g: ReturnType<typeof graphOf>, id: string) => sortedSet(g.cell(id)!.inputs);

describe("names a cell binds itself", () => {
  it("`a = 3; print(a)` reads no earlier `a`", () => {
    const g = graphOf("a = 1", "a = 3\nprint(a)");
    expect(inputs(g, "c1")).toEqual(["print"]);
    expect(g.dependenciesOf("c1")).toEqual([]);
  });

  it("a config imported then mutated in the same cell does not chain the cells (parsl-tutorial)", () => {
    const cell = "import parsl\nfrom parsl.configs.local_threads import config\nconfig.executors[0].label = 'x'\nparsl.load(config)\nwith open('out.txt') as f:\n    print(f.read())\nparsl.clear()";
    const g = graphOf(cell, cell.replace("out.txt", "other.txt"), cell.replace("out.txt", "third.txt"));
    expect(g.edges).toEqual([]);
    expect(g.invalidated(["c0"])).toEqual(new Set(["c0"]));
  });

  it("%%time cells are analysed as their body", () => {
    const g = graphOf("res = 0", "%%time\nres = work()\nprint(res)");
    expect(inputs(g, "c1")).toEqual(["print", "work"]);
  });

  it("%%timeit runs its body in a function: what it assigns is not the value later cells read", () => {
    const g = graphOf("x = load()", "%%timeit -n 2 y = x.copy()\nx = y * 2", "print(x)");
    expect(g.producerOf("c2", "x")).toBe("c0");
    expect([...g.cell("c1")!.facts.binds]).toEqual([]);
  });

  it("a read before the binding, or only on some paths, still reads the earlier value", () => {
    const g = graphOf("a = 1\ni = 0", "print(a)\na = 3", "for i in range(2):\n    print(i)\nprint(i)", "if c:\n    a = 2\nprint(a)");
    expect(g.producerOf("c1", "a")).toBe("c0");
    expect(g.producerOf("c2", "i")).toBe("c0");
    expect(g.producerOf("c3", "a")).toBe("c1");
  });
});
