import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../src/common/errors.js";
import { findConfigFile, functionMatches, loadConfigFor, parseConfig, parseDuration, parseSize, pinChange, resolvePins } from "../../../src/config/index.js";
import type { TaskRecord } from "../../../src/common/task-record.js";

function errorOf(text: string): { message: string; details: string[]; exitCode: number } {
  try {
    parseConfig(text, "/proj/nbrewind.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    const e = err as InputError;
    return { message: e.message, details: e.details, exitCode: e.exitCode };
  }
  throw new Error("expected an error");
}

describe("nbrewind.yaml: parse and validate", () => {
  it("reads a complete file: paths relative to the file, sizes in bytes", () => {
    const c = parseConfig(
      ["# team settings", "pins:", "  - function: pipeline.skim*", "    cell: load", "    version: v3", "    keep: true", "cache:", "  dir: ../team-cache", "  read: [/srv/published, ~/other]", "gc:", "  max_size: 20GB", "  keep_runs: 5", ""].join("\n"),
      "/proj/sub/nbrewind.yaml",
    );
    expect(c.pins).toEqual([{ function: "pipeline.skim*", cell: "load", version: "v3", keep: true }]);
    expect(c.cache.dir).toBe("/proj/team-cache");
    expect(c.cache.read[0]).toBe("/srv/published");
    expect(c.cache.read[1]).toMatch(/\/other$/);
    expect(c.gc).toEqual({ maxSizeBytes: 20 * 1024 ** 3, keepRuns: 5 });
  });

  it("an empty file is every default", () => {
    expect(parseConfig("", "/p/nbrewind.yaml")).toMatchObject({ pins: [], cache: { read: [] }, gc: {} });
  });

  it("an unknown key: exit 2, file:line:col at the key, and the keys that are allowed", () => {
    const e = errorOf("pins:\n  - function: a.b\n    version: v1\n    colour: red\n");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("/proj/nbrewind.yaml:4:5: unknown key `colour` in `pins[0]`; expected one of: function, cell, version, keep");
    expect(e.details.at(-1)).toContain("expected shape:");
  });

  it("a wrong type names the field, its position and what it should be", () => {
    const e = errorOf("pins:\n  - function: a.b\n    version: 3\n");
    expect(e.message).toMatch(/^\/proj\/nbrewind\.yaml:3:14: `pins\[0\]\.version` must be a string/);
    expect(errorOf("cache:\n  read: /x\n").message).toMatch(/^\/proj\/nbrewind\.yaml:2:9: `cache\.read` must be a list/);
    expect(errorOf("gc:\n  keep_runs: 0\n").message).toMatch(/:2:14: `gc\.keep_runs` must be at least 1/);
    expect(errorOf("gc:\n  max_size: lots\n").message).toMatch(/:2:13: `gc\.max_size` is not a size/);
    expect(errorOf("pins:\n  - function: x\n").message).toMatch(/:2:5: `pins\[0\]` needs `version`/);
  });

  it("broken indentation is a YAML error with its position and the expected shape", () => {
    const e = errorOf("pins:\n  - function: a\n   version: v3\n");
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^\/proj\/nbrewind\.yaml:3:\d+: .*\(nbrewind\.yaml is not valid YAML\)$/);
    expect(e.details.join("\n")).toContain("version: \"v3\"");
  });

  it("is found in the notebook's folder or any parent; the nearest wins", () => {
    const root = mkdtempSync(join(tmpdir(), "nbrewind-config-"));
    mkdirSync(join(root, "a", "b", "c"), { recursive: true });
    expect(findConfigFile(join(root, "a", "b", "c"))).toBeUndefined();
    writeFileSync(join(root, "nbrewind.yaml"), "pins: [{function: f, version: v1}]\n");
    expect(findConfigFile(join(root, "a", "b", "c"))).toBe(join(root, "nbrewind.yaml"));
    writeFileSync(join(root, "a", "nbrewind.yaml"), "pins: [{function: g, version: v2}]\n");
    expect(loadConfigFor(join(root, "a", "b", "c")).pins[0]!.function).toBe("g");
  });
});

describe("sizes and durations", () => {
  it("parses what people write", () => {
    expect(parseSize("500MB")).toBe(500 * 1024 ** 2);
    expect(parseSize("1.5 GiB")).toBe(1.5 * 1024 ** 3);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize("12b")).toBe(12);
    expect(parseSize("lots")).toBeUndefined();
    expect(parseDuration("30d")).toBe(30 * 86400e3);
    expect(parseDuration("2w")).toBe(14 * 86400e3);
    expect(parseDuration("soon")).toBeUndefined();
  });
});

describe("pins: which tasks they select, and when a recorded cell must run again", () => {
  it("globs match the qualified name, and notebook functions without __main__.", () => {
    expect(functionMatches("pipeline.skim*", "pipeline.skim_files")).toBe(true);
    expect(functionMatches("pipeline.skim*", "pipeline.fit")).toBe(false);
    expect(functionMatches("skim", "__main__.skim")).toBe(true);
    expect(functionMatches("skim", "other.skim")).toBe(false);
    expect(functionMatches("st[!a]ge?", "stuge1")).toBe(true);
    expect(functionMatches("st[!a]ge?", "stage1")).toBe(false);
    expect(functionMatches("a.b", "aXb")).toBe(false);
  });

  it("a cell selector is a cell id or a tag", () => {
    const pins = resolvePins([{ function: "f", cell: "heavy", version: "v1", keep: false }], [
      { id: "c1", tags: ["heavy"] },
      { id: "heavy", tags: [] },
      { id: "c3", tags: [] },
    ]);
    expect(pins[0]!.cells).toEqual(["c1", "heavy"]);
    expect(pins[0]!.selector).toBe("f in cell heavy");
  });

  const task = (fn: string, pin?: TaskRecord["pin"]): TaskRecord => ({ key: "k".repeat(64), engine: "dask", function: fn, arg_keys: [], upstream: [], engine_key: "x", status: "dispatched", result_digest: "d".repeat(64), result_size: 1, ...(pin ? { pin } : {}) });
  const pinned = resolvePins([{ function: "skim", version: "v2", keep: false }], []);

  it("a version bump makes the recorded cell stale, naming the pin", () => {
    const change = pinChange(pinned, [task("__main__.skim", { version: "v1", by: "nbrewind.yaml: skim" })]);
    expect(change?.reason).toBe("pin `skim` is at version v2 now; its tasks were recorded at version v1");
    expect(pinChange(pinned, [task("__main__.skim", { version: "v2", by: "nbrewind.yaml: skim" })])).toBeUndefined();
  });

  it("adding a pin is no change (the result came from that code); removing one is", () => {
    expect(pinChange(pinned, [task("__main__.skim")])).toBeUndefined();
    expect(pinChange([], [task("__main__.skim", { version: "v1", by: "nbrewind.yaml: skim" })])?.reason).toBe("pin `skim` (version v1) was removed from nbrewind.yaml");
    // a decorator pin lives in the source, which the fingerprint covers already
    expect(pinChange([], [task("__main__.skim", { version: "v1", by: "decorator" })])).toBeUndefined();
  });
});
