import { chmodSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNotebook } from "../../../src/notebook/read.js";
import { serializeNotebook, writeNotebook } from "../../../src/notebook/write.js";
import type { Notebook } from "../../../src/notebook/types.js";
import { code, errorOf, fixture, notebook, tempDir } from "./helpers.js";

describe("writeNotebook", () => {
  it("read -> write -> read of a notebook Jupyter produced is identical, to the byte", async () => {
    const original = readFileSync(fixture("executed-4.5.ipynb"), "utf8");
    const nb = await readNotebook(fixture("executed-4.5.ipynb"));
    const out = join(tempDir(), "out.ipynb");
    await writeNotebook(out, nb);
    expect(readFileSync(out, "utf8")).toBe(original);
    expect(await readNotebook(out)).toEqual(nb);
  });

  it("the fixture has every output type, so the round trip covers them", async () => {
    const nb = await readNotebook(fixture("executed-4.5.ipynb"));
    const outputs = nb.cells.flatMap((c) => (c.cell_type === "code" ? c.outputs : []));
    expect(new Set(outputs.map((o) => o.output_type))).toEqual(new Set(["stream", "display_data", "execute_result", "error"]));
    expect(outputs.some((o) => o.output_type === "display_data" && "image/png" in o.data && "text/plain" in o.data)).toBe(true);
  });

  it("splits strings into lines as nbformat stores them, and joins split non-text data", () => {
    const nb: Notebook = notebook([
      {
        ...code("a", "x = 1\nprint(x)\n"),
        outputs: [
          { output_type: "stream", name: "stdout", text: "1\n2" },
          { output_type: "display_data", metadata: {}, data: { "text/plain": "a\nb", "image/png": ["iVBOR\n", "AAA"], "application/json": ["kept", "as is"], "image/svg+xml": "<svg>\n</svg>" } },
        ],
      },
    ]);
    const written = JSON.parse(serializeNotebook(nb)) as { cells: { source: unknown; outputs: { text?: unknown; data?: Record<string, unknown> }[] }[] };
    const cell = written.cells[0]!;
    expect(cell.source).toEqual(["x = 1\n", "print(x)\n"]);
    expect(cell.outputs[0]?.text).toEqual(["1\n", "2"]);
    expect(cell.outputs[1]?.data).toEqual({ "text/plain": ["a\n", "b"], "image/png": "iVBOR\nAAA", "application/json": ["kept", "as is"], "image/svg+xml": ["<svg>\n", "</svg>"] });
  });

  it("ends with a newline and uses one-space indentation", () => {
    const text = serializeNotebook(notebook([code("a", "")]));
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.split("\n")[1]).toBe(' "cells": [');
  });

  it("drops transient fields", () => {
    const nb = notebook([{ ...code("a", ""), metadata: { trusted: true } }]);
    nb.metadata.signature = "x";
    const written = JSON.parse(serializeNotebook(nb)) as Notebook;
    expect(written.metadata.signature).toBeUndefined();
    expect(written.cells[0]?.metadata).toEqual({});
  });

  it("refuses an invalid notebook with a plain Error listing the problems, and writes nothing", async () => {
    const dir = tempDir();
    const bad = notebook([code("a", ""), code("a", "")]);
    const err = await errorOf(() => writeNotebook(join(dir, "x.ipynb"), bad));
    expect(err.constructor).toBe(Error);
    expect(err.message).toContain('cells[1].id: duplicate cell id "a"');
    expect(readdirSync(dir)).toEqual([]);
  });

  it("replaces an existing file atomically, keeping its permissions and leaving no temp file", async () => {
    const dir = tempDir();
    const path = join(dir, "x.ipynb");
    writeFileSync(path, "old");
    chmodSync(path, 0o640);
    await writeNotebook(path, notebook([code("a", "1")]));
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["x.ipynb"]);
    expect((await readNotebook(path)).cells[0]?.source).toEqual(["1"]);
  });

  it("writes through a symlink to its target", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "real.ipynb"), "old");
    symlinkSync(join(dir, "real.ipynb"), join(dir, "link.ipynb"));
    await writeNotebook(join(dir, "link.ipynb"), notebook([code("a", "1")]));
    expect(readFileSync(join(dir, "real.ipynb"), "utf8")).toContain('"id": "a"');
  });

  it("fails for a missing folder", async () => {
    await expect(writeNotebook("/nowhere/at/all/x.ipynb", notebook([]))).rejects.toThrow(/ENOENT/);
  });

  it("a 4.4 notebook read and written comes out 4.5 with its ids", async () => {
    const out = join(tempDir(), "up.ipynb");
    const nb = await readNotebook(fixture("v4.4-no-ids.ipynb"));
    await writeNotebook(out, nb);
    const again = await readNotebook(out);
    expect(again.nbformat_minor).toBe(5);
    expect(again.cells.map((c) => c.id)).toEqual(nb.cells.map((c) => c.id));
  });
});
