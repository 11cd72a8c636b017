import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

/**
 * The user's loop, on real kernels: audit once, edit, repeat. For every edit
 * the repeat's outputs must equal a fresh full run's, and the kernel must
 * have executed exactly the cells the edit touched (counted kernel-side).
 */
const base: CellSpec[] = [
  { id: "params", source: "# cell:params\nn = 3", tags: ["parameters"] },
  { id: "data", source: "# cell:data\ndata = list(range(n))" },
  { id: "squares", source: "# cell:squares\nsquares = [x * x for x in data]" },
  { id: "label", source: "# cell:label\nlabel = 'sum'" },
  { id: "bag", source: "# cell:bag\nbag = []\nbag.append(1)" },
  { id: "total", source: "# cell:total\ntotal = sum(squares)\nprint(label, total)" },
  { id: "grow", source: "# cell:grow\nbag.append(len(squares))" },
  { id: "show", source: "# cell:show\nprint(bag, total)" },
  { id: "temp", source: "# cell:temp\ntmp = 5" },
  { id: "drop", source: "# cell:drop\ndel tmp" },
  { id: "last", source: "# cell:last\nprint('done', total)" },
];

const root = tempDir("nbrewind-repeat-");
const template = join(root, "template");
const counter = new KernelCounter(root);

beforeAll(async () => {
  mkdirSync(template);
  const nb = writeNotebookFile(template, "nb.ipynb", base);
  const res = await runCli(["audit", nb, "-q"], { env: counter.env });
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  expect(res.survivors).toEqual([]);
});

function edit(cells: CellSpec[], id: string, source: string): CellSpec[] {
  return cells.map((c) => (c.id === id ? { ...c, source } : c));
}

interface Scenario {
  name: string;
  cells: CellSpec[];
  params?: string[];
  /** Markers (`cell:NAME`, or the injected cell's "# Parameters") the kernel must execute, in order. */
  executed: string[];
}

const scenarios: Scenario[] = [
  { name: "no edit", cells: base, executed: [] },
  { name: "first cell edited", cells: edit(base, "params", "# cell:params\nn = 4"), executed: ["params", "data", "squares", "total", "grow", "show", "last"] },
  // total's print(label, total) may have mutated squares and total (static, conservative); the shim
  // confirms it did not, so grow, show and last read exactly their recorded values and are reused.
  { name: "middle cell edited", cells: edit(base, "label", "# cell:label\nlabel = 'total'"), executed: ["label", "total"] },
  { name: "last cell edited", cells: edit(base, "last", "# cell:last\nprint('finished', total)"), executed: ["last"] },
  { name: "a parameter passed with -p", cells: base, params: ["-p", "n", "5"], executed: ["# Parameters", "data", "squares", "total", "grow", "show", "last"] },
  { name: "a cell inserted", cells: [...base.slice(0, 4), { id: "extra", source: "# cell:extra\nextra = 1" }, ...base.slice(4)], executed: ["extra"] },
  { name: "a cell deleted", cells: base.filter((c) => c.id !== "grow"), executed: ["show"] },
  { name: "cells reordered", cells: [base[3]!, ...base.slice(0, 3), ...base.slice(4)], executed: [] },
  { name: "a mutation through a method call edited", cells: edit(base, "grow", "# cell:grow\nbag.append(len(squares) + 1)"), executed: ["grow", "show"] },
  { name: "a deleted name checked afterwards", cells: edit(base, "last", "# cell:last\nprint('done', total, 'tmp' in globals())"), executed: ["last"] },
];

describe("repeat after an edit", () => {
  for (const [i, s] of scenarios.entries()) {
    it(`${s.name}: runs exactly what the edit touched, and matches a full run`, async () => {
      const dir = join(root, `case-${i}`);
      cpSync(template, dir, { recursive: true });
      const nb = writeNotebookFile(dir, "nb.ipynb", s.cells);
      counter.reset();
      const rep = await runCli(["repeat", nb, "-o", join(dir, "repeat.ipynb"), "--json", "-q", ...(s.params ?? [])], { env: counter.env });
      expect(rep.code, rep.stderr).toBe(0);
      expect(rep.survivors).toEqual([]);
      const markers = counter.executed().map((line) => line.replace(/^# cell:/, ""));
      expect(markers).toEqual(s.executed);

      const full = await runCli(["run", nb, "-o", join(dir, "full.ipynb"), "-q", ...(s.params ?? [])]);
      expect(full.code, full.stderr).toBe(0);
      const repeated = readJson(join(dir, "repeat.ipynb"));
      const fresh = readJson(join(dir, "full.ipynb"));
      expect(repeated.cells.map((c: any) => [c.id, outputText(c)])).toEqual(fresh.cells.map((c: any) => [c.id, outputText(c)]));

      const summary = JSON.parse(rep.stdout);
      expect(summary.counts.run).toBe(s.executed.length);
    });
  }

  it("chains edits: a repeat updates the bundle, and going back to the audited version reuses everything", async () => {
    const dir = join(root, "chain");
    cpSync(template, dir, { recursive: true });
    const first = writeNotebookFile(dir, "nb.ipynb", edit(base, "label", "# cell:label\nlabel = 'L2'"));
    expect((await runCli(["repeat", first, "-q"], { env: counter.env })).code).toBe(0);
    counter.reset();
    expect((await runCli(["repeat", first, "-q"], { env: counter.env })).code).toBe(0);
    expect(counter.executed()).toEqual([]);
    const back = writeNotebookFile(dir, "nb.ipynb", base);
    counter.reset();
    expect((await runCli(["repeat", back, "-q"], { env: counter.env })).code).toBe(0);
    expect(counter.executed()).toEqual([]);
  });
});
