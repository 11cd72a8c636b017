import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rememberedPythonVersion } from "../../../src/pyenv/base-python-probe.js";

let saved: string | undefined;
let dir: string;

beforeEach(() => {
  saved = process.env.XDG_CACHE_HOME;
  dir = mkdtempSync(join(tmpdir(), "nbrewind-probe-"));
  process.env.XDG_CACHE_HOME = join(dir, "cache");
});
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved;
});

describe("the base interpreter's version, asked once per interpreter file", () => {
  it("asks once, then answers from the cache; a changed interpreter file is asked again", () => {
    const python = join(dir, "python3");
    writeFileSync(python, "#!/bin/sh\n", { mode: 0o755 });
    const asked: string[] = [];
    const probe = (p: string) => (asked.push(p), `3.11.${asked.length} linux x86_64`);
    expect(rememberedPythonVersion(python, probe)).toBe("3.11.1 linux x86_64");
    expect(rememberedPythonVersion(python, probe)).toBe("3.11.1 linux x86_64");
    expect(asked).toHaveLength(1);
    // An upgrade in place: the file's modification time (and size) change.
    writeFileSync(python, "#!/bin/sh\n# upgraded\n");
    utimesSync(python, new Date(), new Date(Date.now() + 5000));
    expect(rememberedPythonVersion(python, probe)).toBe("3.11.2 linux x86_64");
    expect(asked).toHaveLength(2);
  });

  it("an interpreter it cannot find on disk is asked every time (the probe reports the error)", () => {
    let asked = 0;
    const probe = () => (asked++, "3.12.0 linux x86_64");
    rememberedPythonVersion(join(dir, "missing-python"), probe);
    rememberedPythonVersion(join(dir, "missing-python"), probe);
    expect(asked).toBe(2);
  });
});
