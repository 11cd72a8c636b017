/**
 * Benchmark of pack and unpack (issue 6: share and replay).
 *
 *   npm run bench:pack [-- --size 2G --level 6 --keep]
 *
 * Generates (once; reused while its size matches) a bundle of --size bytes
 * (default 2G): many blobs of mixed sizes, from 1 KiB to 16 MiB, half of
 * them random bytes (pickled float arrays compress about as badly) and half
 * compressible text-like data, plus a manifest, a notebook and a few records.
 * Then, in one run and on the same warm files:
 *
 *   ours   packBundle (hash every file, tar, gzip on every core, sign) and
 *          unpackBundle (gunzip, strict tar reading, hash and check every
 *          entry, staging folder, move into place);
 *   tar    `tar -czf` / `tar -xzf` (GNU tar piping through gzip, same level)
 *          on the same two paths.
 *
 * Prints throughput (bundle bytes per second) of each, the ratio ours / tar,
 * and the compressed sizes. It measures; it asserts nothing. On a machine
 * shared with other work the figures are noisy: compare ratios from one run.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bundle } from "../src/bundle/bundle.js";
import { packBundle } from "../src/bundle/pack.js";
import { KeyStore } from "../src/bundle/trust/keys.js";
import { unpackBundle } from "../src/bundle/unpack.js";
import { rng } from "./prng.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench", "results");

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text.trim());
  if (!m) throw new Error(`--size: expected a size such as 2G, 500M or 64K, got '${text}'`);
  const unit = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Math.round(Number(m[1]) * unit);
}

function mb(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

/** Text-like bytes: CSV rows of numbers and words, compressing about 4:1 with gzip. */
function compressible(size: number, random: () => number): Buffer {
  const words = ["alpha", "beta", "gamma", "delta", "sample", "value", "station", "north", "south"];
  const rows: string[] = [];
  let n = 0;
  while (n < size) {
    const row = `${Math.floor(random() * 1e6)},${(random() * 100).toFixed(4)},${words[Math.floor(random() * words.length)]},${Math.floor(random() * 50)}\n`;
    rows.push(row);
    n += row.length;
  }
  return Buffer.from(rows.join("")).subarray(0, size);
}

/** A blob size: mostly small, some medium, a few large (log-uniform from 1 KiB to 16 MiB: about 1,400 blobs for 2 GiB). */
function blobSize(random: () => number): number {
  return Math.round(2 ** (10 + random() * 14));
}

async function generate(dir: string, size: number): Promise<void> {
  const marker = join(dir, ".generated");
  if (existsSync(marker) && Number(readFileSync(marker, "utf8")) === size) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`generating a ${mb(size)} bundle in ${dir} (once; reused next time)\n`);
  const bundle = await Bundle.create(join(dir, "bench.nbrewind"), { sourceNotebook: "bench.ipynb" });
  writeFileSync(join(dir, "bench.ipynb"), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
  const random = rng(42);
  let total = 0;
  let k = 0;
  while (total < size) {
    const n = Math.min(blobSize(random), size - total);
    const data = k % 2 === 0 ? randomBytes(n) : compressible(n, random);
    const digest = createHash("sha256").update(data).digest("hex");
    const path = join(bundle.blobs.root, "sha256", digest.slice(0, 2), digest.slice(2));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    total += n;
    k++;
  }
  writeFileSync(marker, String(size));
  process.stderr.write(`generated ${k} blobs, ${mb(total)}\n`);
}

function du(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

/** Read every file once, so both tools start from the same warm page cache. */
function warm(dir: string): void {
  spawnSync("sh", ["-c", `find "${dir}" -type f -exec cat {} + > /dev/null`]);
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function tar(args: string[], env: NodeJS.ProcessEnv): void {
  const r = spawnSync("tar", args, { env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`tar ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

async function main(): Promise<void> {
  const size = parseSize(option("size") ?? "2G");
  const level = Number(option("level") ?? "6");
  const work = join(RESULTS, "pack");
  const source = join(work, `source-${size}`);
  await generate(source, size);
  const bytes = du(join(source, "bench.nbrewind"));
  const key = (await new KeyStore(join(work, "config")).init()).key;
  const tarEnv = { ...process.env, GZIP: `-${level}` };
  const out = (name: string) => join(work, name);
  for (const name of ["ours.tgz", "tar.tgz", "ours-unpacked", "tar-unpacked"]) rmSync(out(name), { recursive: true, force: true });

  process.stderr.write(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})\n`);
  warm(source);
  const oursPack = await timed(() => packBundle({ notebookPath: join(source, "bench.ipynb"), bundleDir: join(source, "bench.nbrewind"), output: out("ours.tgz"), key, level }));
  warm(source);
  // GNU tar's -z runs gzip at its default level 6; GZIP=-N sets another (gzip reads it, with a deprecation note).
  const tarPack = await timed(() => tar(["-czf", out("tar.tgz"), "-C", source, "bench.ipynb", "bench.nbrewind"], tarEnv));
  const oursUnpack = await timed(() => unpackBundle({ archive: out("ours.tgz"), targetDir: out("ours-unpacked") }));
  mkdirSync(out("tar-unpacked"));
  const tarUnpack = await timed(() => tar(["-xzf", out("tar.tgz"), "-C", out("tar-unpacked")], tarEnv));
  const sizes = { ours: statSync(out("ours.tgz")).size, tar: statSync(out("tar.tgz")).size };

  const rate = (s: number) => `${(bytes / (1 << 20) / s).toFixed(0).padStart(5)} MiB/s`;
  const rows = [
    ["pack", oursPack, tarPack],
    ["unpack", oursUnpack, tarUnpack],
  ] as const;
  console.log(`bundle: ${mb(bytes)} in ${readdirSync(join(source, "bench.nbrewind", "blobs", "sha256")).length} prefix folders; gzip level ${level}`);
  console.log(`          ours                  tar -z                ours/tar throughput`);
  for (const [what, ours, theirs] of rows) {
    console.log(`${what.padEnd(8)}  ${ours.toFixed(1).padStart(6)} s ${rate(ours)}   ${theirs.toFixed(1).padStart(6)} s ${rate(theirs)}   ${(theirs / ours).toFixed(2)}x`);
  }
  console.log(`compressed: ours ${mb(sizes.ours)}, tar ${mb(sizes.tar)} (${((100 * sizes.ours) / sizes.tar).toFixed(1)}% of tar's)`);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "pack.json"),
    JSON.stringify({ bytes, level, seconds: { ours_pack: oursPack, tar_pack: tarPack, ours_unpack: oursUnpack, tar_unpack: tarUnpack }, compressed: sizes, load: loadavg() }, null, 2),
  );
  if (!process.argv.includes("--keep")) for (const name of ["ours.tgz", "tar.tgz", "ours-unpacked", "tar-unpacked"]) rmSync(out(name), { recursive: true, force: true });
}

await main();
