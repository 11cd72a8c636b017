import { describe, expect, it } from "vitest";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { ValueState } from "../../../src/planner/value-state.js";

const D1 = "1".repeat(64);
const D2 = "2".repeat(64);

function record(cellId: string, writes: RecordedCell["writes"]): RecordedCell {
  return { fingerprint: cellId.padEnd(64, "f"), cell_id: cellId, source_hash: "s", status: "ok", reads: [], writes, outputs: [], execution_count: 1, duration_s: 1, recorded_at: "", value_key: "" };
}

describe("ValueState", () => {
  it("tracks where each value is: recorded values become live once restored", () => {
    const s = new ValueState();
    s.applyRecord(record("a", [{ name: "x", status: "stored", digest: D1, size: 10, type: "int" }]), 0);
    expect(s.get("x")).toMatchObject({ identity: `sha256:${D1}`, location: { where: "recorded", digest: D1, fromCellId: "a" }, restorable: true });
    s.markLive("x");
    expect(s.get("x")!.location).toEqual({ where: "live" });
  });

  it("gives the same value key for the same source and input values, whoever produced them", () => {
    const reused = new ValueState();
    reused.applyRecord(record("a", [{ name: "x", status: "stored", digest: D1, size: 10, type: "int" }]), 0);
    const ran = new ValueState();
    ran.applyRun([{ name: "x", status: "unchanged", digest: D1, size: 10, type: "int" }], "f".repeat(64), "b", 1);
    expect(reused.valueKey("src", ["x"])).toBe(ran.valueKey("src", ["x"]));
    expect(reused.valueKey("src", ["x"])).not.toBe(reused.valueKey("other", ["x"]));
    ran.applyRun([{ name: "x", status: "stored", digest: D2, size: 10, type: "int" }], "f".repeat(64), "b", 1);
    expect(reused.valueKey("src", ["x"])).not.toBe(ran.valueKey("src", ["x"]));
  });

  it("deleted names are absent; unserialisable values are not restorable and are identified by their producer", () => {
    const s = new ValueState();
    s.applyRecord(record("a", [{ name: "client", status: "unserialisable", type: "Client", reason: "live" }, { name: "t", status: "stored", digest: D1, size: 1, type: "int" }]), 0);
    expect(s.get("client")).toMatchObject({ restorable: false, identity: expect.stringMatching(/^unserialisable:/) });
    s.applyRecord(record("b", [{ name: "t", status: "deleted" }]), 1);
    expect(s.get("t")).toBeUndefined();
    expect(s.valueKey("src", ["t"])).toBe(new ValueState().valueKey("src", ["t"]));
  });

  it("names touched by a failed cell match no record", () => {
    const s = new ValueState();
    s.applyRun([{ name: "x", status: "stored", digest: D1, size: 1, type: "int" }], "f".repeat(64), "a", 0);
    const before = s.valueKey("src", ["x"]);
    s.markUnknown(["x"], "run-1");
    expect(s.valueKey("src", ["x"])).not.toBe(before);
  });
});
