import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recordedSourceHashes } from "../../../src/bundle/record-hashes.js";
import type { Notebook } from "../../../src/notebook/types.js";
import { sourceHash } from "../../../src/planner/fingerprint.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { kernelGuessFromFiles, kernelSurelyNeeded } from "../../../src/session/kernel-forecast.js";

const notebook = (...sources: string[]): Notebook =>
  ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: "markdown", id: "m", metadata: {}, source: "# title" }, ...sources.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null }))],
  }) as unknown as Notebook;

const records = (...sources: string[]) => new Map(sources.map((s, i) => [`f${i}`, { source_hash: sourceHash(s) } as RecordedCell]));

describe("kernelSurelyNeeded: may the server and kernel start before the plan?", () => {
  it("no when every code cell's source was recorded, also an older version and in another order", () => {
    expect(kernelSurelyNeeded(notebook("x = 1", "print(x)"), records("print(x)", "x = 1", "x = 2"), false)).toBe(false);
  });

  it("no when the sources differ only where the fingerprint ignores it (trailing spaces, final newline)", () => {
    expect(kernelSurelyNeeded(notebook("x = 1   \n"), records("x = 1"), false)).toBe(false);
  });

  it("yes when a code cell's source was never recorded: it cannot be reused", () => {
    expect(kernelSurelyNeeded(notebook("x = 1", "print(x, 'edited')"), records("x = 1", "print(x)"), false)).toBe(true);
    expect(kernelSurelyNeeded(notebook("x = 1"), new Map(), false)).toBe(true);
  });

  it("yes when cells are forced to run; a deleted cell alone is left to the plan", () => {
    expect(kernelSurelyNeeded(notebook("x = 1"), records("x = 1"), true)).toBe(true);
    expect(kernelSurelyNeeded(notebook("x = 1"), records("x = 1", "y = 2"), false)).toBe(false);
  });
});

describe("kernelGuessFromFiles: may the kernel start before anything is validated, locked or trusted?", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A notebook file and a bundle folder holding records of `recorded` sources (no bundle when undefined). */
  function files(sources: unknown[], recorded: string[] | undefined, kernelspec: unknown = { name: "python3", display_name: "Python 3" }) {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-guess-"));
    dirs.push(dir);
    const nbPath = join(dir, "nb.ipynb");
    const cells = sources.map((source, i) => ({ cell_type: "code", id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null }));
    writeFileSync(nbPath, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec }, cells }));
    const bundle = join(dir, "nb.nbrewind");
    if (recorded) {
      mkdirSync(join(bundle, "cells"), { recursive: true });
      writeFileSync(join(bundle, "manifest.json"), "{}");
      recorded.forEach((src, i) => writeFileSync(join(bundle, "cells", `${String(i).padStart(64, "0")}.json`), JSON.stringify({ fingerprint: "x", source_hash: sourceHash(src) })));
      // A temp file of an interrupted write is not a record.
      writeFileSync(join(bundle, "cells", `.${"a".repeat(64)}.json.1234.abcd1234.tmp`), "{ half a record");
    }
    return { nbPath, bundle };
  }
  const repeat = { forced: false, parameters: false };

  it("yes, with the notebook's kernel, when a code cell's source no record holds (an edit)", async () => {
    const { nbPath, bundle } = files(["x = 1", ["print(x, ", "'edited')"]], ["x = 1", "print(x)"], { name: "python3-custom" });
    expect(await kernelGuessFromFiles(nbPath, bundle, repeat)).toEqual({ kernelName: "python3-custom" });
  });

  it("no when every source was recorded (the no-edit repeat), also an older version: the plan decides", async () => {
    const { nbPath, bundle } = files(["x = 1", "print(x)"], ["x = 2", "x = 1", "print(x)"]);
    expect(await kernelGuessFromFiles(nbPath, bundle, repeat)).toBeUndefined();
  });

  it("no guess when parameters are given (they change the cells) or the bundle has no manifest (not a bundle yet)", async () => {
    const edited = files(["x = 1", "print(x, 'edited')"], ["x = 1", "print(x)"]);
    expect(await kernelGuessFromFiles(edited.nbPath, edited.bundle, { forced: false, parameters: true })).toBeUndefined();
    const noBundle = files(["x = 1"], undefined);
    expect(await kernelGuessFromFiles(noBundle.nbPath, noBundle.bundle, repeat)).toBeUndefined();
  });

  it("forced cells (and audit) need no bundle, with or without parameters; a notebook without a kernelspec gets the default", async () => {
    const { nbPath, bundle } = files(["x = 1"], undefined, null);
    expect(await kernelGuessFromFiles(nbPath, bundle, { forced: true, parameters: true })).toEqual({ kernelName: undefined });
  });

  it("no guess on input the command will reject: not JSON, cells not a list, a source not text, a missing file", async () => {
    const { nbPath, bundle } = files(["x = 1"], []);
    writeFileSync(nbPath, "{ not json");
    expect(await kernelGuessFromFiles(nbPath, bundle, repeat)).toBeUndefined();
    expect(await kernelGuessFromFiles(nbPath, bundle, { forced: true, parameters: false })).toBeUndefined();
    writeFileSync(nbPath, JSON.stringify({ nbformat: 4, metadata: {}, cells: { a: 1 } }));
    expect(await kernelGuessFromFiles(nbPath, bundle, repeat)).toBeUndefined();
    expect(await kernelGuessFromFiles(nbPath, bundle, { forced: true, parameters: false })).toBeUndefined();
    writeFileSync(nbPath, JSON.stringify({ nbformat: 4, metadata: {}, cells: [{ cell_type: "code", source: 42 }] }));
    expect(await kernelGuessFromFiles(nbPath, bundle, repeat)).toBeUndefined();
    expect(await kernelGuessFromFiles(join(bundle, "missing.ipynb"), bundle, repeat)).toBeUndefined();
  });

  it("recordedSourceHashes: every record's source hash, skipping temp files; none past the limit or for a broken record", async () => {
    const { bundle } = files([], ["a = 1", "b = 2", "a = 1"]);
    expect(await recordedSourceHashes(bundle, 10)).toEqual(new Set([sourceHash("a = 1"), sourceHash("b = 2")]));
    expect(await recordedSourceHashes(bundle, 2)).toBeUndefined();
    writeFileSync(join(bundle, "cells", `${"f".repeat(64)}.json`), "{ broken");
    expect(await recordedSourceHashes(bundle, 10)).toBeUndefined();
  });
});
