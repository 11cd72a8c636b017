import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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
    expect(await json(["import", join(dir, "published")])).toMatchObject({ entries: 0, present: 1 }); // the pinned result was kept: the same one

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

describe("cache export FILE / import FILE: one file that carries results with their digests", () => {
  /** The bytes of `file` with the first occurrence of `from` replaced by `to` (same length: the tar stays well formed). */
  const tamper = (file: string, from: string, to: string) => {
    const bytes = readFileSync(file);
    const at = bytes.indexOf(from);
    expect(at).toBeGreaterThan(0);
    bytes.write(to, at);
    writeFileSync(file, bytes);
  };
  const consumer = () => {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-consumer-"));
    return { dir, cache: join(dir, "cache") };
  };

  it("exports the pinned results to a .tar (and everything to a .tar.gz) that another cache imports and verifies", async () => {
    const { dir } = await project();
    const tar = join(dir, "out", "skim-v1.tar");
    const exported = await cli(["export", tar, "--json"], dir);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ to: tar, entries: 1, skipped: 0 });
    expect(validate(JSON.parse(exported.stdout))).toBe(true);
    const listing = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n");
    expect(listing).toEqual(["nbrewind-cache.json", `tasks/${sha("__main__.skim").slice(0, 2)}/${sha("__main__.skim")}.json`, `blobs/sha256/${sha("skimmed").slice(0, 2)}/${sha("skimmed").slice(2)}`]);

    const other = consumer();
    const imported = await cli(["import", tar, "--cache", other.cache, "--json"], other.dir);
    expect(JSON.parse(imported.stdout)).toMatchObject({ entries: 1, present: 0, replaced: 0 });
    expect(validate(JSON.parse(imported.stdout))).toBe(true);
    const ls = JSON.parse((await cli(["ls", "--json", "--cache", other.cache], other.dir)).stdout) as { entries: { function: string; pinned: { version: string } | null }[] };
    expect(ls.entries).toMatchObject([{ function: "__main__.skim", pinned: { version: "v1" } }]);
    expect((await cli(["verify", "--cache", other.cache], other.dir)).code).toBe(0);
    // Importing the same file again: already there, nothing rewritten.
    expect(JSON.parse((await cli(["import", tar, "--cache", other.cache, "--json"], other.dir)).stdout)).toMatchObject({ entries: 0, present: 1 });

    const tgz = join(dir, "all.tgz");
    expect(JSON.parse((await cli(["export", tgz, "--all", "--json"], dir)).stdout)).toMatchObject({ entries: 2 });
    expect(readFileSync(tgz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(JSON.parse((await cli(["import", tgz, "--cache", other.cache, "--json"], other.dir)).stdout)).toMatchObject({ entries: 1, present: 1 });
  });

  it("refuses an altered result or entry, naming it, and writes nothing", async () => {
    const { dir } = await project();
    const tar = join(dir, "all.tar");
    await cli(["export", tar, "--all"], dir);
    const original = readFileSync(tar);

    tamper(tar, "fitted", "fixted");
    const other = consumer();
    await expect(cli(["import", tar, "--cache", other.cache], other.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/the result of __main__\.fit \(key [0-9a-f]{12}\) was altered or damaged.*nothing was imported/) });
    expect(existsSync(join(other.cache, "index.jsonl"))).toBe(false);

    writeFileSync(tar, original);
    tamper(tar, '"version": "v1"', '"version": "v9"'); // the skim entry's pin, not its blob
    await expect(cli(["import", tar, "--cache", other.cache], other.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/entry __main__\.skim \(key [0-9a-f]{12}\) was altered or damaged/) });
    expect(existsSync(join(other.cache, "index.jsonl"))).toBe(false);
    expect(readdirSync(join(other.cache, "blobs", "tmp"))).toEqual([]); // the staged blobs are gone

    writeFileSync(tar, Buffer.from("not a tar at all, just some text that is long enough to be read".repeat(20)));
    await expect(cli(["import", tar, "--cache", other.cache], other.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`${tar}: not a readable tar`) });
  });

  it("never overwrites a result the cache holds differently, unless --replace", async () => {
    const { dir } = await project();
    const tar = join(dir, "pinned.tar");
    await cli(["export", tar], dir);
    // The consumer computed skim itself, with another result under the same key.
    const other = consumer();
    const mine = new TaskCache(other.cache);
    const src = new BlobStore(join(other.dir, "src"));
    await src.writeAtomic("skimmed differently");
    const held: TaskCacheEntry = { format_version: 1, key: sha("__main__.skim"), engine: "dask", function: "__main__.skim", digest: sha("skimmed differently"), size: 19, created_at: "2026-11-02T00:00:00.000Z", producer: { bundle: "/c", notebook: "/c.ipynb" } };
    await mine.publish([held], src);
    await expect(cli(["import", tar, "--cache", other.cache], other.dir)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining("1 result(s) that differ"),
      details: expect.arrayContaining([expect.stringMatching(/^__main__\.skim \(key [0-9a-f]{12}\): another result/), expect.stringContaining("--replace")]),
    });
    expect(JSON.parse(readFileSync(mine.entryPath(held.key), "utf8"))).toMatchObject({ digest: sha("skimmed differently") });
    await cli(["export", join(dir, "published")], dir); // a folder import refuses it the same way
    await expect(cli(["import", join(dir, "published"), "--cache", other.cache], other.dir)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining("1 result(s) that differ") });
    expect(JSON.parse((await cli(["import", tar, "--replace", "--cache", other.cache, "--json"], other.dir)).stdout)).toMatchObject({ entries: 1, replaced: 1 });
    expect(JSON.parse(readFileSync(mine.entryPath(held.key), "utf8"))).toMatchObject({ digest: sha("skimmed") });
  });
});
