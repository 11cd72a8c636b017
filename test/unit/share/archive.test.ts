import { gunzipSync, gzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ParallelGzip } from "../../../src/bundle/archive/parallel-gzip.js";
import { endOfArchive, fileHeader, padding } from "../../../src/bundle/archive/tar-header.js";
import { readTar, TarTruncatedError } from "../../../src/bundle/archive/tar-reader.js";
import { TarWriter } from "../../../src/bundle/archive/tar-writer.js";

/** A sink that keeps everything. */
function memorySink() {
  const parts: Buffer[] = [];
  return { sink: { write: async (d: Buffer) => void parts.push(Buffer.from(d)) }, bytes: () => Buffer.concat(parts) };
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function entries(tar: Buffer, chunkSize = 7919) {
  const out: { path: string; type: string; body: string }[] = [];
  for await (const e of readTar(chunks(tar, chunkSize))) {
    const parts: Buffer[] = [];
    for await (const p of e.body) parts.push(p);
    out.push({ path: e.path, type: e.type, body: Buffer.concat(parts).toString("latin1") });
  }
  return out;
}

describe("tar writer and reader", () => {
  it("round-trip short, long (ustar prefix), very long and non-ASCII paths, across any chunking", async () => {
    const { sink, bytes } = memorySink();
    const w = new TarWriter(sink);
    const names = ["a.ipynb", `a.nbrewind/blobs/sha256/ab/${"c".repeat(62)}`, `${"d".repeat(120)}/${"e".repeat(90)}`, `${"f".repeat(300)}.json`, "a.nbrewind/cellules/é.json"];
    for (const [k, name] of names.entries()) await w.addBuffer(name, Buffer.from(`content ${k}`.repeat(k * 100 + 1)));
    await w.finish();
    for (const size of [1, 511, 512, 4096, 1 << 20]) {
      const got = await entries(bytes(), size);
      expect(got.map((e) => e.path)).toEqual(names);
      got.forEach((e, k) => expect(e.body).toBe(`content ${k}`.repeat(k * 100 + 1)));
    }
  });

  it("reports the entry a stream ends inside, and a missing end-of-archive marker", async () => {
    const { sink, bytes } = memorySink();
    const w = new TarWriter(sink);
    await w.addBuffer("x.ipynb", Buffer.alloc(2000, 1));
    await w.finish();
    const whole = bytes();
    await expect(entries(whole.subarray(0, 1200))).rejects.toThrow(/truncated: the stream ends inside entry "x.ipynb": 688 of its 2000 bytes/);
    await expect(entries(whole.subarray(0, 512 + 2048))).rejects.toThrow(TarTruncatedError);
  });

  it("refuses a corrupt header and data hidden after the end marker", async () => {
    const header = fileHeader("x", 1, 0);
    header[10] = header[10]! ^ 0xff;
    await expect(entries(Buffer.concat([header, Buffer.alloc(512), endOfArchive()]))).rejects.toThrow(/checksum mismatch/);
    const hidden = Buffer.concat([endOfArchive(), Buffer.from("surprise")]);
    await expect(entries(hidden)).rejects.toThrow(/data after the end-of-archive marker/);
  });

  it("hands links and unknown types to the caller as such (unpack refuses them)", async () => {
    const link = fileHeader("evil", 0, 0);
    link.write("2", 156);
    let sum = 0;
    link.fill(0x20, 148, 156);
    for (const b of link) sum += b;
    link.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148);
    const got = await entries(Buffer.concat([link, endOfArchive()]));
    expect(got).toEqual([{ path: "evil", type: "symlink", body: "" }]);
  });

  it("pax size and path fields are read (as GNU tar writes them)", async () => {
    const body = "hello";
    const tar = Buffer.concat([fileHeader(`${"p".repeat(200)}`, body.length, 0), Buffer.from(body), Buffer.alloc(padding(body.length)), endOfArchive()]);
    expect(await entries(tar)).toEqual([{ path: "p".repeat(200), type: "file", body }]);
  });
});

describe("parallel gzip", () => {
  it("is one valid gzip stream (members in order), for compressible and random data", async () => {
    const { sink, bytes } = memorySink();
    const gz = new ParallelGzip(sink, { chunkBytes: 100_000, parallel: 3 });
    const text = Buffer.from("the same line again\n".repeat(20_000));
    const noise = randomBytes(350_000);
    await gz.write(text);
    await gz.write(noise);
    await gz.end();
    const out = bytes();
    expect(gunzipSync(out).equals(Buffer.concat([text, noise]))).toBe(true);
    // Random data is stored, not inflated: barely larger than itself, and the text still compresses.
    expect(out.length).toBeLessThan(noise.length * 1.01 + text.length / 10);
    expect(gz.bytesIn).toBe(text.length + noise.length);
  });

  it("an empty stream is still a gzip stream", async () => {
    const { sink, bytes } = memorySink();
    const gz = new ParallelGzip(sink);
    await gz.end();
    expect(gunzipSync(bytes()).length).toBe(0);
    expect(gunzipSync(gzipSync(Buffer.alloc(0))).length).toBe(0);
  });
});
