/**
 * verify's side of the digest list: is there a signature, does it verify, is
 * the signer trusted, and does every file of the bundle folder still have the
 * size and sha256 the list gives it (and nothing more)? Problems are
 * collected, one per file, like the rest of verify.
 */
import { hashFile } from "../../store/digest.js";
import type { BlobStore } from "../../store/blob-store.js";
import { verifyBlobs } from "../../store/verify.js";
import { listBundleFiles } from "../bundle-files.js";
import type { BundleProblem } from "../records.js";
import { DIGESTS_FILE, signatureState, type DigestList, type SignatureState } from "./digest-list.js";
import { describeKey, formatKeyLine, shellQuote, type KeyStore, type PublicKeyInfo } from "./keys.js";
import { readDigestList } from "./trust.js";
import type { Vouch } from "./vouch.js";

export interface SignatureReport {
  state: SignatureState | "missing";
  signer: PublicKeyInfo | null;
  trusted: boolean;
  own: boolean;
  /** What the signer vouches for (vouch.ts), from a valid signature only. */
  vouch: Vouch | null;
}

/** The signature's state and whether its signer is trusted, with the problems that makes. */
export async function checkSigner(list: DigestList | undefined, keys: KeyStore, where: string): Promise<{ report: SignatureReport; problems: BundleProblem[] }> {
  if (!list) return { report: { state: "missing", signer: null, trusted: false, own: false, vouch: null }, problems: [] };
  const state = signatureState(list);
  const signer = list.signer ?? null;
  const problems: BundleProblem[] = [];
  let trusted = false;
  let own = false;
  if (state === "unsigned") problems.push({ file: where, message: "is not signed (packed with --no-sign): nothing vouches for its content; repeat and replay need --trust" });
  else if (state === "invalid") problems.push({ file: where, message: "has a signature that does not verify: the digest list was changed after it was signed" });
  else if (signer) {
    const t = await keys.trustOf(signer.public_key);
    trusted = t.trusted;
    own = t.own;
    if (!t.trusted) problems.push({ file: where, message: `is signed by ${describeKey(signer)}, a key you do not trust (if it is the sender's: nbrewind-engine keys trust ${shellQuote(formatKeyLine(signer))})` });
  }
  return { report: { state, signer, trusted, own, vouch: state === "valid" ? (list.signed.vouch ?? null) : null }, problems };
}

/**
 * A bundle folder against its digests.json. Blobs that `alreadyHashed`
 * covers (verifyBundle checked them) are compared by name and size only; the
 * others are hashed in the store's worker pool.
 */
export async function checkFolderDigests(
  dir: string,
  store: BlobStore,
  keys: KeyStore,
  alreadyHashed: ReadonlySet<string>,
): Promise<{ report: SignatureReport; problems: BundleProblem[]; files: number; blobs: number; bytes: number }> {
  const problems: BundleProblem[] = [];
  const files = await listBundleFiles(dir);
  const counts = { files: files.length, blobs: files.filter((f) => f.blobDigest).length, bytes: files.reduce((n, f) => n + f.size, 0) };
  const read = await readDigestList(dir);
  if (read === "missing") {
    problems.push({ file: DIGESTS_FILE, message: "is missing: the bundle is not signed (audit and repeat sign it at the end of each run; a run that was killed, or an older nbrewind-engine, leaves none)" });
    return { report: { state: "missing", signer: null, trusted: false, own: false, vouch: null }, problems, ...counts };
  }
  if (read === "invalid") {
    problems.push({ file: DIGESTS_FILE, message: "is not a valid digest list (schemas/bundle-digests.schema.json)" });
    return { report: { state: "missing", signer: null, trusted: false, own: false, vouch: null }, problems, ...counts };
  }
  const signer = await checkSigner(read, keys, DIGESTS_FILE);
  problems.push(...signer.problems);

  const listed = new Map(read.signed.files.map((f) => [f.path, f]));
  const toHash: string[] = [];
  for (const file of files) {
    const entry = listed.get(file.path);
    listed.delete(file.path);
    if (!entry) {
      problems.push({ file: file.path, message: "is not in the signed digest list (written after the bundle was last signed: an interrupted run?)" });
      continue;
    }
    if (entry.size !== file.size) {
      problems.push({ file: file.path, message: `is ${file.size} bytes, the signed digest list says ${entry.size}` });
      continue;
    }
    if (file.blobDigest) {
      if (entry.sha256 !== file.blobDigest) problems.push({ file: file.path, message: `is signed with sha256 ${entry.sha256}, not the digest its name says` });
      else if (!alreadyHashed.has(file.blobDigest)) toHash.push(file.blobDigest);
      continue;
    }
    const actual = (await hashFile(file.fsPath)).digest;
    if (actual !== entry.sha256) problems.push({ file: file.path, message: `changed after signing: its sha256 is ${actual}, the signed digest list says ${entry.sha256}` });
  }
  for (const missing of listed.keys()) problems.push({ file: missing, message: "is in the signed digest list but missing" });
  for (const c of await verifyBlobs(store, toHash)) {
    const file = `blobs/sha256/${c.digest.slice(0, 2)}/${c.digest.slice(2)}`;
    if (c.status === "corrupt") problems.push({ file, message: `blob ${c.digest} is corrupt: its content hashes to ${c.actual}` });
    else if (c.status === "unreadable") problems.push({ file, message: `blob ${c.digest} cannot be read: ${c.message}` });
  }
  return { report: signer.report, problems, ...counts };
}
