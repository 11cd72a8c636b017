/**
 * May pickled values be loaded from this bundle? Unpickling runs code, so
 * repeat and replay ask before anything is restored. A bundle is trusted when
 *
 *   1. it carries the user's owner mark for this folder (audited here, or
 *      accepted here before: see owner.ts), or
 *   2. the user said so for this run (--trust), or
 *   3. its digest list is signed by the user's key or a key they trust, and
 *      every file that is not a blob (the records, which name the blobs by
 *      digest, the manifest, ...) still has the signed digest. Blobs need no
 *      check here: a blob is only ever loaded by digest, and checked against
 *      it when read.
 *
 * Otherwise the verdict says why, and how to proceed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { hashFile } from "../../store/digest.js";
import { listBundleFiles } from "../bundle-files.js";
import { schemaProblems } from "../schemas.js";
import { DIGESTS_FILE, signatureState, type DigestList } from "./digest-list.js";
import { describeKey, formatKeyLine, shellQuote, type KeyStore, type PublicKeyInfo } from "./keys.js";
import { readOwnerMark } from "./owner.js";
import { describeVouch, type Vouch } from "./vouch.js";

/**
 * A trusted verdict carries the vouch a signature by the user may pass on
 * (vouch.ts): the owner mark's, the trusted signer's, or --trust's. It is
 * undefined only for an owner mark written before vouches were recorded.
 */
export type TrustVerdict =
  | { trusted: true; how: "flag" | "owner" | "signature"; signer?: PublicKeyInfo; own?: boolean; detail: string; vouch: Vouch | undefined }
  | { trusted: false; reason: string; fix: string[]; signer?: PublicKeyInfo };

export async function assessTrust(dir: string, keys: KeyStore, options: { trustFlag: boolean }): Promise<TrustVerdict> {
  const mark = await readOwnerMark(dir, await keys.ownKey());
  if (mark) return { trusted: true, how: "owner", detail: `yours: audited or accepted here with your key (${describeVouch(mark.vouch).replace(/^the signer/, "you")})`, vouch: mark.vouch };
  if (options.trustFlag) return { trusted: true, how: "flag", detail: "trusted by --trust", vouch: { how: "trust-flag", since: new Date().toISOString() } };
  const list = await readDigestList(dir);
  if (list === "missing" || list === "invalid") {
    const what = list === "missing" ? "is not signed (it has no digests.json)" : `has an unreadable ${DIGESTS_FILE}`;
    return { trusted: false, reason: `the bundle ${what}, so nothing vouches for the pickled values it would load`, fix: FIX_UNSIGNED };
  }
  const state = signatureState(list);
  if (state === "unsigned") return { trusted: false, reason: "the bundle was packed without a signature (pack --no-sign), so nothing vouches for the pickled values it would load", fix: FIX_UNSIGNED };
  const signer = list.signer!;
  if (state === "invalid") {
    return {
      trusted: false,
      signer,
      reason: `the signature in ${DIGESTS_FILE} does not verify: the digest list was changed after ${describeKey(signer)} signed it`,
      fix: ["do not load it; ask the sender for a fresh copy (pass --trust only if you know why it changed)"],
    };
  }
  const trust = await keys.trustOf(signer.public_key);
  if (!trust.trusted) {
    return {
      trusted: false,
      signer,
      reason: `it is signed by ${describeKey(signer)}, a key you do not trust`,
      fix: [
        `if that is the sender's key (compare it with the key line they gave you), trust it:`,
        `  nbrewind-engine keys trust ${shellQuote(formatKeyLine(signer))}`,
        `or pass --trust to load this bundle once without trusting the key`,
      ],
    };
  }
  const changed = await changedSinceSigning(dir, list);
  if (changed.length > 0) {
    const shown = changed.slice(0, 5).join(", ") + (changed.length > 5 ? ` and ${changed.length - 5} more` : "");
    return {
      trusted: false,
      signer,
      reason: `it is signed by ${describeKey({ ...signer, name: trust.name ?? signer.name })}, but ${shown} changed or appeared after signing`,
      fix: ["check what changed with 'nbrewind-engine verify', then pass --trust if you accept it"],
    };
  }
  // Your own signature carries the vouch it was made with; another's is carried as "received from that key".
  const vouch: Vouch | undefined = trust.own ? list.signed.vouch : { how: "signer", origin: { ...signer }, since: new Date().toISOString() };
  return { trusted: true, how: "signature", signer, own: trust.own, detail: `signed by ${trust.own ? "your key" : "trusted key"} ${describeKey({ ...signer, name: trust.name ?? signer.name })}`, vouch };
}

const FIX_UNSIGNED = [
  "if you trust where it came from, pass --trust;",
  "better, ask the sender to pack it signed ('nbrewind-engine pack' signs by default) and to send you their key line ('nbrewind-engine keys export'), then 'nbrewind-engine keys trust LINE'",
];

export async function readDigestList(dir: string): Promise<DigestList | "missing" | "invalid"> {
  let text: string;
  try {
    text = await readFile(join(dir, DIGESTS_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    return "invalid";
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "invalid";
  }
  return schemaProblems("bundle-digests", raw).length === 0 ? (raw as DigestList) : "invalid";
}

/** Non-blob files whose content is not the signed one, or that the list does not name. */
async function changedSinceSigning(dir: string, list: DigestList): Promise<string[]> {
  const signed = new Map(list.signed.files.map((f) => [f.path, f]));
  const changed: string[] = [];
  for (const file of await listBundleFiles(dir, { blobLinks: true })) {
    if (file.blobDigest) continue;
    const entry = signed.get(file.path);
    if (!entry || entry.size !== file.size || (await hashFile(file.fsPath)).digest !== entry.sha256) changed.push(file.path);
  }
  return changed;
}
