import { describe, expect, it } from "vitest";
import type { JupyterMessage } from "../../../src/jupyter/kernel-client.js";
import { CellOutputs, DisplayRegistry, collapseCarriageReturns } from "../../../src/jupyter/output-collector.js";

function msg(type: string, content: Record<string, unknown>): JupyterMessage {
  return { header: { msg_type: type, msg_id: "m", date: "", session: "", username: "", version: "5.3" }, parent_header: {}, metadata: {}, content };
}

describe("output the server dropped", () => {
  // The exact text Jupyter Server's rate limiter sends in place of the output it drops.
  const notice = "IOPub data rate exceeded.\nThe Jupyter server will temporarily stop sending output\nto the client in order to avoid crashing it.\nTo change this limit, set the config variable\n`--ServerApp.iopub_data_rate_limit`.\n";

  it("is never taken for the cell's output: the cell shows an OutputDroppedError and is marked as cut", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("stream", { name: "stdout", text: "xxxx" }));
    cell.handle(msg("stream", { name: "stderr", text: notice }));
    expect(cell.dropped).toBe("IOPub data rate exceeded.");
    expect(cell.outputs.map((o) => o.output_type)).toEqual(["stream", "error"]);
    expect(cell.outputs[1]).toMatchObject({ ename: "OutputDroppedError", evalue: expect.stringMatching(/dropped part of this cell's output \(IOPub data rate exceeded\.\)/) });
  });

  it("the same words printed by the cell on stdout, or in passing, are the cell's own output", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("stream", { name: "stdout", text: notice }));
    cell.handle(msg("stream", { name: "stderr", text: "warning: IOPub data rate exceeded. (quoted)\n" }));
    expect(cell.dropped).toBeUndefined();
    expect(cell.outputs.map((o) => o.output_type)).toEqual(["stream", "stream"]);
  });
});

describe("CellOutputs builds outputs as Jupyter front ends show them", () => {
  it("merges consecutive chunks of the same stream, not of different streams", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("stream", { name: "stdout", text: "a" }));
    cell.handle(msg("stream", { name: "stdout", text: "b\n" }));
    cell.handle(msg("stream", { name: "stderr", text: "e\n" }));
    cell.handle(msg("stream", { name: "stdout", text: "c\n" }));
    expect(cell.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "ab\n" },
      { output_type: "stream", name: "stderr", text: "e\n" },
      { output_type: "stream", name: "stdout", text: "c\n" },
    ]);
  });

  it("clear_output(wait=True) clears only when the next output arrives", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("stream", { name: "stdout", text: "old\n" }));
    expect(cell.handle(msg("clear_output", { wait: true }))).toBe(false);
    expect(cell.outputs).toHaveLength(1);
    cell.handle(msg("stream", { name: "stdout", text: "new\n" }));
    expect(cell.outputs).toEqual([{ output_type: "stream", name: "stdout", text: "new\n" }]);
    cell.handle(msg("clear_output", { wait: false }));
    expect(cell.outputs).toEqual([]);
  });

  it("update_display_data rewrites every output with that display id, across cells, and drops transient", () => {
    const registry = new DisplayRegistry();
    const first = new CellOutputs(registry);
    const second = new CellOutputs(registry);
    first.handle(msg("display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "d" } }));
    first.handle(msg("display_data", { data: { "text/plain": "other" }, metadata: {} }));
    second.handle(msg("display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "d" } }));
    second.handle(msg("update_display_data", { data: { "text/plain": "v2" }, metadata: { m: 1 }, transient: { display_id: "d" } }));
    expect(first.outputs).toEqual([
      { output_type: "display_data", data: { "text/plain": "v2" }, metadata: { m: 1 } },
      { output_type: "display_data", data: { "text/plain": "other" }, metadata: {} },
    ]);
    expect(second.outputs).toEqual([{ output_type: "display_data", data: { "text/plain": "v2" }, metadata: { m: 1 } }]);
  });

  it("keeps execute_result's execution_count and error's fields", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("execute_result", { data: { "text/plain": "42" }, metadata: {}, execution_count: 7 }));
    cell.handle(msg("error", { ename: "ValueError", evalue: "bad", traceback: ["tb1", "tb2"] }));
    cell.handle(msg("status", { execution_state: "idle" }));
    expect(cell.outputs).toEqual([
      { output_type: "execute_result", data: { "text/plain": "42" }, metadata: {}, execution_count: 7 },
      { output_type: "error", ename: "ValueError", evalue: "bad", traceback: ["tb1", "tb2"] },
    ]);
  });

  it("replaces the KeyboardInterrupt of our own timeout by a CellTimeoutError", () => {
    const cell = new CellOutputs(new DisplayRegistry());
    cell.handle(msg("error", { ename: "KeyboardInterrupt", evalue: "", traceback: [] }));
    cell.removeErrors("KeyboardInterrupt");
    cell.addError("CellTimeoutError", "timed out");
    expect(cell.outputs).toEqual([{ output_type: "error", ename: "CellTimeoutError", evalue: "timed out", traceback: ["CellTimeoutError: timed out"] }]);
  });
});

describe("collapseCarriageReturns", () => {
  it.each([
    ["plain\n", "plain\n"],
    ["10%\r50%\r100%\n", "100%\n"],
    ["a\r\nb\n", "a\nb\n"],
    ["line1\nprog 1\rprog 2", "line1\nprog 2"],
    ["pending\r", "pending\r"],
  ])("%j -> %j", (input, expected) => {
    expect(collapseCarriageReturns(input)).toBe(expected);
  });
});
