import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * Trust is carried, never minted. Bob receives a bundle that nobody he trusts
 * vouches for, with a planted pickle that, once loaded, writes a marker file.
 * Through every command (unpack, pack, verify, repeat, replay) the marker
 * never appears without --trust, and pack refuses to sign it with Bob's key
 * (which would make it "his" for replay and for everyone who trusts him).
 * Only an explicit --trust loads it, and then the signature says so.
 */
const root = tempDir("nbrewind-launder-");
const siteA = join(root, "site-a");
const siteB = join(root, "site-b");
const alice = { NBREWIND_CONFIG_DIR: join(root, "alice-config") };
const bob = { NBREWIND_CONFIG_DIR: join(root, "bob-config") };
const marker = join(root, "PWNED");
const unsignedTgz = join(root, "unsigned.nbrewind.tgz");
const aliceTgz = join(root, "alice.nbrewind.tgz");

const cells: CellSpec[] = [
  { id: "data", source: "data = [1, 2, 3]" },
  { id: "params", source: "n = 1", tags: ["parameters"] },
  { id: "use", source: "print('total', sum(data) * n)" },
];

/** A blob (serialise.py's format) whose pickle calls exec(code) when loaded. */
function plantedBlob(code: string): Buffer {
  const text = Buffer.from(code, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(text.length);
  // protocol 2: GLOBAL builtins.exec, BINUNICODE code, TUPLE1, REDUCE, STOP
  const pickle = Buffer.concat([Buffer.from("\x80\x02cbuiltins\nexec\n", "latin1"), Buffer.from("X"), len, text, Buffer.from("\x85R.", "latin1")]);
  const header = Buffer.from(JSON.stringify({ format: "cloudpickle-p5", pickle_len: pickle.length, buffers: [], type: "builtins.list" }));
  const hlen = Buffer.alloc(8);
  hlen.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([Buffer.from("NBRWBLOB1\n"), hlen, header, pickle]);
}

/** Point cell `data`'s recorded value at a planted blob: what a hostile sender (or anyone on the way) would do. */
function plant(bundleDir: string): void {
  const blob = plantedBlob(`open(${JSON.stringify(marker)}, "w").write("code ran"); data = [1, 2, 3]`);
  const digest = createHash("sha256").update(blob).digest("hex");
  mkdirSync(join(bundleDir, "blobs", "sha256", digest.slice(0, 2)), { recursive: true });
  writeFileSync(join(bundleDir, "blobs", "sha256", digest.slice(0, 2), digest.slice(2)), blob);
  let planted = 0;
  for (const name of readdirSync(join(bundleDir, "cells"))) {
    const file = join(bundleDir, "cells", name);
    const record = readJson(file);
    if (record.cell_id !== "data") continue;
    for (const w of record.writes) if (w.name === "data") Object.assign(w, { digest, size: blob.length });
    writeFileSync(file, JSON.stringify(record, null, 2));
    planted++;
  }
  expect(planted).toBe(1);
}

beforeAll(async () => {
  mkdirSync(siteA, { recursive: true });
  mkdirSync(siteB, { recursive: true });
  const nb = writeNotebookFile(siteA, "nb.ipynb", cells);
  const audit = await runCli(["audit", nb, "-q"], { env: alice, cwd: siteA });
  expect(audit.code, audit.stderr).toBe(0);
  // Alice's clean bundle, signed by her (Bob does not trust her key).
  expect((await runCli(["pack", nb, "-o", aliceTgz, "-q"], { env: alice })).code).toBe(0);
  // The same bundle with a planted value, unsigned.
  plant(join(siteA, "nb.nbrewind"));
  const unsigned = await runCli(["pack", nb, "-o", unsignedTgz, "--no-sign", "-q"], { env: alice });
  expect(unsigned.code, unsigned.stderr).toBe(0);
});

describe("a bundle nobody Bob trusts vouches for, with a planted pickle", () => {
  it.each([
    ["unsigned", unsignedTgz, false, /without a signature/],
    ["signed by an untrusted key, then tampered with", aliceTgz, true, /a key you do not trust/],
  ])("%s: unpack, pack, verify, repeat and replay refuse to load or vouch for it, exit 2, and the pickle never runs", async (_name, tgz, tamper, why) => {
    const work = join(siteB, tamper ? "tampered" : "unsigned");
    const unpack = await runCli(["unpack", tgz, "-C", work, "-q"], { env: bob });
    expect(unpack.code, unpack.stderr).toBe(0);
    const bundleDir = join(work, "nb.nbrewind");
    if (tamper) plant(bundleDir);

    // pack would sign it with Bob's key: refused, nothing written.
    const relaunder = join(work, "relaundered.tgz");
    const pack = await runCli(["pack", join(work, "nb.ipynb"), "-o", relaunder], { env: bob });
    expect(pack.code, pack.stderr).toBe(2);
    expect(pack.stderr).toMatch(/nbrewind-engine pack: refusing to sign .*nb\.nbrewind with your key: /);
    expect(pack.stderr).toMatch(why);
    expect(pack.stderr).toContain("--no-sign");
    expect(existsSync(relaunder)).toBe(false);

    expect((await runCli(["verify", bundleDir], { env: bob })).code).toBe(2);

    const repeat = await runCli(["repeat", join(work, "nb.ipynb"), "-p", "n", "2", "-q"], { env: bob });
    expect(repeat.code, repeat.stderr).toBe(2);
    // The command is named once.
    expect(repeat.stderr).toMatch(/^nbrewind-engine repeat: refusing to load values from /m);
    expect(repeat.stderr).not.toMatch(/repeat: repeat:/);

    const replay = await runCli(["replay", tgz, "-C", join(work, "replay"), "-p", "n", "2", "-q"], { env: bob });
    expect(replay.code, replay.stderr).toBe(2);
    expect(existsSync(marker)).toBe(false);
  });

  it("pack --trust signs it, saying so loudly and in the signature; only an explicit --trust ever loads the planted value", async () => {
    const work = join(siteB, "unsigned");
    const vouched = join(root, "vouched.tgz");
    const pack = await runCli(["pack", join(work, "nb.ipynb"), "-o", vouched, "--trust"], { env: bob });
    expect(pack.code, pack.stderr).toBe(0);
    expect(pack.stderr).toMatch(/WARNING: --trust: signing content that nobody you trust vouches for/);
    expect(existsSync(marker)).toBe(false);

    // Carol trusts Bob: she sees what Bob's signature rests on.
    const carol = { NBREWIND_CONFIG_DIR: join(root, "carol-config") };
    const bobLine = (await runCli(["keys", "export"], { env: bob })).stdout.trim();
    expect((await runCli(["keys", "trust", bobLine], { env: carol })).code).toBe(0);
    const verify = await runCli(["verify", vouched, "--json"], { env: carol });
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout).signature).toMatchObject({ trusted: true, vouch: { how: "trust-flag" } });
    const human = await runCli(["verify", vouched], { env: carol });
    expect(human.stderr).toMatch(/accepted it with --trust: nobody it trusts had signed the content/);

    // The plant is real: --trust loads it.
    const repeat = await runCli(["repeat", join(work, "nb.ipynb"), "-p", "n", "2", "--trust", "-q"], { env: bob });
    expect(repeat.stderr).not.toMatch(/refusing/);
    expect(readFileSync(marker, "utf8")).toBe("code ran");
  });
});
