import { describe, expect, it } from "vitest";
import { unsafePathProblem } from "../../../src/bundle/unpack.js";
import { relativiseJsonText, siteRoots, withoutPathFacts } from "../../../src/bundle/site-paths.js";
import { compareOutputs } from "../../../src/notebook/compare-outputs.js";
import type { Notebook } from "../../../src/notebook/types.js";
import { lineDiff } from "../../../src/report/output-diff.js";

describe("site paths", () => {
  const roots = siteRoots([{ path: "/data/alice/project", replacement: "." }], "/data/alice");
  it("replaces whole path components only, longest root first, keeping valid JSON", () => {
    const text = JSON.stringify({ a: "/data/alice/project/x.csv", b: "/data/alice/.cache/py", c: "/data/alice/projects2", d: 'File "/data/alice/project"' });
    const { text: out, replaced } = relativiseJsonText(text, roots);
    expect(JSON.parse(out)).toEqual({ a: "./x.csv", b: "~/.cache/py", c: "~/projects2", d: 'File "."' });
    expect(replaced).toBe(4);
  });
  it("drops environment facts that are only absolute paths", () => {
    const { env, omitted } = withoutPathFacts({ python: { version: "3.11", executable: "/opt/py/bin/python" }, platform: { system: "Linux" } });
    expect(env).toEqual({ python: { version: "3.11" }, platform: { system: "Linux" } });
    expect(omitted).toEqual(["python.executable"]);
  });
});

describe("entry paths", () => {
  it.each([
    ["../x", /'\.\.'/],
    ["a/../../x", /'\.\.'/],
    ["/etc/passwd", /absolute/],
    ["C:/x", /absolute/],
    ["a\\b", /backslash/],
    ["a//b", /empty/],
    ["./a", /'\.'/],
    ["a\u0000b", /control/],
  ])("%j is refused", (path, why) => {
    expect(unsafePathProblem(path)).toMatch(why);
  });
  it("ordinary bundle paths pass", () => {
    expect(unsafePathProblem("nb.nbrewind/cells/abc.json")).toBeUndefined();
    expect(unsafePathProblem("ünïcode.ipynb")).toBeUndefined();
  });
});

function nb(cells: { id: string; outputs: unknown[]; execution_count?: number }[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((c) => ({ cell_type: "code", id: c.id, metadata: {}, source: "", execution_count: c.execution_count ?? null, outputs: c.outputs as never })),
  } as Notebook;
}

describe("output comparison", () => {
  const recorded = nb([
    { id: "a", execution_count: 1, outputs: [{ output_type: "stream", name: "stdout", text: ["x\n", "y\n"] }, { output_type: "execute_result", execution_count: 1, data: { "text/plain": "3" }, metadata: {} }] },
    { id: "b", outputs: [{ output_type: "error", ename: "ValueError", evalue: "bad", traceback: ["/tmp/ipykernel_1/1.py"] }] },
  ]);

  it("execution counts, split streams, display ids and tracebacks are not content", () => {
    const got = nb([
      { id: "a", execution_count: 7, outputs: [{ output_type: "stream", name: "stdout", text: "x\n" }, { output_type: "stream", name: "stdout", text: "y\n" }, { output_type: "execute_result", execution_count: 7, data: { "text/plain": ["3"] }, metadata: {}, transient: { display_id: "q" } }] },
      { id: "b", outputs: [{ output_type: "error", ename: "ValueError", evalue: "bad", traceback: ["/tmp/ipykernel_9/4.py"] }] },
    ]);
    expect(compareOutputs(recorded, got)).toEqual({ cells_compared: 2, cells_differing: 0, matched: true, differences: [], addresses_only: [] });
  });

  it("text, data, a missing output and a missing cell are differences, each named", () => {
    const got = nb([{ id: "a", outputs: [{ output_type: "stream", name: "stdout", text: "x\nz\n" }] }, { id: "c", outputs: [{ output_type: "stream", name: "stdout", text: "new\n" }] }]);
    const result = compareOutputs(recorded, got);
    expect(result.matched).toBe(false);
    expect(result.differences.map((d) => [d.cell_id, d.output_index, d.what])).toEqual([
      ["a", 0, "stream stdout"],
      ["a", 1, "execute_result"],
      ["c", null, "cell"],
      ["b", null, "cell"],
    ]);
    expect(lineDiff("x\ny\n", "x\nz\n")).toEqual(["  (1 identical line)", "- y", "+ z", "  (1 identical line)"]);
  });

  it("an object made again at the new site differs only in its repr's memory address: listed apart, not a difference; any other change still is", () => {
    const repr = (at: string, n: string) => nb([
      { id: "a", outputs: [{ output_type: "execute_result", data: { "text/plain": [`<parsl.dataflow.dflow.DataFlowKernel at ${at}>`], "text/html": [`&lt;Client at ${at}&gt; ${n}`] }, metadata: {} }] },
      { id: "b", outputs: [{ output_type: "stream", name: "stdout", text: `id 0x7f00aa11 of <Lock object at ${at}>\n` }] },
    ]);
    const same = compareOutputs(repr("0x7fa38823d690", "1"), repr("0x7f6cdfb57ad0", "1"));
    expect(same).toMatchObject({ matched: true, cells_differing: 0, differences: [] });
    expect(same.addresses_only.map((d) => [d.cell_id, d.what])).toEqual([["a", "text/plain"], ["a", "text/html"], ["b", "stream stdout"]]);
    // A bare hex number is content, and so is anything else beside the address.
    const changed = compareOutputs(repr("0x7fa38823d690", "1"), repr("0x7f6cdfb57ad0", "2"));
    expect(changed.matched).toBe(false);
    expect(changed.differences.map((d) => [d.cell_id, d.what])).toEqual([["a", "text/html"]]);
    const hex = compareOutputs(nb([{ id: "a", outputs: [{ output_type: "stream", name: "stdout", text: "checksum 0x7fa38823\n" }] }]), nb([{ id: "a", outputs: [{ output_type: "stream", name: "stdout", text: "checksum 0x7fa38824\n" }] }]));
    expect(hex.matched).toBe(false);
  });

  it("a cell without outputs that only one side has (a parameters cell the replay injected) shows nothing to differ", () => {
    const got = nb([...recorded.cells.map((c) => ({ id: c.id!, outputs: (c as { outputs: unknown[] }).outputs, execution_count: 1 })), { id: "injected-parameters", outputs: [] }]);
    expect(compareOutputs(recorded, got)).toMatchObject({ cells_compared: 2, matched: true, differences: [] });
  });
});
