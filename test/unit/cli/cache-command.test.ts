import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { cacheCommand } from "../../../src/cli/cache.js";
import { BlobStore } from "../../../src/store/blob-store.js";
import { TaskCache, type TaskCacheEntry } from "../../../src/store/task-cache.js";
import { capturedIO } from "./run-main.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "schemas", "cache-output.schema.json"), "utf8")) as object;
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { io, out, err } = capturedIO();
  const before = process.cwd();
  process.chdir(cwd);
  try {
    const code = await cacheCommand.run(args, io);
    return { code, stdout: out(), stderr: err() };
  } finally {
    process.chdir(before);
  }
}

/** A project with nbrewind.yaml (one pin, a cache.dir) and a cache holding a pinned and an unpinned result. */
async function project(): Promise<{ dir: string; cache: TaskCache }> {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-cachecli-"));
  writeFileSync(join(dir, "nbrewind.yaml"), "# settings\npins:\n  - function: skim  # slow\n    version: v1\ncache:\n  dir: ./cache\n");
  const cache = new TaskCache(join(dir, "cache"));
  const src = new BlobStore(join(dir, "src"));
  const entries: TaskCacheEntry[] = [];
  for (const [value, fn, pin] of [["skimmed", "__main__.skim", true], ["fitted", "__main__.fit", false]] as const) {
    await src.writeAtomic(value);
    entries.push({ format_version: 1, key: sha(fn), engine: "dask", function: fn, digest: sha(value), size: value.length, created_at: "2026-11-01T00:00:00.000Z", producer: { bundle: "/b", notebook: "/nb.ipynb" }, ...(pin ? { pin: { version: "v1", by: "nbrewind.yaml: skim" } } : {}) });
  }
  await cache.publish(entries, src);
  return { dir, cache };
}

describe("cache command: --json follows schemas/cache-output.schema.json, and does what it says", () => {
  it("ls, du, verify, gc, export, import, pin, unpin", async () => {
    const { dir } = await project();
    const json = async (args: string[]) => {
      const r = await cli([...args, "--json"], dir);
      expect(r.code, r.stderr).toBe(0);
      const v = JSON.parse(r.stdout) as Record<string, any>;
      expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
      return v;
    };
    expect((await json(["ls"])).entries.map((e: any) => e.function)).toEqual(["__main__.fit", "__main__.skim"]);
    expect((await json(["ls", "--pinned"])).entries.map((e: any) => e.function)).toEqual(["__main__.skim"]);
    expect((await json(["ls", "--function", "fi*"])).entries).toHaveLength(1);
    expect(await json(["du"])).toMatchObject({ entries: 2, blobs: 2, bytes: 13, pinned_bytes: 7 });
    expect(await json(["verify"])).toMatchObject({ ok: true, entries: 2 });
    expect(await json(["gc", "--dry-run", "--max-size", "0"])).toMatchObject({ dry_run: true, entries_removed: 1, kept_pinned: 1, bytes_freed: 6 });
    expect((await json(["ls"])).entries).toHaveLength(2); // a dry run removes nothing
    expect(await json(["export", join(dir, "published")])).toMatchObject({ entries: 1 });
    expect(await json(["gc", "--max-size", "0"])).toMatchObject({ dry_run: false, entries_removed: 1 });
    expect((await json(["ls"])).entries).toHaveLength(1);
    expect(await json(["import", join(dir, "published")])).toMatchObject({ entries: 1 });

    expect(await json(["pin", "fit", "--version", "v7", "--cell", "train", "--keep"])).toMatchObject({ updated: false });
    expect(await json(["pin", "skim", "--version", "v2"])).toMatchObject({ updated: true });
    const text = readFileSync(join(dir, "nbrewind.yaml"), "utf8");
    expect(text).toContain("# settings");
    expect(text).toContain("# slow");
    expect(text).toMatch(/function: skim.*\n\s+version: v2/);
    expect(await json(["unpin", "fit"])).toMatchObject({ removed: 1 });
  });

  it("bad input is exit 2 with what to do", async () => {
    const { dir } = await project();
    await expect(cli(["gc", "--max-size", "lots"], dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("--max-size \"lots\" is not a size") });
    await expect(cli(["pin", "skim"], dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("--version V is required") });
    await expect(cli(["frobnicate"], dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("unknown subcommand 'frobnicate'") });
    const empty = mkdtempSync(join(tmpdir(), "nbrewind-nocache-"));
    await expect(cli(["ls"], empty)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("no task cache to work on") });
    mkdirSync(join(empty, "notacache"));
    await expect(cli(["import", join(empty, "notacache"), "--cache", join(empty, "c")], empty)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("is not a task cache") });
    // a damaged blob: verify is exit 2 and names the entry's function
    const { dir: d2, cache } = await project();
    writeFileSync(cache.blobs.pathFor(sha("fitted")), "fitteD");
    const r = await cli(["verify"], d2);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/__main__\.fit: blob [0-9a-f]{64} is corrupt/);
  });
});
