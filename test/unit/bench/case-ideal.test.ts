/**
 * bench:cases judges every repeat against its edit's ideal (a cell set with
 * task counts): these are the verdicts it prints and exits 1 on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { departures, describeSet, rerunSet } from "../../../bench/case-studies/ideal.js";
import { CASES } from "../../../bench/case-studies/index.js";
import { CASES_DIR, NOTEBOOK } from "../../../bench/case-studies/workspace.js";
import type { Notebook } from "../../../src/notebook/types.js";

function repeated(cells: [string, string, number?][]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { id: "title", cell_type: "markdown", metadata: {}, source: "# t" },
      ...cells.map(([id, decision, dispatched]) => ({ id, cell_type: "code", metadata: { nbrewind: { decision, ...(dispatched !== undefined ? { tasks: { dispatched, served: 0, total: dispatched } } : {}) } }, outputs: [], execution_count: null, source: "" })),
    ],
  } as unknown as Notebook;
}

describe("a repeat held against an edit's ideal", () => {
  it("reads the cells that ran and the tasks each dispatched from the repeat's notebook", () => {
    expect(rerunSet(repeated([["imports", "reused"], ["engine", "run"], ["map", "run", 5], ["write", "run", 0]]))).toEqual({ engine: 0, map: 5, write: 0 });
  });

  it("finds nothing to say when the repeat re-ran exactly the ideal", () => {
    expect(departures({ engine: 0, map: 5 }, { engine: 0, map: 5 })).toEqual([]);
  });

  it("names a cell run outside the ideal, a cell the ideal runs that was reused, and a wrong task count", () => {
    expect(departures({ map: 5, stats: 0 }, { engine: 0, map: 1 })).toEqual([
      "cell engine ran (0 task(s) dispatched) but is outside the ideal",
      "cell map dispatched 1 task(s), the ideal is 5",
      "cell stats was reused but the ideal re-runs it (0 task(s))",
    ]);
    expect(describeSet({ engine: 0, map: 5 })).toBe("engine, map (5)");
  });

  it("refuses a notebook that no repeat wrote", () => {
    const plain = repeated([["a", "run"]]);
    delete (plain.cells[1]!.metadata as Record<string, unknown>).nbrewind;
    expect(() => rerunSet(plain)).toThrow(/no nbrewind record/);
  });

  it("every case declares a last-step, an upstream and an input-file edit, in that order, whose ideal names cells of its notebook", () => {
    for (const study of CASES) {
      expect(study.edits.map((e) => e.kind), study.name).toEqual(["last-step", "upstream", "input-file"]);
      const nb = JSON.parse(readFileSync(join(CASES_DIR, study.name, NOTEBOOK), "utf8")) as Notebook;
      const ids = nb.cells.filter((c) => c.cell_type === "code").map((c) => String(c.id));
      for (const e of study.edits) {
        expect(Object.keys(e.ideal).length, `${study.name}: ${e.why}`).toBeGreaterThan(0);
        for (const cell of Object.keys(e.ideal)) expect(ids, `${study.name}: ${e.why}`).toContain(cell);
        if (e.source) expect(Object.keys(e.ideal), `${study.name}: ${e.why}`).toContain(e.source.cell);
      }
    }
  });
});
