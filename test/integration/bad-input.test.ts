import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, writeNotebookFile } from "./cli-harness.js";

const dir = tempDir();

describe("bad input gets a clear error and exit code 2, before any server starts", () => {
  it("a missing notebook names the file", async () => {
    const res = await runCli(["run", join(dir, "nope.ipynb")]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("nope.ipynb");
    expect(res.stderr).toMatch(/no such file/i);
  });

  it("an invalid notebook lists each problem by its JSON path", async () => {
    const path = writeNotebookFile(dir, "invalid.ipynb", [{ source: "a = 1" }, { source: "b = 2" }, { source: "c = 3" }, { source: "d = 4" }]);
    const nb = JSON.parse(readFileSync(path, "utf8"));
    nb.cells[3].source = 42;
    delete nb.cells[1].outputs;
    writeFileSync(path, JSON.stringify(nb));
    const out = join(dir, "invalid.out.ipynb");
    const res = await runCli(["run", path, "-o", out]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("invalid.ipynb");
    expect(res.stderr).toContain("cells[3].source");
    expect(res.stderr).toContain("cells[1]");
    expect(res.survivors).toEqual([]);
  });

  it("an nbformat 3 notebook is named as such", async () => {
    const path = join(dir, "v3.ipynb");
    writeFileSync(path, JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [{ cells: [] }] }));
    const res = await runCli(["run", path]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/nbformat 3/);
  });

  it("malformed JSON reports line and column", async () => {
    const path = join(dir, "broken.ipynb");
    writeFileSync(path, '{\n "cells": [\n  {,\n ]\n}');
    const res = await runCli(["run", path]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/broken\.ipynb.*(line 3|3:)/s);
  });

  it("unknown options and malformed parameters are usage errors", async () => {
    const path = writeNotebookFile(dir, "ok.ipynb", [{ source: "x = 1" }]);
    const unknown = await runCli(["run", path, "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--bogus");
    const missingValue = await runCli(["run", path, "-p", "only-name"]);
    expect(missingValue.code).toBe(2);
    expect(missingValue.stderr).toContain("-p");
    const badName = await runCli(["run", path, "-p", "not a name", "1"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("not a name");
    const badTimeout = await runCli(["run", path, "--cell-timeout", "soon"]);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("--cell-timeout");
  });

  it("--help teaches the command", async () => {
    const res = await runCli(["run", "--help"]);
    expect(res.code).toBe(0);
    for (const word of ["Usage: nbrewind-engine run NOTEBOOK", "--parameters", "--cell-timeout", "--server-url", "Exit codes", "Examples"]) expect(res.stdout).toContain(word);
  });
});

