import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Ajv } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { endOfArchive, fileHeader, padding } from "../../src/bundle/archive/tar-header.js";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

/**
 * Share and replay on real kernels: a notebook audited at one site (its own
 * folder and signing key) is packed, and replayed at another (another
 * folder, another key): outputs match and, counted kernel-side, no cell runs.
 * Every bad input is refused with a clear message and leaves nothing behind.
 */
const root = tempDir("nbrewind-share-");
const siteA = join(root, "site-a");
const siteB = join(root, "site-b");
const aliceConfig = join(root, "alice-config");
const bobConfig = join(root, "bob-config");
const alice = { NBREWIND_CONFIG_DIR: aliceConfig };
const bob = { NBREWIND_CONFIG_DIR: bobConfig };
const counter = new KernelCounter(root);
const packed = join(root, "nb.nbrewind.tgz");

const cells: CellSpec[] = [
  { id: "params", source: "# cell:params\nn = 3", tags: ["parameters"] },
  { id: "data", source: "# cell:data\nimport numpy as np\ndata = np.arange(n) * 1.5\nprint('sum', data.sum())" },
  { id: "where", source: "# cell:where\nimport os\nhere = os.getcwd()\nlen(data)" },
  { id: "show", source: "# cell:show\nfrom IPython.display import display, HTML\ndisplay(HTML(f'<b>{data.max()}</b>'), display_id=True)" },
];

function schema(name: string): object {
  return JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "schemas", `${name}.schema.json`), "utf8")) as object;
}

/** Everything under `dir`, as relative paths: what a command left behind. */
function listing(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      out.push(path);
      if (statSync(join(dir, path)).isDirectory()) walk(path);
    }
  };
  walk("");
  return out.sort();
}

function freshDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  mkdirSync(siteA, { recursive: true });
  mkdirSync(siteB, { recursive: true });
  const nb = writeNotebookFile(siteA, "nb.ipynb", cells);
  const audit = await runCli(["audit", nb, "-p", "n", "4", "-q"], { env: { ...alice, ...counter.env }, cwd: siteA });
  expect(audit.code, audit.stderr).toBe(0);
  const pack = await runCli(["pack", nb, "-o", packed, "--json"], { env: alice, cwd: siteA });
  expect(pack.code, pack.stderr).toBe(0);
  const result = JSON.parse(pack.stdout);
  expect(new Ajv({ strict: false }).validate(schema("archive-summary"), result)).toBe(true);
  expect(result.signer).not.toBeNull();
  expect(result.omitted).toContain("environment.json: python.executable");
});

describe("pack", () => {
  it("holds the notebook and its bundle, readable by tar, with no absolute path of the auditing site", () => {
    const out = freshDir("tar-view");
    execFileSync("tar", ["-xzf", packed, "-C", out]);
    const files = listing(out);
    expect(files).toContain("nb.ipynb");
    expect(files).toContain("nb.nbrewind/manifest.json");
    expect(files).toContain("nb.nbrewind/digests.json");
    expect(files.some((f) => f.startsWith("nb.nbrewind/cells/"))).toBe(true);
    expect(files.some((f) => f.startsWith("nb.nbrewind/blobs/sha256/"))).toBe(true);
    expect(files).not.toContain("nb.nbrewind/owner.json");
    for (const f of files.filter((f) => /\.(json|jsonl|ipynb)$/.test(f))) {
      const text = readFileSync(join(out, f), "utf8");
      expect(text, f).not.toContain(siteA);
      expect(text, f).not.toContain(root);
    }
  });

  it("verify accepts the file at the receiving site once the sender's key is trusted", async () => {
    const untrusted = await runCli(["verify", packed], { env: bob });
    expect(untrusted.code).toBe(2);
    expect(untrusted.stdout).toMatch(/nb\.nbrewind\/digests\.json: is signed by ed25519:[0-9a-f]{16} .*a key you do not trust/);
    const line = (await runCli(["keys", "export"], { env: alice })).stdout.trim();
    expect(line).toMatch(/^nbrewind-ed25519 \S+ /);
    const trust = await runCli(["keys", "trust", line], { env: bob });
    expect(trust.code, trust.stderr).toBe(0);
    const verify = await runCli(["verify", packed, "--json"], { env: bob });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const result = JSON.parse(verify.stdout);
    expect(new Ajv({ strict: false }).validate(schema("verify-result"), result)).toBe(true);
    expect(result).toMatchObject({ ok: true, kind: "archive", problems: [], signature: { state: "valid", trusted: true } });
  });
});

describe("replay at another site", () => {
  it("unpacks under another path, reuses every cell but the one holding the sender's folder (`here`), and every output matches", async () => {
    const work = join(siteB, "work");
    counter.reset();
    const res = await runCli(["replay", packed, "-C", work, "--check", "--json"], { env: { ...bob, ...counter.env }, cwd: siteB });
    expect(res.code, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(new Ajv({ strict: false }).validate(schema("replay-summary"), summary)).toBe(true);
    // `here = os.getcwd()` names the sender's folder: restored at the new site it would be wrong, so its cell runs.
    expect(summary.cells).toEqual({ total: 5, reused: 4, run: 1, not_run: 0 });
    expect(summary.tasks).toEqual({ total: 0, reused: 0, run: 0 });
    expect(summary.outputs).toMatchObject({ matched: true, cells_compared: 5, cells_differing: 0 });
    expect(summary.trust.how).toBe("signature");
    expect(counter.executed()).toEqual(["# cell:where"]);
    const replayed = readJson(summary.output);
    expect(replayed.cells.find((c: any) => c.id === "where").metadata.nbrewind.reason).toBe("`here` holds a path into the folder it was packed in, not this one");
    expect(outputText(replayed.cells.find((c: any) => c.id === "data"))).toBe("sum 9.0\n");
    expect(summary.work_dir).toBe(work);
    expect(listing(work)).toEqual(expect.arrayContaining(["nb.ipynb", "nb.nbrewind", "nb.replayed.ipynb", "nb.replay-input.ipynb"]));
  });

  it("a cell that runs at the new site is compared output by output; --check fails on a difference and shows it", async () => {
    const work = join(siteB, "edited");
    counter.reset();
    const res = await runCli(["replay", packed, "-C", work, "--check", "-p", "n", "2"], { env: { ...bob, ...counter.env }, cwd: siteB });
    expect(res.code, res.stderr).toBe(1);
    expect(counter.executed()).toEqual(expect.arrayContaining(["# Parameters", "# cell:data"]));
    expect(res.stderr).toMatch(/cell \d+ \[data\], output 0, stream stdout:\n\s+- sum 9\.0\n\s+\+ sum 1\.5/);
    expect(res.stderr).toMatch(/cell \d+ \[where\], output 0, text\/plain:\n\s+- 4\n\s+\+ 2/);
  });

  it("a bad option handed on to the repeat is named once, as the replay's", async () => {
    const res = await runCli(["replay", packed, "-C", join(siteB, "bad-option"), "--cell-timeout", "soon"], { env: alice, cwd: siteB });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain("nbrewind-engine replay: --cell-timeout needs a positive number of seconds, got 'soon'");
    expect(res.stderr).not.toContain("replay: repeat:");
  });

  it("the replayed folder is the receiver's now: repeat there needs no --trust", async () => {
    const work = join(siteB, "work");
    counter.reset();
    const res = await runCli(["repeat", join(work, "nb.replay-input.ipynb"), "--bundle", join(work, "nb.nbrewind"), "-q"], { env: { ...bob, ...counter.env } });
    expect(res.code, res.stderr).toBe(0);
    expect(counter.executed()).toEqual([]);
  });
});

describe("bad packed files: a clear error, a non-zero exit, nothing written", () => {
  async function expectRefused(args: string[], env: Record<string, string>, message: RegExp): Promise<void> {
    const parent = freshDir(`refused-${Math.random().toString(36).slice(2)}`);
    const target = join(parent, "target");
    const res = await runCli([...args, "-C", target], { env, cwd: parent });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(message);
    // Nothing outside the target folder, and nothing left in it.
    expect(listing(parent).filter((p) => p !== "target")).toEqual([]);
    expect(listing(target)).toEqual([]);
  }

  it("a truncated file", async () => {
    const cut = join(root, "truncated.tgz");
    writeFileSync(cut, readFileSync(packed));
    truncateSync(cut, Math.floor(statSync(packed).size / 2));
    await expectRefused(["unpack", cut], bob, /truncated\.tgz: truncated/);
    const verify = await runCli(["verify", cut], { env: bob });
    expect(verify.code).toBe(2);
    expect(verify.stdout).toMatch(/truncated/);
  });

  it("a flipped byte in one blob (repacked with GNU tar)", async () => {
    const dir = freshDir("flipped-src");
    execFileSync("tar", ["-xzf", packed, "-C", dir]);
    const blobs = listing(dir).filter((f) => /blobs\/sha256\/..\/.{62}$/.test(f));
    const victim = join(dir, blobs[0]!);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
    writeFileSync(victim, bytes);
    const flipped = join(root, "flipped.tgz");
    execFileSync("tar", ["-czf", flipped, "-C", dir, "nb.ipynb", "nb.nbrewind"]);
    await expectRefused(["unpack", flipped], bob, new RegExp(`entry "${blobs[0]!.replace(/\//g, "\\/")}" is corrupt: its content hashes to [0-9a-f]{64}`));
    const verify = await runCli(["verify", flipped], { env: bob });
    expect(verify.code).toBe(2);
    expect(verify.stdout).toContain(`${blobs[0]}: is corrupt`);
  });

  it("an entry named ../x", async () => {
    const evil = join(root, "evil.tgz");
    const payload = Buffer.from("escaped\n");
    writeFileSync(evil, gzipSync(Buffer.concat([fileHeader("../x", payload.length, 0), payload, Buffer.alloc(padding(payload.length)), endOfArchive()])));
    await expectRefused(["unpack", evil], bob, /entry "\.\.\/x" contains '\.\.': it would be written outside the target folder/);
    await expectRefused(["replay", evil, "--trust"], bob, /entry "\.\.\/x" contains '\.\.'/);
  });

  it("an unsigned bundle, without --trust", async () => {
    const unsigned = join(root, "unsigned.tgz");
    const pack = await runCli(["pack", join(siteA, "nb.ipynb"), "-o", unsigned, "--no-sign", "-q"], { env: alice });
    expect(pack.code, pack.stderr).toBe(0);
    await expectRefused(["replay", unsigned], bob, /refusing .*unsigned\.tgz: the bundle was packed without a signature[\s\S]*--trust/);
  });

  it("a signature by a key nobody trusted", async () => {
    const stranger = { NBREWIND_CONFIG_DIR: join(root, "stranger-config") };
    const signed = join(root, "stranger.tgz");
    // Not the stranger's bundle: signing it takes an explicit --trust (trust is never minted in passing).
    const pack = await runCli(["pack", join(siteA, "nb.ipynb"), "-o", signed, "--trust", "-q"], { env: stranger });
    expect(pack.code, pack.stderr).toBe(0);
    await expectRefused(["replay", signed], bob, /signed by ed25519:[0-9a-f]{16} .*a key you do not trust[\s\S]*nbrewind-engine keys trust 'nbrewind-ed25519 /);
  });
});
