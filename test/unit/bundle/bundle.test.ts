import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Bundle, defaultBundleDir, formatProblem, HASHING_SCHEME, type BundleManifest } from "../../../src/bundle/index.js";
import { InputError } from "../../../src/common/errors.js";
import { code, notebook } from "../notebook/helpers.js";
import { cellRecord, environment, errorOf, putBlob, runEntry, sha256, tempDir } from "./helpers.js";

async function fresh(): Promise<Bundle> {
  return Bundle.create(join(tempDir("nbrewind-bundle-test-"), "nb.nbrewind"), { sourceNotebook: "/somewhere/nb.ipynb" });
}

function editManifest(dir: string, edit: (m: Record<string, any>) => void): void {
  const file = join(dir, "manifest.json");
  const m = JSON.parse(readFileSync(file, "utf8"));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

describe("paths", () => {
  test("the default bundle sits beside the notebook", () => {
    expect(defaultBundleDir("/a/b/analysis.ipynb")).toBe("/a/b/analysis.nbrewind");
    expect(defaultBundleDir("nb.ipynb")).toBe("nb.nbrewind");
  });
});

describe("create and open", () => {
  test("round trip: folders, manifest, and only the notebook's basename", async () => {
    const b = await fresh();
    for (const sub of ["cells", "logs", "blobs/sha256", "blobs/tmp"]) expect(existsSync(join(b.dir, sub))).toBe(true);
    const m = b.manifest;
    expect(m).toMatchObject({ format: "nbrewind-bundle", format_version: 1, hashing_scheme: HASHING_SCHEME, source_notebook: "nb.ipynb", notebook: "notebook.ipynb", cells: [], runs: [] });
    const again = await Bundle.open(b.dir);
    expect(again.manifest).toEqual(m);
    // create on an existing bundle opens it
    expect((await Bundle.create(b.dir, { sourceNotebook: "other.ipynb" })).manifest).toEqual(m);
  });

  test("create refuses a folder that is not a bundle; open refuses a missing one", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "precious.txt"), "user data");
    const err = await errorOf(() => Bundle.create(dir, { sourceNotebook: "nb.ipynb" }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("is not an nbrewind bundle");
    expect(readdirSync(dir)).toEqual(["precious.txt"]);
    expect((await errorOf(() => Bundle.open(join(dir, "nope")))).message).toContain("does not exist");
    expect((await errorOf(() => Bundle.open(dir))).message).toContain("manifest.json is missing");
  });

  test("create in an empty existing folder", async () => {
    const dir = tempDir();
    const b = await Bundle.create(dir, { sourceNotebook: "nb.ipynb" });
    expect(b.manifest.source_notebook).toBe("nb.ipynb");
  });

  test("a schema error in the manifest names the file and the field", async () => {
    const b = await fresh();
    await b.beginRun(runEntry("r1"));
    await b.beginRun(runEntry("r2"));
    await b.beginRun(runEntry("r3"));
    editManifest(b.dir, (m) => (m.runs[2].status = "finished"));
    const err = await errorOf(() => Bundle.open(b.dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("manifest.json: runs[2].status: must be one of");
    expect(err.message).toContain('"kernel-died"');
  });

  test("invalid JSON in the manifest is an InputError naming the file", async () => {
    const b = await fresh();
    writeFileSync(join(b.dir, "manifest.json"), "{ not json");
    const err = await errorOf(() => Bundle.open(b.dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("manifest.json");
    expect(err.message).toContain("not valid JSON");
  });

  test("a different hashing scheme is an error, not a miss", async () => {
    const b = await fresh();
    editManifest(b.dir, (m) => (m.hashing_scheme = 2));
    const err = await errorOf(() => Bundle.open(b.dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`bundle was recorded with hashing scheme 2; this nbrewind-engine computes scheme ${HASHING_SCHEME}`);
  });

  test("a newer format version is refused clearly", async () => {
    const b = await fresh();
    editManifest(b.dir, (m) => {
      m.format_version = 2;
      m.something_new = true;
    });
    const err = await errorOf(() => Bundle.open(b.dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("bundle format version 2 is newer than this nbrewind-engine reads (1)");
  });
});

describe("records", () => {
  test("write and read back; temp leftovers are ignored", async () => {
    const b = await fresh();
    const digest = putBlob(b.blobs.root, "pickled x");
    const rec = cellRecord("x = 1", { writes: [{ name: "x", status: "stored", digest, size: 9, type: "int" }, { name: "conn", status: "unserialisable", type: "socket", reason: "cannot pickle 'socket' object" }, { name: "tmp", status: "deleted" }] });
    await b.writeRecord(rec);
    writeFileSync(join(b.dir, "cells", `.${rec.fingerprint}.json.4242.0badc0de.tmp`), '{"half": ');
    const all = await b.records();
    expect([...all.keys()]).toEqual([rec.fingerprint]);
    expect(all.get(rec.fingerprint)).toEqual(rec);
    expect(await b.record(rec.fingerprint)).toEqual(rec);
    expect(await b.record(sha256("unknown"))).toBeUndefined();
    expect(await b.referencedDigests()).toEqual(new Set([digest]));
  });

  test("writeRecord refuses a record whose blob is not stored, and an invalid record", async () => {
    const b = await fresh();
    const missing = sha256("not there");
    const err = await errorOf(() => b.writeRecord(cellRecord("y = 2", { writes: [{ name: "y", status: "stored", digest: missing, size: 3, type: "int" }] })));
    expect(err.message).toContain(missing);
    const bad = await errorOf(() => b.writeRecord({ ...cellRecord("z"), duration_s: -1 }));
    expect(bad.message).toContain("duration_s");
    expect(readdirSync(join(b.dir, "cells"))).toEqual([]);
  });

  test("a record failing its schema: InputError naming the file and the field", async () => {
    const b = await fresh();
    const rec = cellRecord("a = 1");
    await b.writeRecord(rec);
    const file = join(b.dir, "cells", `${rec.fingerprint}.json`);
    const raw = JSON.parse(readFileSync(file, "utf8"));
    raw.writes = [{ name: "a", status: "stored", digest: "nothex", size: 1, type: "int" }];
    writeFileSync(file, JSON.stringify(raw));
    const err = await errorOf(() => b.records());
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`cells/${rec.fingerprint}.json: writes[0].digest: does not match the pattern`);
  });

  test("a record stored under another name is refused", async () => {
    const b = await fresh();
    const rec = cellRecord("b = 1");
    writeFileSync(join(b.dir, "cells", `${sha256("other")}.json`), JSON.stringify(rec));
    const err = await errorOf(() => b.records());
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`fingerprint: is ${rec.fingerprint}, but a record must be stored as cells/${rec.fingerprint}.json`);
  });
});

describe("manifest updates", () => {
  test("beginRun, finishRun and setCells", async () => {
    const b = await fresh();
    await b.beginRun(runEntry("r1"));
    await b.finishRun("r1", { status: "ok", cells: { reused: 1, restored: 2, run: 3 } });
    const fps = [sha256("1"), sha256("2")];
    await b.setCells(fps);
    const m = (await Bundle.open(b.dir)).manifest;
    expect(m.cells).toEqual(fps);
    expect(m.runs[0]).toMatchObject({ run_id: "r1", status: "ok", cells: { reused: 1, restored: 2, run: 3 } });
    expect(m.runs[0]?.finished_at).toMatch(/^\d{4}-/);
    expect(await errorOf(() => b.finishRun("nope", { status: "ok" }))).toBeInstanceOf(Error);
    expect((await errorOf(() => b.beginRun(runEntry("r1")))).message).toContain("already");
    expect((await errorOf(() => b.beginRun(runEntry("../escape")))).message).toContain("invalid run id");
  });

  test("concurrent updates from two Bundle objects lose nothing", async () => {
    const one = await fresh();
    const two = await Bundle.open(one.dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => one.beginRun(runEntry(`a${i}`))).concat(Array.from({ length: 10 }, (_, i) => two.beginRun(runEntry(`b${i}`)))));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const id = i < 10 ? `a${i}` : `b${i - 10}`;
        return (i % 2 ? one : two).finishRun(id, { status: "ok", cells: { reused: i, restored: 0, run: 1 } });
      }),
    );
    const m: BundleManifest = (await Bundle.open(one.dir)).manifest;
    expect(m.runs).toHaveLength(20);
    expect(m.runs.every((r) => r.status === "ok" && r.finished_at !== null)).toBe(true);
    expect(new Set(m.runs.map((r) => r.run_id)).size).toBe(20);
    expect(existsSync(join(one.dir, ".lock"))).toBe(false);
  });
});

describe("notebook, logs, environment", () => {
  test("round trips", async () => {
    const b = await fresh();
    const nb = notebook([code("c1", "print('hi')")]);
    await b.writeNotebook(nb);
    expect((await b.readNotebook()).cells[0]?.id).toBe("c1");

    await b.appendLog({ time: new Date().toISOString(), run_id: "r1", event: "cell-start", cell_id: "c1" });
    await b.appendLog({ time: new Date().toISOString(), run_id: "r1", event: "cell-end", cell_id: "c1", duration_s: 0.1 });
    // A torn last line (process killed mid-append) is skipped.
    writeFileSync(join(b.dir, "logs", "r1.jsonl"), readFileSync(join(b.dir, "logs", "r1.jsonl"), "utf8") + '{"time": "20');
    expect((await b.readLog("r1")).map((e) => e.event)).toEqual(["cell-start", "cell-end"]);
    expect(await b.readLog("r2")).toEqual([]);
    await expect(b.appendLog({ time: "yesterday", run_id: "r1", event: "x" })).rejects.toThrow(/time/);

    expect(await b.readEnvironment()).toBeUndefined();
    const env = environment();
    const digest = await b.writeEnvironment(env);
    expect(digest).toBe(sha256(readFileSync(join(b.dir, "environment.json"))));
    expect(await b.readEnvironment()).toEqual(env);
    writeFileSync(join(b.dir, "environment.json"), JSON.stringify({ ...env, python: { version: 3, implementation: "CPython" } }));
    const err = await errorOf(() => b.readEnvironment());
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("environment.json: python.version: must be string");
  });
});

describe("verify", () => {
  test("a sound bundle has no problems", async () => {
    const b = await fresh();
    await b.beginRun(runEntry("r1"));
    const digest = putBlob(b.blobs.root, "value");
    await b.writeRecord(cellRecord("v = 1", { writes: [{ name: "v", status: "stored", digest, size: 5, type: "str" }] }));
    await b.writeNotebook(notebook([code("c1", "v = 1")]));
    await b.writeEnvironment(environment());
    await b.appendLog({ time: new Date().toISOString(), run_id: "r1", event: "start" });
    await b.finishRun("r1", { status: "ok" });
    writeFileSync(join(b.blobs.tmpDir, "partial-write"), "ignored");
    expect(await b.verify()).toEqual([]);
  });

  test("finds a missing blob, a flipped byte, a record failing its schema, a bad log line", async () => {
    const b = await fresh();
    const kept = putBlob(b.blobs.root, "intact value");
    const flipped = putBlob(b.blobs.root, "a value that will get one flipped byte");
    const gone = putBlob(b.blobs.root, "a value that will vanish");
    const good = cellRecord("g = 1", {
      writes: [
        { name: "g", status: "stored", digest: kept, size: 12, type: "str" },
        { name: "f", status: "unchanged", digest: flipped, size: 38, type: "str" },
      ],
    });
    const other = cellRecord("h = 1", { writes: [{ name: "h", status: "stored", digest: gone, size: 24, type: "str" }] });
    const broken = cellRecord("i = 1");
    for (const r of [good, other, broken]) await b.writeRecord(r);
    // Tamper.
    const fpath = b.blobs.pathFor(flipped);
    const bytes = readFileSync(fpath);
    bytes[10] = (bytes[10] as number) ^ 0x04;
    writeFileSync(fpath, bytes);
    const { rmSync } = await import("node:fs");
    rmSync(b.blobs.pathFor(gone));
    const brokenFile = join(b.dir, "cells", `${broken.fingerprint}.json`);
    writeFileSync(brokenFile, JSON.stringify({ ...broken, status: "maybe" }));
    mkdirSync(join(b.dir, "logs"), { recursive: true });
    writeFileSync(join(b.dir, "logs", "r9.jsonl"), '{"time":"2024-01-01T00:00:00Z","run_id":"r9"}\n');

    const progress: number[] = [];
    const problems = await b.verify({ onProgress: (p) => progress.push(p.done), inlineBelowBytes: 0 });
    const lines = problems.map(formatProblem);
    expect(lines).toHaveLength(4);
    expect(lines).toContainEqual(`cells/${broken.fingerprint}.json: status: must be one of "ok", "error"`);
    expect(lines).toContainEqual(`logs/r9.jsonl: line 1: event: is required`);
    expect(lines.find((l) => l.includes(flipped))).toMatch(new RegExp(`^blobs/sha256/${flipped.slice(0, 2)}/${flipped.slice(2)}: blob ${flipped} is corrupt: .*referenced by cells/${good.fingerprint}.json writes\\[1\\] \\(\`f\`\\)`));
    expect(lines.find((l) => l.includes(gone))).toContain(`blob ${gone} is missing (referenced by cells/${other.fingerprint}.json writes[0] (\`h\`))`);
    expect(progress.sort()).toEqual([1, 2, 3]);
  });

  test("reports a bad manifest and a missing notebook without stopping", async () => {
    const b = await fresh();
    await b.beginRun(runEntry("r1", { status: "ok", finished_at: new Date().toISOString() }));
    editManifest(b.dir, (m) => (m.cells = ["short"]));
    const lines = (await b.verify()).map(formatProblem);
    expect(lines).toEqual(["manifest.json: cells[0]: does not match the pattern ^[0-9a-f]{64}$"]);
    editManifest(b.dir, (m) => (m.cells = []));
    expect((await b.verify()).map(formatProblem)).toEqual(["notebook.ipynb: is missing, though a run finished"]);
  });
});

describe("gc", () => {
  test("removes only blobs no record refers to", async () => {
    const b = await fresh();
    const used = putBlob(b.blobs.root, "used");
    const unused = putBlob(b.blobs.root, "unused");
    const young = putBlob(b.blobs.root, "written by a run in progress");
    for (const d of [used, unused]) age(b.blobs.pathFor(d), 2 * 3600_000);
    await b.writeRecord(cellRecord("u", { writes: [{ name: "u", status: "stored", digest: used, size: 4, type: "str" }] }));
    expect(await b.gc()).toEqual({ removed: 1, bytes: 6 });
    expect(await b.blobs.list()).toEqual([used, young].sort());
    expect(await b.gc({ graceMs: 0 })).toEqual({ removed: 1, bytes: "written by a run in progress".length });
    expect(await b.blobs.list()).toEqual([used]);
  });

  test("keeps the blobs a task result refers to (a Parsl app's output files); verify checks them; a record naming an absent one is refused", async () => {
    const b = await fresh();
    const result = putBlob(b.blobs.root, "envelope");
    const file = putBlob(b.blobs.root, "an output file");
    for (const d of [result, file]) age(b.blobs.pathFor(d), 2 * 3600_000);
    const task = { key: sha256("task"), engine: "parsl", function: "__main__.upper", arg_keys: [], upstream: [], engine_key: "task 0", status: "dispatched" as const, result_digest: result, result_size: 8 };
    const absent = sha256("never written");
    const refused = await errorOf(() => b.writeRecord(cellRecord("t", { tasks: [{ ...task, result_blobs: [absent] }], task_key_scheme: 1 })));
    expect(refused.message).toContain(absent);
    await b.writeRecord(cellRecord("t", { tasks: [{ ...task, result_blobs: [file] }], task_key_scheme: 1 }));
    expect(await b.gc({ graceMs: 0 })).toEqual({ removed: 0, bytes: 0 });
    expect(await b.blobs.list()).toEqual([result, file].sort());
    rmSync(b.blobs.pathFor(file));
    expect((await b.verify()).map(formatProblem).join("\n")).toContain(`blob ${file} is missing (referenced by cells/${cellRecord("t").fingerprint}.json tasks[0] (__main__.upper))`);
  });

  test("refuses to collect when a record cannot be read", async () => {
    const b = await fresh();
    putBlob(b.blobs.root, "x");
    writeFileSync(join(b.dir, "cells", `${sha256("q")}.json`), "{}");
    expect(await errorOf(() => b.gc({ graceMs: 0 }))).toBeInstanceOf(InputError);
    expect((await b.blobs.list()).length).toBe(1);
  });
});

describe("two processes sharing a bundle", () => {
  test("their manifest updates interleave without loss", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { fileURLToPath } = await import("node:url");
    const b = await fresh();
    const script = fileURLToPath(new URL("./manifest-writer.ts", import.meta.url));
    const child = (prefix: string) => promisify(execFile)(process.execPath, ["--import", "tsx", script, b.dir, prefix, "4"]);
    await Promise.all([child("p"), child("q"), b.beginRun(runEntry("main")).then(() => b.finishRun("main", { status: "ok" }))]);
    const m = (await Bundle.open(b.dir)).manifest;
    expect(m.runs.map((r) => r.run_id).sort()).toEqual(["main", "p0", "p1", "p2", "p3", "q0", "q1", "q2", "q3"]);
    expect(m.runs.every((r) => r.status === "ok")).toBe(true);
  }, 60_000);
});
