import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findTaskVine } from "../../../src/engines/taskvine-install.js";

describe("doctor's TaskVine lookup", () => {
  const saved = process.env.NBREWIND_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.NBREWIND_CACHE_DIR;
    else process.env.NBREWIND_CACHE_DIR = saved;
  });

  it("finds vine_worker on PATH first", () => {
    const bin = mkdtempSync(join(tmpdir(), "tv-bin-"));
    writeFileSync(join(bin, "vine_worker"), "");
    expect(findTaskVine(`/nonexistent:${bin}`)).toEqual({ found: true, where: bin });
  });

  it("else a finished source build in the cache, not one whose build died (no marker)", () => {
    const cache = mkdtempSync(join(tmpdir(), "tv-cache-"));
    process.env.NBREWIND_CACHE_DIR = cache;
    mkdirSync(join(cache, "cctools-0123456789ab", "bin"), { recursive: true });
    expect(findTaskVine("/nonexistent").found).toBe(false);
    writeFileSync(join(cache, "cctools-0123456789ab", ".nbrewind-built"), "");
    expect(findTaskVine("/nonexistent")).toEqual({ found: true, where: join(cache, "cctools-0123456789ab", "bin"), builtPrefix: join(cache, "cctools-0123456789ab") });
  });
});
