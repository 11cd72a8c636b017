import { describe, expect, it } from "vitest";
import { validateNotebook } from "../../../src/notebook/validate.js";
import { code, notebook } from "./helpers.js";

describe("validateNotebook", () => {
  it("a valid notebook has no problems", () => {
    expect(validateNotebook(notebook([code("a", "x = 1")]))).toEqual([]);
  });

  it("a non-object", () => {
    expect(validateNotebook([])).toEqual([{ path: "(top level)", message: "must be a JSON object (a notebook), not a list" }]);
  });

  it("a missing cell id at 4.5 is a problem (readNotebook repairs it; validateNotebook reports it)", () => {
    const { id: _id, ...cell } = code("a", "");
    expect(validateNotebook(notebook([cell as never]))).toEqual([{ path: "cells[0].id", message: "required field is missing" }]);
  });

  it("duplicate ids at 4.5", () => {
    expect(validateNotebook(notebook([code("a", ""), code("b", ""), code("a", "")]))).toEqual([
      { path: "cells[2].id", message: 'duplicate cell id "a" (already used by cells[0])' },
    ]);
  });

  it("a cell id at 4.4 is not allowed by that schema", () => {
    const nb = { ...notebook([code("a", "")]), nbformat_minor: 4 };
    expect(validateNotebook(nb)).toEqual([{ path: "cells[0].id", message: "is not allowed in a code cell (nbformat 4.4)" }]);
  });

  it("the minor argument overrides the notebook's own", () => {
    const nb = { ...notebook([code("a", "")]), nbformat_minor: 4 };
    expect(validateNotebook(nb, 5)).toEqual([{ path: "nbformat_minor", message: "must be >= 5, not the integer 4" }]);
  });

  it("output problems use the branch of their output_type", () => {
    const cell = { ...code("a", ""), outputs: [{ output_type: "error", ename: "E", evalue: "v", traceback: "not a list" }] };
    expect(validateNotebook(notebook([cell as never]))).toEqual([
      { path: "cells[0].outputs[0].traceback", message: 'must be a list, not the string "not a list"' },
    ]);
  });

  it("a missing output_type and a missing cell_type", () => {
    const cell = { ...code("a", ""), outputs: [{ text: "x" }] };
    const nb = notebook([cell as never, { id: "b", metadata: {}, source: "" } as never]);
    expect(validateNotebook(nb)).toEqual([
      { path: "cells[0].outputs[0].output_type", message: 'required field is missing (one of "execute_result", "display_data", "stream", "error")' },
      { path: "cells[1].cell_type", message: 'required field is missing (one of "code", "markdown", "raw")' },
    ]);
  });

  it("paths quote keys that are not identifiers; digit keys of objects stay keys", () => {
    const cell = { ...code("a", ""), outputs: [{ output_type: "display_data", metadata: {}, data: { "text/html": ["ok", 1] } }] };
    expect(validateNotebook(notebook([cell as never]))).toEqual([
      { path: 'cells[0].outputs[0].data["text/html"][1]', message: "must be a string, not the integer 1" },
    ]);
    const tagged = { ...code("a", ""), metadata: { tags: ["x", "x"] } };
    expect(validateNotebook(notebook([tagged]))).toEqual([{ path: "cells[0].metadata.tags", message: "must not contain duplicates (items 0 and 1 are equal)" }]);
  });

  it("JSON mime types may hold any JSON", () => {
    const cell = { ...code("a", ""), outputs: [{ output_type: "display_data", metadata: {}, data: { "application/json": { a: [1, 2] }, "application/vnd.x+json": 3 } }] };
    expect(validateNotebook(notebook([cell as never]))).toEqual([]);
  });
});
