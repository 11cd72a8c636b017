import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runMain } from "../unit/cli/run-main.js";
import { runCli, tempDir, type CliResult } from "./cli-harness.js";

// Issue 9, the analysis and cell-plan half, as a user meets it on a notebook
// shaped like parsl-tutorial's 3-parsl-workflows: nbformat 4.4 (no cell ids),
// markdown between code cells, each code cell re-importing and re-creating
// an unserialisable object (parsl's `config`; a SimpleQueue here: the engine
// is not the point). One audit and one repeat: two kernels for the file.
const dir = tempDir("nbrewind-cell-plan-");
const nbPath = join(dir, "workflow.ipynb");

const queueCell = (n: number) => `from queue import SimpleQueue\nq = SimpleQueue()\nq.put(${n})\nprint(q.get())`;
const sources: [string, string][] = [
  ["markdown", "# A workflow"],
  ["code", queueCell(1)], // cell 2
  ["code", "data = [1, 2, 3]\ndef describe(v):\n    print('n =', len(v))"], // cell 3
  ["code", "print(sum(data))"], // cell 4
  ["markdown", "Describe it."],
  ["code", "describe(data)"], // cell 6: statically may change `data`, really does not
  ["code", "print(sum(data))"], // cell 7: the same source as cell 4, the same input values
  ["code", queueCell(2)], // cell 8: binds its own `q`
  ["code", "a = 3\nprint(a)"], // cell 9
  ["code", `${queueCell(3)}\nraise ValueError('boom')`], // cell 10: fails, and binds its own \`q\` before using it
];

function writeV44(cells: [string, string][]): void {
  const nb = {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
    cells: cells.map(([cell_type, source]) => ({ cell_type, source, metadata: {}, ...(cell_type === "code" ? { outputs: [], execution_count: null } : {}) })),
  };
  writeFileSync(nbPath, JSON.stringify(nb, null, 1));
}

let audit: CliResult;

/** `plan` needs no kernel: run it in this process (a CLI process start costs seconds on a busy machine). */
async function plan(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runMain(["plan", ...argv]);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

beforeAll(async () => {
  writeV44(sources);
  audit = await runCli(["audit", nbPath, "-o", join(dir, "out.ipynb")]);
}, 120_000);

describe("the cell plan of a tutorial-shaped notebook", () => {
  it("the audit numbers cells as the notebook does, in progress and in the failure summary", () => {
    expect(audit.code, audit.stderr).toBe(1);
    expect(audit.survivors).toEqual([]);
    // Cell 8 of 10 (markdown counted), labelled by its first line that is not an import.
    expect(audit.stderr).toMatch(/\[8\/10\] ran .* q = SimpleQueue\(\)/);
    expect(audit.stderr).toMatch(/failed: cell 10 raised an error\n {2}ValueError: boom/);
  });

  it("a no-edit plan reuses every cell but the one that failed", async () => {
    const p = await plan(nbPath);
    expect(p.code, p.stderr).toBe(0);
    // Before: "4 reused, 4 to run" (cell 10 needed cell 8's unserialisable `q`, cell 8 cell 2's; cell 7 had no record).
    expect(p.stdout).toMatch(/plan: 7 reused, 1 to run/);
    expect(p.stdout).toMatch(/^cell {2}10 \[\w+\] run {3}q = SimpleQueue\(\)\n {6}because it raised an error when it was recorded$/m);
  });

  it("an edited cell of a notebook without ids reads as 'source changed'", async () => {
    writeV44(sources.map(([t, s]) => [t, s === "a = 3\nprint(a)" ? "a = 4\nprint(a)" : s]));
    const p = await plan(nbPath);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/plan: 6 reused, 2 to run/);
    expect(p.stdout).toMatch(/^cell {3}9 \[\w+\] run {3}a = 4\n {6}because source changed$/m);
  });

  it("a CELL that names no cell is bad input, exit 2, naming it", async () => {
    const bad = await plan(nbPath, "--from", "42");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from 42: the notebook has no cell 42 \(cells are numbered 1 to 10/);
  });

  it("repeat --run forces a reused cell to run, with the reason 'forced', and keeps the others reused", async () => {
    const rep = await runCli(["repeat", nbPath, "--run", "3", "--explain", "-o", join(dir, "out.ipynb")]);
    expect(rep.code, rep.stderr).toBe(1);
    expect(rep.survivors).toEqual([]);
    expect(rep.stdout).toMatch(/^cell {3}3 \[\w+\] run {3}data = \[1, 2, 3\]\n {6}because forced: --run 3$/m);
    expect(rep.stderr).toMatch(/\[3\/10\] ran /);
    expect(rep.stderr).toMatch(/\[9\/10\] ran .* a = 4/);
    expect(rep.stderr, rep.stderr.slice(-600)).toMatch(/repeat: 5 reused, 3 ran/);
  });
});
