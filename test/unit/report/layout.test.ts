import { describe, expect, it } from "vitest";
import { ELK_NODE_LIMIT, layoutGraph, type GraphInput } from "../../../src/report/layout.js";

function chain(n: number, extra: Array<[number, number]> = []): GraphInput {
  return {
    nodes: Array.from({ length: n }, (_, i) => ({ id: `c${i}`, label: `[${i + 1}] cell ${i}`, title: "", kind: "ran", order: i })),
    edges: [...Array.from({ length: n - 1 }, (_, i): [number, number] => [i, i + 1]), ...extra].map(([a, b]) => ({ from: `c${a}`, to: `c${b}`, label: "x" })),
  };
}

describe("report graph layout", () => {
  it("lays out small graphs with ELK, every producer above its consumers", async () => {
    const g = await layoutGraph(chain(6, [[0, 3]]));
    expect(g.layout).toBe("elk");
    const y = new Map(g.nodes.map((n) => [n.id, n.y]));
    for (const e of g.edges) expect(y.get(e.from)!).toBeLessThan(y.get(e.to)!);
    expect(g.edges.every((e) => e.points.length >= 2)).toBe(true);
  });

  it("lays out large graphs linearly, in layers by data-flow depth", async () => {
    const n = ELK_NODE_LIMIT + 50;
    // Every node reads node 0 only: two layers, the second wrapped into rows.
    const g = await layoutGraph({
      nodes: chain(n).nodes,
      edges: Array.from({ length: n - 1 }, (_, i) => ({ from: "c0", to: `c${i + 1}`, label: "" })),
    });
    expect(g.layout).toBe("order");
    expect(g.nodes).toHaveLength(n);
    const top = g.nodes.find((x) => x.id === "c0")!;
    for (const x of g.nodes) if (x.id !== "c0") expect(x.y).toBeGreaterThan(top.y);
    expect(Math.max(...g.nodes.map((x) => x.x + x.width))).toBeLessThanOrEqual(1600);
  });

  it("drops edges to unknown nodes and self-loops rather than failing", async () => {
    const g = await layoutGraph({ nodes: chain(2).nodes, edges: [{ from: "c0", to: "gone", label: "" }, { from: "c1", to: "c1", label: "" }, { from: "c0", to: "c1", label: "" }] });
    expect(g.edges.map((e) => `${e.from}>${e.to}`)).toEqual(["c0>c1"]);
  });

  it("keeps a backward edge (an out-of-order run) without looping", async () => {
    const input = chain(ELK_NODE_LIMIT + 1, [[10, 2]]);
    const g = await layoutGraph(input, { preferElk: false });
    expect(g.edges).toHaveLength(input.edges.length);
  });
});
