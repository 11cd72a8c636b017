import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { recordedOutputToIopub, taskLine } from "../../../src/kernel/outputs.js";

describe("what a reused cell sends", () => {
  it("turns recorded nbformat outputs back into the IOPub messages a frontend renders, with the new execution count", () => {
    expect(recordedOutputToIopub({ output_type: "stream", name: "stdout", text: ["a\n", "b\n"] }, 7)).toEqual({ msgType: "stream", content: { name: "stdout", text: "a\nb\n" } });
    expect(recordedOutputToIopub({ output_type: "execute_result", execution_count: 2, data: { "text/plain": ["55"], "application/json": ["x"] }, metadata: {} }, 7)).toEqual({
      msgType: "execute_result",
      content: { data: { "text/plain": "55", "application/json": ["x"] }, metadata: {}, execution_count: 7 },
    });
    expect(recordedOutputToIopub({ output_type: "error", ename: "E", evalue: "v", traceback: ["t"] }, 1)?.msgType).toBe("error");
    expect(recordedOutputToIopub({ output_type: "something else" }, 1)).toBeUndefined();
  });

  it("says in one line how many tasks were served and why the others were dispatched", () => {
    expect(taskLine({ total: 22, served: 20, dispatched: 2, uncached: 0, failed: 0, dispatched_because: [{ function: "__main__.leaf", count: 2, reason: "argument 1 changed" }] })).toBe(
      "[nbrewind] 22 task(s): 20 served from the bundle, 2 dispatched: 2 × leaf because argument 1 changed",
    );
  });

  it("keeps the execute_reply metadata it adds to its schema", () => {
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "schemas", "kernel-execute-metadata.schema.json"), "utf8")) as object;
    const validate = new Ajv({ strict: false }).compile(schema);
    const ok = { nbrewind: { decision: "run", why: "source changed", fingerprint: "a".repeat(64), tasks: { total: 1, served: 0, dispatched: 1, uncached: 0, failed: 0, dispatched_because: [{ function: "f", count: 1, reason: "r" }] } } };
    expect(validate(ok)).toBe(true);
    expect(validate({ nbrewind: { decision: "maybe", why: "", fingerprint: "x" } })).toBe(false);
  });
});
