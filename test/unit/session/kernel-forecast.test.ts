import { describe, expect, it } from "vitest";
import type { Notebook } from "../../../src/notebook/types.js";
import { sourceHash } from "../../../src/planner/fingerprint.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { kernelSurelyNeeded } from "../../../src/session/kernel-forecast.js";

const notebook = (...sources: string[]): Notebook =>
  ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: "markdown", id: "m", metadata: {}, source: "# title" }, ...sources.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null }))],
  }) as unknown as Notebook;

const records = (...sources: string[]) => new Map(sources.map((s, i) => [`f${i}`, { source_hash: sourceHash(s) } as RecordedCell]));

describe("kernelSurelyNeeded: may the server and kernel start before the plan?", () => {
  it("no when every code cell's source was recorded, also an older version and in another order", () => {
    expect(kernelSurelyNeeded(notebook("x = 1", "print(x)"), records("print(x)", "x = 1", "x = 2"), false)).toBe(false);
  });

  it("no when the sources differ only where the fingerprint ignores it (trailing spaces, final newline)", () => {
    expect(kernelSurelyNeeded(notebook("x = 1   \n"), records("x = 1"), false)).toBe(false);
  });

  it("yes when a code cell's source was never recorded: it cannot be reused", () => {
    expect(kernelSurelyNeeded(notebook("x = 1", "print(x, 'edited')"), records("x = 1", "print(x)"), false)).toBe(true);
    expect(kernelSurelyNeeded(notebook("x = 1"), new Map(), false)).toBe(true);
  });

  it("yes when cells are forced to run; a deleted cell alone is left to the plan", () => {
    expect(kernelSurelyNeeded(notebook("x = 1"), records("x = 1"), true)).toBe(true);
    expect(kernelSurelyNeeded(notebook("x = 1"), records("x = 1", "y = 2"), false)).toBe(false);
  });
});
