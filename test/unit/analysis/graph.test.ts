import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/analysis/graph.js";
import { loadPythonParser } from "../../../src/analysis/parser.js";

beforeAll(async () => {
  await loadPythonParser();
});

const nb = (...sources: string[]) => sources.map((source, i) => ({ id: `c${i}`, source }));
const sorted = (s: Set<string>) => [...s].sort();

describe("buildGraph", () => {
  it("resolves each read to the latest earlier binder, with names on edges", () => {
    const g = buildGraph(nb("x = 1", "x = 2\ny = 3", "z = x + y", "w = z"));
    expect(g.producerOf("c2", "x")).toBe("c1");
    expect(g.producerOf("c2", "y")).toBe("c1");
    expect(g.edges).toEqual([
      { from: "c1", to: "c2", names: ["x", "y"] },
      { from: "c2", to: "c3", names: ["z"] },
    ]);
    expect(sorted(g.invalidated(["c0"]))).toEqual(["c0"]);
    expect(sorted(g.invalidated(["c1"]))).toEqual(["c1", "c2", "c3"]);
  });

  it("lets a mutation carry the value forward", () => {
    const g = buildGraph(nb("xs = []", "xs.append(1)", "print(len(xs))"));
    expect(g.producerOf("c2", "xs")).toBe("c1");
    expect(g.producerOf("c1", "xs")).toBe("c0");
    expect(sorted(g.invalidated(["c0"]))).toEqual(["c0", "c1", "c2"]);
  });

  it("looks past a conditional binder to the one before", () => {
    const g = buildGraph(nb("x = 1", "if flag:\n    x = 2", "print(x)"));
    expect(g.producersOf("c2", "x")).toEqual(["c1", "c0"]);
    expect(g.invalidated(["c0"]).has("c2")).toBe(true);
  });

  it("makes a cell calling a function depend on the globals the function reads", () => {
    const g = buildGraph(nb("def f():\n    return g", "g = 1", "r = f()"));
    expect(g.producerOf("c2", "g")).toBe("c1");
    expect(g.invalidated(["c1"]).has("c2")).toBe(true);
    // The defining cell reads g too, conservatively (resolved before it: nothing).
    expect(g.cell("c0")!.facts.reads.has("g")).toBe(true);
  });

  it("makes an opaque cell depend on everything before it and produce anything", () => {
    const g = buildGraph(nb("a = 1", "b = 2", "exec(code)", "print(zzz)", "print(a)"));
    expect(g.dependenciesOf("c2").map((e) => e.from)).toEqual(["c0", "c1"]);
    expect(g.producerOf("c3", "zzz")).toBe("c2");
    expect(g.producersOf("c4", "a")).toEqual(["c2"]);
    expect(sorted(g.invalidated(["c0"]))).toEqual(["c0", "c2", "c3", "c4"]);
  });

  it("counts a deletion as a change later readers depend on", () => {
    const g = buildGraph(nb("t = 1", "del t", "print(t)"));
    expect(g.producerOf("c2", "t")).toBe("c1");
    expect(g.producerOf("c1", "t")).toBe("c0");
  });

  it("uses the previous graph for cells that stopped binding a name", () => {
    const before = buildGraph(nb("x = 1", "x = 2", "print(x)"));
    const after = buildGraph(nb("x = 1", "y = 2", "print(x)"));
    expect(after.invalidated(["c1"]).has("c2")).toBe(false);
    expect(after.invalidated(["c1"], before).has("c2")).toBe(true);
  });

  it("marks reads nothing produces as unresolved", () => {
    const g = buildGraph(nb("print(undefined_name)", "v = 1\nv.x = 2"));
    expect(sorted(g.cell("c0")!.unresolved)).toEqual(["print", "undefined_name"]);
    expect(sorted(g.cell("c1")!.unresolved)).toEqual([]);
  });

  it("rejects duplicate ids", () => {
    expect(() => buildGraph([{ id: "a", source: "" }, { id: "a", source: "" }])).toThrow(/duplicate/);
  });
});
