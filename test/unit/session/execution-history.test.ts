import { describe, expect, it } from "vitest";
import { cellKey, ExecutionHistory } from "../../../src/session/execution-history.js";
import { fingerprintCells } from "../../../src/planner/fingerprint.js";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";

async function fingerprints(history: ExecutionHistory, runs: [string, string][]): Promise<string[]> {
  const out: string[] = [];
  for (const [key, source] of runs) out.push((await history.add(key, source)).identity.fingerprint);
  return out;
}

describe("fingerprints from a kernel's execution history", () => {
  it("run top to bottom, they are the notebook's: a bundle the CLI wrote serves the kernel and back", async () => {
    await loadPythonParser();
    const cells = [
      { id: "a", source: "n = 3" },
      { id: "b", source: "xs = list(range(n))" },
      { id: "c", source: "total = sum(xs)" },
    ];
    const notebook = fingerprintCells(cells, buildGraph(cells));
    const kernel = await fingerprints(new ExecutionHistory(), cells.map((c) => [c.id, c.source]));
    expect(kernel).toEqual(cells.map((c) => notebook.get(c.id)!.fingerprint));
  });

  it("a cell re-run after its input was edited and re-run gets a new fingerprint; re-running an unchanged upstream cell keeps its own", async () => {
    const h = new ExecutionHistory();
    const [a1, b1] = await fingerprints(h, [
      ["a", "n = 3"],
      ["b", "xs = list(range(n))"],
    ]);
    const [a2, b2] = await fingerprints(h, [
      ["a", "n = 4"],
      ["b", "xs = list(range(n))"],
    ]);
    expect(a2).not.toBe(a1);
    expect(b2).not.toBe(b1);
    // back to n = 3, then b: both are what was recorded first
    const [a3, b3] = await fingerprints(h, [
      ["a", "n = 3"],
      ["b", "xs = list(range(n))"],
    ]);
    expect([a3, b3]).toEqual([a1, b1]);
  });

  it("a downstream cell run twice after a mutation reads the mutated value: never the first run's fingerprint", async () => {
    const h = new ExecutionHistory();
    const [, grow1, show1] = await fingerprints(h, [
      ["a", "bag = []"],
      ["grow", "bag.append(1)"],
      ["show", "print(bag)"],
    ]);
    const [grow2, show2] = await fingerprints(h, [
      ["grow", "bag.append(1)"],
      ["show", "print(bag)"],
    ]);
    expect(grow2).not.toBe(grow1);
    expect(show2).not.toBe(show1);
  });

  it("what ran outside audit and repeat makes everything that reads it unmatchable", async () => {
    const tracked = await fingerprints(new ExecutionHistory(), [
      ["a", "n = 3"],
      ["b", "m = n + 1"],
    ]);
    const h = new ExecutionHistory();
    h.addUntracked("a", "n = 3");
    const [b] = await fingerprints(h, [["b", "m = n + 1"]]);
    expect(b).not.toBe(tracked[1]);
    expect(h.resolve(1).identity.reads).toEqual([expect.objectContaining({ name: "n", producer_cell_id: "a" })]);
  });

  it("keys a cell by the frontend's cell id, else by its source", () => {
    expect(cellKey("4f0c-uuid", "x = 1")).toBe("4f0c-uuid");
    expect(cellKey(undefined, "x = 1")).toBe(cellKey(undefined, "x = 1\n"));
    expect(cellKey("", "x = 1")).toMatch(/^source-[0-9a-f]{16}$/);
  });
});
