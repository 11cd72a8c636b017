import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Bundle } from "../../../src/bundle/bundle.js";
import { canonicalJson, makeDigestList, newSignedContent, signatureState } from "../../../src/bundle/trust/digest-list.js";
import { formatKeyLine, KeyStore, parseKeyLine } from "../../../src/bundle/trust/keys.js";
import { writeOwnerMark } from "../../../src/bundle/trust/owner.js";
import { assessTrust } from "../../../src/bundle/trust/trust.js";
import { auditedVouch } from "../../../src/bundle/trust/vouch.js";
import { tempDir } from "../bundle/helpers.js";

async function bundleAt(dir: string): Promise<Bundle> {
  const b = await Bundle.create(join(dir, "nb.nbrewind"), { sourceNotebook: "nb.ipynb" });
  await b.blobs.writeAtomic("a value");
  return b;
}

describe("keys", () => {
  it("init creates one key (0600) and keeps it; export line round-trips; trust and untrust", async () => {
    const store = new KeyStore(join(tempDir(), "cfg"));
    expect(await store.ownKey()).toBeUndefined();
    const first = await store.init({ name: "alice@lab" });
    expect(first.created).toBe(true);
    const again = await store.init();
    expect(again.created).toBe(false);
    expect(again.key.info).toEqual(first.key.info);
    const line = formatKeyLine(first.key.info);
    expect(parseKeyLine(line, "x")).toEqual(first.key.info);
    expect(readFileSync(store.privateKeyFile).length).toBeGreaterThan(0);

    const other = new KeyStore(join(tempDir(), "cfg"));
    const bob = (await other.init({ name: "bob" })).key.info;
    expect((await store.trustOf(bob.public_key)).trusted).toBe(false);
    expect(await store.trust(bob)).toBe(true);
    expect(await store.trust(bob)).toBe(false);
    expect(await store.trustOf(bob.public_key)).toEqual({ trusted: true, own: false, name: "bob" });
    expect(await store.trustOf(first.key.info.public_key)).toMatchObject({ trusted: true, own: true });
    expect((await store.untrust(bob.key_id.slice(0, 6))).map((k) => k.key_id)).toEqual([bob.key_id]);
    expect((await store.trustOf(bob.public_key)).trusted).toBe(false);
  });

  it("a key line cut when copied is refused with a sentence", () => {
    expect(() => parseKeyLine("nbrewind-ed25519 AAAA name", "mail.txt")).toThrow(/mail.txt: the key is not 32 bytes/);
    expect(() => parseKeyLine("ssh-ed25519 AAAA", "k")).toThrow(/not an nbrewind public key/);
  });
});

describe("signed digest list", () => {
  it("verifies whatever the indentation, and fails after any change", async () => {
    const key = (await new KeyStore(join(tempDir(), "cfg")).init()).key;
    const list = makeDigestList(newSignedContent([{ path: "b", size: 1, sha256: "b".repeat(64) }, { path: "a", size: 2, sha256: "a".repeat(64) }]), key);
    expect(list.signed.files.map((f) => f.path)).toEqual(["a", "b"]);
    const reread = JSON.parse(JSON.stringify(list, null, 7));
    expect(signatureState(reread)).toBe("valid");
    reread.signed.files[0].size = 3;
    expect(signatureState(reread)).toBe("invalid");
    expect(signatureState(makeDigestList(list.signed, undefined))).toBe("unsigned");
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: null }] })).toBe('{"a":[{"c":null,"d":1}],"b":1}');
  });
});

describe("trust verdict", () => {
  it("own bundle (owner mark) is trusted; the same folder moved elsewhere is not, unless signed", async () => {
    const root = tempDir();
    const keys = new KeyStore(join(root, "cfg"));
    const key = (await keys.init()).key;
    const bundle = await bundleAt(root);
    expect((await assessTrust(bundle.dir, keys, { trustFlag: false })).trusted).toBe(false);
    await writeOwnerMark(bundle.dir, key, auditedVouch());
    expect(await assessTrust(bundle.dir, keys, { trustFlag: false })).toMatchObject({ trusted: true, how: "owner", vouch: { how: "audited" } });
    const unsignedCopy = join(root, "unsigned-copy");
    cpSync(bundle.dir, unsignedCopy, { recursive: true });
    await bundle.sign(key);

    mkdirSync(join(root, "moved"));
    renameSync(bundle.dir, join(root, "moved", "nb.nbrewind"));
    const moved = await Bundle.open(join(root, "moved", "nb.nbrewind"));
    // The owner mark names the old path; the signature still holds, and carries the vouch it was made with.
    expect(await assessTrust(moved.dir, keys, { trustFlag: false })).toMatchObject({ trusted: true, how: "signature", own: true, vouch: { how: "audited" } });

    const unsigned = await assessTrust(unsignedCopy, keys, { trustFlag: false });
    expect(unsigned).toMatchObject({ trusted: false });
    if (!unsigned.trusted) expect(unsigned.reason).toMatch(/not signed/);
    expect(await assessTrust(unsignedCopy, keys, { trustFlag: true })).toMatchObject({ trusted: true, how: "flag", vouch: { how: "trust-flag" } });
  });

  it("a folder without the owner's mark is never signed in passing (no trust minted by re-signing)", async () => {
    const root = tempDir();
    const key = (await new KeyStore(join(root, "cfg")).init()).key;
    const bundle = await bundleAt(root);
    await expect(bundle.sign(key)).rejects.toThrow(/not signed, because it does not carry your owner mark/);
    await writeOwnerMark(bundle.dir, key, { how: "trust-flag", since: "2026-01-01T00:00:00Z" });
    await bundle.sign(key);
    const list = JSON.parse(readFileSync(join(bundle.dir, "digests.json"), "utf8"));
    expect(list.signed.vouch).toEqual({ how: "trust-flag", since: "2026-01-01T00:00:00Z" });
    expect(signatureState(list)).toBe("valid");
  });

  it("an owner mark whose vouch was edited no longer counts", async () => {
    const root = tempDir();
    const keys = new KeyStore(join(root, "cfg"));
    const key = (await keys.init()).key;
    const bundle = await bundleAt(root);
    await writeOwnerMark(bundle.dir, key, { how: "trust-flag", since: "2026-01-01T00:00:00Z" });
    const file = join(bundle.dir, "owner.json");
    writeFileSync(file, readFileSync(file, "utf8").replace('"trust-flag"', '"audited"'));
    expect((await assessTrust(bundle.dir, keys, { trustFlag: false })).trusted).toBe(false);
  });

  it("a record changed or added after signing, or an untrusted signer, is refused with the way out", async () => {
    const root = tempDir();
    const alice = (await new KeyStore(join(root, "alice")).init({ name: "alice" })).key;
    const bobKeys = new KeyStore(join(root, "bob"));
    await bobKeys.init();
    const bundle = await bundleAt(root);
    await writeOwnerMark(bundle.dir, alice, auditedVouch());
    await bundle.sign(alice);
    const untrusted = await assessTrust(bundle.dir, bobKeys, { trustFlag: false });
    expect(untrusted.trusted).toBe(false);
    if (!untrusted.trusted) {
      expect(untrusted.reason).toMatch(/signed by ed25519:[0-9a-f]{16} \(alice\), a key you do not trust/);
      // One level of quotes, so the line can be pasted into a shell as it is.
      expect(untrusted.fix.join("\n")).toContain(`  nbrewind-engine keys trust '${formatKeyLine(alice.info)}'\n`);
    }
    await bobKeys.trust(alice.info);
    expect((await assessTrust(bundle.dir, bobKeys, { trustFlag: false })).trusted).toBe(true);
    mkdirSync(join(bundle.dir, "cells"), { recursive: true });
    writeFileSync(join(bundle.dir, "cells", "x.json"), "{}");
    const changed = await assessTrust(bundle.dir, bobKeys, { trustFlag: false });
    expect(changed.trusted).toBe(false);
    if (!changed.trusted) expect(changed.reason).toMatch(/cells\/x\.json changed or appeared after signing/);
  });

  it("a digest list edited after signing says so", async () => {
    const root = tempDir();
    const keys = new KeyStore(join(root, "cfg"));
    const key = (await keys.init()).key;
    const bundle = await bundleAt(root);
    await writeOwnerMark(bundle.dir, key, auditedVouch());
    await bundle.sign(key);
    rmSync(join(bundle.dir, "owner.json")); // as a copy elsewhere: only the signature speaks for it
    const file = join(bundle.dir, "digests.json");
    writeFileSync(file, readFileSync(file, "utf8").replace(/"size": \d+/, '"size": 12345'));
    const verdict = await assessTrust(bundle.dir, keys, { trustFlag: false });
    expect(verdict.trusted).toBe(false);
    if (!verdict.trusted) expect(verdict.reason).toMatch(/does not verify/);
  });
});
