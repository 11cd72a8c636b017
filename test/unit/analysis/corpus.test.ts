import { beforeAll, describe, expect, it } from "vitest";
import { analyseCell, type CellFacts } from "../../../src/analysis/facts.js";
import { loadPythonParser } from "../../../src/analysis/parser.js";
import { ensureManagedEnv } from "../../../src/pyenv/managed-env.js";
import { loadCorpus, runOracle, type OracleFacts } from "./corpus.js";

// The expectations come from CPython (ast + symtable, after IPython's own
// input transformer) run by test/oracle/python_facts.py, never from our code.
const cells = loadCorpus();
let oracle: OracleFacts[] = [];

beforeAll(async () => {
  await loadPythonParser();
  const env = await ensureManagedEnv();
  oracle = runOracle(env.python, cells.map((c) => c.source));
}, 600_000);

const sorted = (s: Set<string>) => [...s].sort();

function comparable(f: CellFacts) {
  return { binds: sorted(f.binds), definiteBinds: sorted(f.definiteBinds), reads: sorted(f.reads), mutates: sorted(f.mutates), deletes: sorted(f.deletes), needs: sorted(f.needs), opaque: f.opaque !== false };
}

describe("corpus checked against CPython", () => {
  it("has at least 200 cells in every group", () => {
    expect(cells.length).toBeGreaterThanOrEqual(200);
    const files = new Set(cells.map((c) => c.file));
    for (const group of ["assignments.py", "walrus.py", "imports.py", "functions.py", "classes.py", "control.py", "comprehensions.py", "match.py", "mutation.py", "deletes.py", "opaque.py", "magics.py", "syntax_errors.py", "realistic.py", "kills.py"]) {
      expect(files, group).toContain(group);
    }
  });

  it.each(cells.map((c, i) => [`${c.file} :: ${c.title}`, i] as const))("%s", (_label, i) => {
    const cell = cells[i]!;
    const expected = oracle[i]!;
    expect(expected.oracleError, "the oracle itself failed on this cell").toBeUndefined();
    const facts = analyseCell(cell.source);
    if (expected.syntaxError) {
      expect(facts.syntaxError, `CPython: ${expected.syntaxError.message}`).toBeDefined();
      expect(facts.syntaxError!.line).toBe(expected.syntaxError.line);
      expect(facts.opaque).not.toBe(false);
      return;
    }
    expect(facts.syntaxError).toBeUndefined();
    expect(comparable(facts)).toEqual({
      binds: expected.binds,
      definiteBinds: expected.definiteBinds,
      reads: expected.reads,
      mutates: expected.mutates,
      deletes: expected.deletes,
      needs: expected.needs,
      opaque: expected.opaque,
    });
  });
});
