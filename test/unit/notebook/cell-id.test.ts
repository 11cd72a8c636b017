import { describe, expect, it } from "vitest";
import { ensureCellIds } from "../../../src/notebook/cell-id.js";
import type { Cell } from "../../../src/notebook/types.js";
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
