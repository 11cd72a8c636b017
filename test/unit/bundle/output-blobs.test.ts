import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Bundle } from "../../../src/bundle/index.js";
import { OUTPUT_BLOB_THRESHOLD } from "../../../src/bundle/output-blobs.js";
import { InputError } from "../../../src/common/errors.js";
import { sha256Hex } from "../../../src/store/digest.js";
import { cellRecord, errorOf, tempDir } from "./helpers.js";

async function fresh(): Promise<Bundle> {
  return Bundle.create(join(tempDir("nbrewind-output-blobs-"), "nb.nbrewind"), { sourceNotebook: "nb.ipynb" });
}

/** A stream output whose JSON text is exactly `bytes` long. */
function streamOfJsonSize(bytes: number): { output_type: string; name: string; text: string } {
  const empty = JSON.stringify({ output_type: "stream", name: "stdout", text: "" }).length;
  return { output_type: "stream", name: "stdout", text: "x".repeat(bytes - empty) };
}

describe("large outputs in records", () => {
  test("an output over 1 MiB is a blob referenced from the record; one of exactly 1 MiB stays inline; both come back whole", async () => {
    const b = await fresh();
    const atLimit = streamOfJsonSize(OUTPUT_BLOB_THRESHOLD);
    const over = streamOfJsonSize(OUTPUT_BLOB_THRESHOLD + 1);
    const png = { output_type: "display_data", data: { "image/png": "iVBOR".repeat(300_000), "text/plain": ["<Figure>"] }, metadata: {} };
    const small = { output_type: "execute_result", data: { "text/plain": ["42"] }, metadata: {}, execution_count: 1 };
    const given = cellRecord("big = 1", { outputs: [atLimit, over, png, small] });
    const stored = await b.writeRecord(given);

    const file = join(b.dir, "cells", `${given.fingerprint}.json`);
    const onDisk = JSON.parse(readFileSync(file, "utf8"));
    expect(onDisk).toEqual(stored);
    expect(onDisk.outputs[0]).toEqual(atLimit);
    expect(onDisk.outputs[1]).toEqual({ output_type: "stream", blob: { digest: sha256Hex(JSON.stringify(over)), size: OUTPUT_BLOB_THRESHOLD + 1 } });
    expect(onDisk.outputs[2]).toMatchObject({ output_type: "display_data", blob: { digest: sha256Hex(JSON.stringify(png)) } });
    expect(onDisk.outputs[3]).toEqual(small);
    // An older nbrewind-engine refuses such a record (its schema knows format 1 only) instead of showing a reference as output.
    expect(onDisk.format_version).toBe(2);
    expect((await b.writeRecord(cellRecord("small = 1"))).format_version).toBe(1);
    expect(statSync(file).size).toBeLessThan(OUTPUT_BLOB_THRESHOLD + 10_000);
    // The record given is not changed: the caller's notebook keeps the whole output.
    expect(given.outputs[1]).toEqual(over);

    const read = (await b.records()).get(given.fingerprint)!;
    expect(await b.recordOutputs(read)).toEqual([atLimit, over, png, small]);
    expect(await b.verify()).toEqual([]);
    // Blobs are kept by gc: the record refers to them.
    expect((await b.gc({ graceMs: 0 })).removed).toBe(0);
    expect(await b.recordOutputs(read)).toEqual([atLimit, over, png, small]);
  });

  test("two records with the same large output share one blob; writing a stored record again changes nothing", async () => {
    const b = await fresh();
    const over = streamOfJsonSize(OUTPUT_BLOB_THRESHOLD + 100);
    const first = await b.writeRecord(cellRecord("a = 1", { outputs: [over] }));
    const second = await b.writeRecord(cellRecord("a = 2", { outputs: [over] }));
    expect(second.outputs).toEqual(first.outputs);
    expect((await b.blobs.scan()).digests).toHaveLength(1);
    expect(await b.writeRecord(first)).toEqual(first);
  });

  test("a missing or corrupt output blob: verify names the record, the output and the blob; loading it is bad input naming both", async () => {
    const b = await fresh();
    const over = streamOfJsonSize(OUTPUT_BLOB_THRESHOLD + 1);
    const rec = await b.writeRecord(cellRecord("big = 1", { outputs: [{ output_type: "stream", name: "stdout", text: "before\n" }, over] }));
    const digest = (rec.outputs[1] as { blob: { digest: string } }).blob.digest;
    const path = b.blobs.pathFor(digest);

    writeFileSync(path, JSON.stringify({ ...over, text: "tampered" }));
    expect((await b.verify()).map((p) => p.message)).toEqual([expect.stringMatching(new RegExp(`^blob ${digest} is corrupt: .*referenced by cells/${rec.fingerprint}\\.json outputs\\[1\\] \\(a stream output\\)`))]);
    const corrupt = await errorOf(() => b.recordOutputs(rec));
    expect(corrupt).toBeInstanceOf(InputError);
    expect(corrupt.message).toMatch(new RegExp(`^cells/${rec.fingerprint}\\.json: outputs\\[1\\] \\(a stream output of 1048577 bytes\\) is stored in blob ${digest}, which is corrupt`));

    rmSync(path);
    expect((await b.verify()).map((p) => p.message)).toEqual([`blob ${digest} is missing (referenced by cells/${rec.fingerprint}.json outputs[1] (a stream output))`]);
    const missing = await errorOf(() => b.recordOutputs(rec));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toContain(`cells/${rec.fingerprint}.json: outputs[1] (a stream output of 1048577 bytes) is stored in blob ${digest}, which is missing: ${path}`);
    expect((await b.missingOutputBlob(rec, 4))?.message).toBe(`cell 4 cannot be reused: ${missing.message.replace("'repeat --run CELL' runs that cell", "'repeat --run 4' runs it")}`);
    // A record naming an output blob the store lacks is never written.
    await expect(b.writeRecord(cellRecord("other = 1", { outputs: rec.outputs }))).rejects.toThrow(`blob ${digest}`);
  });
});
