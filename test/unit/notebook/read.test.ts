import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/common/errors.js";
import { readNotebook } from "../../../src/notebook/read.js";
import { errorOf, fixture, tempDir } from "./helpers.js";

describe("readNotebook: what a user sees for bad input", () => {
  it("a missing file", async () => {
    const err = await errorOf(() => readNotebook("/nowhere/x.ipynb"));
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe("cannot read notebook '/nowhere/x.ipynb': no such file");
  });

  it("a directory", async () => {
    const err = await errorOf(() => readNotebook(tempDir()));
    expect(err.message).toMatch(/^cannot read notebook '.*': it is a directory$/);
  });

  it("invalid JSON names the file with line:column", async () => {
    const path = fixture("bad-json.ipynb");
    const err = await errorOf(() => readNotebook(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`${path}:4:36`);
    expect(err.message).toContain("expected ',' or '}' after a property value");
  });

  it("an empty file", async () => {
    const path = join(tempDir(), "empty.ipynb");
    writeFileSync(path, "\n");
    expect((await errorOf(() => readNotebook(path))).message).toContain("the file is empty");
  });

  it("JSON that is not an object", async () => {
    const path = join(tempDir(), "list.ipynb");
    writeFileSync(path, "[1, 2]");
    expect((await errorOf(() => readNotebook(path))).message).toBe(`'${path}' is not a notebook: its top level must be a JSON object`);
  });

  it("nbformat 3 says how to convert", async () => {
    const path = fixture("nbformat3.ipynb");
    const err = await errorOf(() => readNotebook(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`'${path}' is nbformat 3; nbrewind-engine reads nbformat 4. Convert it with \`jupyter nbconvert --to notebook --nbformat 4 ${path}\``);
  });

  it.each([
    [{ nbformat: 5, nbformat_minor: 0, metadata: {}, cells: [] }, "is nbformat 5; nbrewind-engine reads nbformat 4"],
    [{ nbformat_minor: 0, metadata: {}, cells: [] }, "the field 'nbformat' is missing"],
    [{ nbformat: "4", nbformat_minor: 0, metadata: {}, cells: [] }, "the field 'nbformat' must be an integer"],
    [{ nbformat: 4, metadata: {}, cells: [] }, "the field 'nbformat_minor' is missing"],
    [{ nbformat: 4, nbformat_minor: 1.5, metadata: {}, cells: [] }, "'nbformat_minor' must be a non-negative integer"],
  ])("version fields: %j", async (content, expected) => {
    const path = join(tempDir(), "v.ipynb");
    writeFileSync(path, JSON.stringify(content));
    const err = await errorOf(() => readNotebook(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(expected);
  });

  it("a wrong source type in cell 3 is reported at cells[3].source", async () => {
    const err = await errorOf(() => readNotebook(fixture("invalid-source-type.ipynb")));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("is not a valid nbformat 4.5 notebook (1 problem;");
    expect(err.details).toEqual(["cells[3].source: must be a string or a list of strings, not the integer 42"]);
  });

  it("a missing cells field", async () => {
    const err = await errorOf(() => readNotebook(fixture("missing-cells.ipynb")));
    expect(err.message).toContain("is not a valid nbformat 4.4 notebook");
    expect(err.details).toEqual(["cells: required field is missing"]);
  });

  it("a markdown cell with outputs", async () => {
    const err = await errorOf(() => readNotebook(fixture("markdown-with-outputs.ipynb")));
    expect(err.details).toEqual(["cells[0].outputs: is not allowed in a markdown cell (nbformat 4.5)"]);
  });

  it("many problems: one line each, branch noise removed", async () => {
    const err = await errorOf(() => readNotebook(fixture("several-problems.ipynb")));
    expect(err.message).toContain("(11 problems; first: extra: is not allowed at the top level of a notebook (nbformat 4.5))");
    expect(err.details).toEqual([
      "extra: is not allowed at the top level of a notebook (nbformat 4.5)",
      "metadata.kernelspec.display_name: required field is missing",
      "cells[0].id: must be 1-64 characters from a-z, A-Z, 0-9, '-' and '_', not the string \"has space\"",
      'cells[0].metadata.tags: must be a list, not the string "not-a-list"',
      "cells[0].source[1]: must be a string, not the integer 3",
      'cells[0].execution_count: must be an integer or null, not the string "1"',
      'cells[0].outputs[1].data["text/plain"]: must be a string or a list of strings, not the integer 7',
      "cells[0].outputs[1].metadata: required field is missing",
      'cells[0].outputs[2].output_type: must be one of "execute_result", "display_data", "stream", "error", not the string "sparkle"',
      "cells[1].cell_type: must be one of \"code\", \"markdown\", \"raw\", not the string \"heading\" (heading cells are nbformat 3; in nbformat 4 a heading is a markdown cell starting with '#')",
      'cells[2]: must be an object (a cell), not the string "not a cell"',
    ]);
  });
});

describe("readNotebook: upgrade to 4.5", () => {
  it("a 4.5 notebook from Jupyter is read as is", async () => {
    const nb = await readNotebook(fixture("executed-4.5.ipynb"));
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.cells.map((c) => c.id)).toEqual(["cell-00", "cell-01", "cell-02", "cell-03", "cell-04", "cell-05", "cell-06", "cell-07"]);
    expect(nb.cells.map((c) => c.cell_type)).toEqual(["markdown", "code", "code", "code", "code", "code", "raw", "code"]);
  });

  it("a 4.4 notebook without ids gets unique ids of 8+ characters [a-z0-9], the same on every read", async () => {
    const a = await readNotebook(fixture("v4.4-no-ids.ipynb"));
    const b = await readNotebook(fixture("v4.4-no-ids.ipynb"));
    expect(a.nbformat_minor).toBe(5);
    const ids = a.cells.map((c) => c.id);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{8,}$/);
    expect(new Set(ids).size).toBe(ids.length); // cells 2 and 3 have the same source and still differ
    expect(b.cells.map((c) => c.id)).toEqual(ids);
  });

  it("a 4.4 notebook's ids do not depend on its path", async () => {
    const copy = join(tempDir(), "elsewhere.ipynb");
    copyFileSync(fixture("v4.4-no-ids.ipynb"), copy);
    expect((await readNotebook(copy)).cells.map((c) => c.id)).toEqual((await readNotebook(fixture("v4.4-no-ids.ipynb"))).cells.map((c) => c.id));
  });

  it("duplicate and missing ids in a 4.5 notebook are repaired deterministically; the first use keeps its id", async () => {
    const nb = await readNotebook(fixture("v4.5-duplicate-ids.ipynb"));
    const ids = nb.cells.map((c) => c.id);
    expect(ids[0]).toBe("same");
    expect(ids[1]).not.toBe("same");
    expect(ids[1]).toMatch(/^[a-z0-9]{8,}$/);
    expect(ids[2]).toMatch(/^[a-z0-9]{8,}$/);
    expect(ids[3]).toBe("keep-me");
    expect(new Set(ids).size).toBe(4);
    expect((await readNotebook(fixture("v4.5-duplicate-ids.ipynb"))).cells.map((c) => c.id)).toEqual(ids);
  });

  it("a 4.4 notebook carrying valid ids (some editors write them) keeps them", async () => {
    const path = join(tempDir(), "ids44.ipynb");
    const cell = (id: string, source: string) => ({ cell_type: "markdown", id, metadata: {}, source });
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells: [cell("kept", "a"), cell("bad id!", "b")] }));
    const nb = await readNotebook(path);
    expect(nb.cells[0]?.id).toBe("kept");
    expect(nb.cells[1]?.id).toMatch(/^[a-z0-9]{12}$/);
  });

  it("an unknown higher minor is validated as 4.5 and labelled 4.5", async () => {
    const path = join(tempDir(), "v46.ipynb");
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 9, metadata: {}, cells: [{ cell_type: "raw", id: "r", metadata: {}, source: "" }] }));
    const nb = await readNotebook(path);
    expect(nb.nbformat_minor).toBe(5);
  });

  it("validates against the notebook's own minor: metadata.title is typed from 4.2 on", async () => {
    const path = join(tempDir(), "title.ipynb");
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 2, metadata: { title: 5 }, cells: [] }));
    expect((await errorOf(() => readNotebook(path))).details).toEqual(["metadata.title: must be a string, not the integer 5"]);
    // valid as 4.1, where title is untyped, but not once upgraded to 4.5: said at read time, not at write time
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 1, metadata: { title: 5 }, cells: [] }));
    const err = await errorOf(() => readNotebook(path));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("is a valid nbformat 4.1 notebook but cannot be upgraded to 4.5");
    expect(err.details).toEqual(["metadata.title: must be a string, not the integer 5"]);
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 1, metadata: { title: "T" }, cells: [] }));
    await expect(readNotebook(path)).resolves.toMatchObject({ nbformat_minor: 5, metadata: { title: "T" } });
  });

  it("drops transient fields as nbformat does (metadata.signature, cell metadata.trusted)", async () => {
    const path = join(tempDir(), "transient.ipynb");
    const cell = { cell_type: "code", id: "a", metadata: { trusted: true, keep: 1 }, source: "", outputs: [], execution_count: null };
    writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { signature: "sha256:x", orig_nbformat: 3 }, cells: [cell] }));
    const nb = await readNotebook(path);
    expect(nb.metadata).toEqual({});
    expect(nb.cells[0]?.metadata).toEqual({ keep: 1 });
  });
});
