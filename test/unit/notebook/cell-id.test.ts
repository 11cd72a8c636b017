import { describe, expect, it } from "vitest";
import { ensureCellIds, inheritCellIds } from "../../../src/notebook/cell-id.js";
import type { Cell, Notebook } from "../../../src/notebook/types.js";
import { code, notebook } from "./helpers.js";

const noId = (source: string): Cell => ({ ...code("", source), id: undefined as never });

describe("ensureCellIds", () => {
  it("keeps valid ids and does not modify its input", () => {
    const nb = notebook([code("a", "1"), code("b-2_X", "2")]);
    const frozen = JSON.stringify(nb);
    const out = ensureCellIds({ ...nb, nbformat_minor: 4 });
    expect(out.cells.map((c) => c.id)).toEqual(["a", "b-2_X"]);
    expect(out.nbformat_minor).toBe(5);
    expect(JSON.stringify(nb)).toBe(frozen);
  });

  it("generated ids depend on content, not position: inserting a cell changes no other id", () => {
    const before = ensureCellIds(notebook([noId("a = 1"), noId("b = 2")])).cells.map((c) => c.id);
    const after = ensureCellIds(notebook([noId("new = 0"), noId("a = 1"), noId("b = 2")])).cells.map((c) => c.id);
    expect(after.slice(1)).toEqual(before);
    for (const id of after) expect(id).toMatch(/^[0-9a-f]{12}$/);
  });

  it("cells with the same source get different ids, and whitespace-only edits keep the id", () => {
    const ids = ensureCellIds(notebook([noId("x"), noId("x"), noId("x  \n")])).cells.map((c) => c.id);
    expect(new Set(ids).size).toBe(3);
    expect(ensureCellIds(notebook([noId("x\n\n")])).cells[0]?.id).toBe(ids[0]);
  });

  it("a code and a markdown cell with the same source get different ids", () => {
    const md: Cell = { id: undefined as never, cell_type: "markdown", metadata: {}, source: "x" };
    const ids = ensureCellIds(notebook([noId("x"), md])).cells.map((c) => c.id);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("duplicates: the first keeps the id, later ones get generated ids", () => {
    const ids = ensureCellIds(notebook([code("dup", "1"), code("dup", "2"), code("dup", "3")])).cells.map((c) => c.id);
    expect(ids[0]).toBe("dup");
    expect(new Set(ids).size).toBe(3);
  });

  it("invalid ids are replaced", () => {
    const ids = ensureCellIds(notebook([code("has space", "1"), code("x".repeat(65), "2"), code("", "3")])).cells.map((c) => c.id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}$/);
  });

  it("a generated id never collides with an id a later cell keeps", () => {
    const generated = ensureCellIds(notebook([noId("a = 1")])).cells[0]?.id as string;
    const ids = ensureCellIds(notebook([noId("a = 1"), code(generated, "other")])).cells.map((c) => c.id);
    expect(ids[1]).toBe(generated);
    expect(ids[0]).not.toBe(generated);
    expect(ids[0]).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe("inheritCellIds (issue 9: cells without ids keep their identity across an edit)", () => {
  const v44 = (...sources: [string, string][]) => ({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells: sources.map(([cell_type, source]) => ({ cell_type, source, metadata: {}, ...(cell_type === "code" ? { outputs: [], execution_count: null } : {}) })) }) as unknown as Notebook;

  it("an edited cell keeps the id it had in the recorded notebook; the others keep theirs", () => {
    const recorded = ensureCellIds(v44(["markdown", "# t"], ["code", "a = 1"], ["code", "b = a + 1"], ["code", "print(b)"]));
    const edited = ensureCellIds(v44(["markdown", "# t"], ["code", "a = 1"], ["code", "b = a + 2"], ["code", "print(b)"]));
    expect(edited.cells[2]!.id).not.toBe(recorded.cells[2]!.id);
    const adopted = inheritCellIds(edited, recorded);
    expect(adopted.cells.map((c) => c.id)).toEqual(recorded.cells.map((c) => c.id));
  });

  it("an inserted cell stays new, and ids the file gives are never replaced", () => {
    const recorded = ensureCellIds(v44(["code", "a = 1"], ["code", "print(a)"]));
    const inserted = ensureCellIds(v44(["code", "a = 1"], ["code", "x = 5"], ["code", "print(a)"]));
    const adopted = inheritCellIds(inserted, recorded);
    expect(adopted.cells[1]!.id).toBe(inserted.cells[1]!.id);
    const own = { ...inserted, cells: inserted.cells.map((c, i) => (i === 1 ? { ...c, id: "mine" } : c)) } as Notebook;
    expect(inheritCellIds(own, ensureCellIds(v44(["code", "a = 1"], ["code", "y = 6"], ["code", "print(a)"]))).cells[1]!.id).toBe("mine");
  });
});
