import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * The fixed cost of a repeat (issue 15), as a user meets it: `--timings`
 * says where the time went; when an edited cell surely runs, the server and
 * kernel start while the plan is made; when nothing runs, no kernel starts
 * at all, also after going back to an earlier version of a cell. In every
 * case the outputs are the notebook's and nothing is left running.
 */
const cells: CellSpec[] = [
  { id: "a", source: "a = list(range(5))" },
  { id: "b", source: "b = [x * 2 for x in a]" },
  { id: "show", source: "print(sum(b))" },
];
const edited = cells.map((c) => (c.id === "show" ? { ...c, source: "print(sum(b), 'in total')" } : c));

const dir = tempDir("nbrewind-fixed-cost-");
const nbPath = join(dir, "nb.ipynb");

/** The `--timings` table: phase -> seconds, spans (measured inside the phases) apart. */
function timingsOf(stderr: string): { phases: Map<string, number>; spans: Map<string, number> } {
  const lines = stderr.split("\n");
  const start = lines.findIndex((l) => l.startsWith("timings (wall;"));
  expect(start, stderr).toBeGreaterThanOrEqual(0);
  const phases = new Map<string, number>();
  const spans = new Map<string, number>();
  let into = phases;
  for (const line of lines.slice(start + 2)) {
    if (line.startsWith("measured inside")) {
      into = spans;
      continue;
    }
    const m = /^ {2}(.+?)\s+(\d+\.\d+) s/.exec(line);
    if (!m) break;
    into.set(m[1]!.trim(), Number(m[2]));
  }
  return { phases, spans };
}

beforeAll(async () => {
  writeNotebookFile(dir, "nb.ipynb", cells);
  const res = await runCli(["audit", nbPath, "-q"]);
  expect(res.code, res.stderr).toBe(0);
});

describe("repeat's fixed cost", () => {
  it("an edited cell: the kernel starts while the plan is made, --timings adds up, the output is the edited cell's", async () => {
    writeNotebookFile(dir, "nb.ipynb", edited);
    const out = join(dir, "edited.out.ipynb");
    const res = await runCli(["repeat", nbPath, "-o", out, "--timings", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.survivors).toEqual([]);
    // --timings writes to stderr only: stdout stays the JSON summary.
    expect(JSON.parse(res.stdout).counts).toMatchObject({ reused: 2, run: 1 });
    const { phases, spans } = timingsOf(res.stderr);
    expect([...phases.keys()]).toEqual(expect.arrayContaining(["node start + module loading", "read notebook", "plan", "wait for kernel (started early)", "shim load", "cells + checkpoints", "shutdown", "total"]));
    expect([...spans.keys()]).toEqual(expect.arrayContaining(["kernel start", "shutdown: kernel"]));
    // The kernel is launched directly: no Jupyter server starts or stops.
    expect(spans.has("server start") || spans.has("shutdown: server")).toBe(false);
    // The phases split the command's wall time: they add up to the total (each is rounded to the millisecond).
    const sum = [...phases].filter(([name]) => name !== "total").reduce((s, [, v]) => s + v, 0);
    expect(Math.abs(sum - phases.get("total")!)).toBeLessThan(0.001 * phases.size);
    expect(res.stderr.indexOf("starting kernel 'python3'")).toBeLessThan(res.stderr.indexOf("plan:"));
    const nb = readJson(out);
    expect(outputText(nb.cells[2])).toBe("20 in total\n");
  });

  it("no edit: no server or kernel starts, and the output notebook is the same as the last repeat's", async () => {
    const out = join(dir, "again.out.ipynb");
    const res = await runCli(["repeat", nbPath, "-o", out, "--timings"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain("every cell of nb.ipynb is reused: no kernel needed");
    expect(res.stderr).not.toContain("starting kernel");
    const { phases, spans } = timingsOf(res.stderr);
    expect(phases.has("wait for kernel (started early)")).toBe(false);
    expect(spans.has("kernel start")).toBe(false);
    const cellsOf = (path: string) => readJson(path).cells.map((c: any) => ({ source: c.source, outputs: c.outputs, execution_count: c.execution_count }));
    expect(cellsOf(out)).toEqual(cellsOf(join(dir, "edited.out.ipynb")));
  });

  it("going back to the audited version of the cell reuses its record: still no kernel", async () => {
    writeNotebookFile(dir, "nb.ipynb", cells);
    const out = join(dir, "back.out.ipynb");
    const res = await runCli(["repeat", nbPath, "-o", out]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain("every cell of nb.ipynb is reused: no kernel needed");
    expect(res.stderr).not.toContain("starting kernel");
    expect(outputText(readJson(out).cells[2])).toBe("20\n");
  });

  it("a kernel started first thing (an edit, or --run) is shut down when the input is then refused: the same error and exit code as without it, nothing left running", async () => {
    // The kernels say they started through an IPython startup file: the CLI, refusing, says nothing of them.
    const ipython = join(dir, "ipython");
    const started = join(dir, "kernels-started.log");
    mkdirSync(join(ipython, "profile_default", "startup"), { recursive: true });
    writeFileSync(join(ipython, "profile_default", "startup", "00-started.py"), `open(${JSON.stringify(started)}, "a").write("started\\n")\n`);
    const env = { IPYTHONDIR: ipython };
    const kernelsStarted = () => (existsSync(started) ? readFileSync(started, "utf8").split("\n").filter(Boolean).length : 0);

    // JSON with a code cell no record holds, so the kernel starts before validation, but not a valid notebook.
    writeNotebookFile(dir, "nb.ipynb", cells.map((c) => (c.id === "show" ? { ...c, source: "print('never run')" } : c)));
    const nb = JSON.parse(readFileSync(nbPath, "utf8"));
    nb.cells[2].execution_count = "one";
    writeFileSync(nbPath, JSON.stringify(nb));
    const bad = await runCli(["repeat", nbPath], { env });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toBe(
      `nbrewind-engine repeat: '${nbPath}' is not a valid nbformat 4.5 notebook (1 problem; first: cells[2].execution_count: must be an integer or null, not the string "one")\n` +
        `  cells[2].execution_count: must be an integer or null, not the string "one"\n`,
    );
    expect(bad.survivors).toEqual([]);
    expect(kernelsStarted()).toBe(1);

    writeNotebookFile(dir, "nb.ipynb", cells);
    const badCell = await runCli(["repeat", nbPath, "--run", "9"], { env });
    expect(badCell.code, badCell.stderr).toBe(2);
    expect(badCell.stderr).toContain("--run 9");
    expect(badCell.stderr).not.toContain("starting kernel");
    expect(badCell.survivors).toEqual([]);
    expect(kernelsStarted()).toBe(2);

    // Refused only once the kernel is handed over (an option checked there): still closed.
    const badTimeout = await runCli(["repeat", nbPath, "--run", "3", "--cell-timeout", "soon", "-q"], { env });
    expect(badTimeout.code, badTimeout.stderr).toBe(2);
    expect(badTimeout.stderr).toContain("--cell-timeout needs a positive number of seconds, got 'soon'");
    expect(badTimeout.survivors).toEqual([]);
    expect(kernelsStarted()).toBe(3);

    // run and audit start theirs first thing too (they run every cell).
    writeFileSync(nbPath, JSON.stringify(nb));
    for (const args of [["run", nbPath], ["audit", nbPath, "--bundle", join(dir, "other.nbrewind")]]) {
      const refused = await runCli(args, { env });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain("cells[2].execution_count: must be an integer or null");
      expect(refused.stderr).not.toContain("starting kernel");
      expect(refused.survivors).toEqual([]);
    }
    expect(kernelsStarted()).toBe(5);
  });
});
