/**
 * digests.json: the signed digest list of a bundle. It names every file of
 * the bundle folder with its size and sha256 (a blob's sha256 is its name),
 * and, in a packed file, the notebook packed beside the bundle. The Ed25519
 * signature covers exactly `signed`, serialised canonically (sorted keys, no
 * spaces) after a domain prefix, so that the signature can be checked
 * against the file as it is, whatever its indentation.
 *
 * `pack` writes it as the last entry of the archive (its digests are those of
 * the bytes it packed); `audit` and `repeat` rewrite it at the end of each run
 * with the user's own key, so a local bundle always verifies.
 * Schema: schemas/bundle-digests.schema.json.
 */
import { BUNDLE_FORMAT_VERSION, HASHING_SCHEME } from "../records.js";
import type { PublicKeyInfo, SigningKey } from "./keys.js";
import { keyIdOf, verifySignature } from "./keys.js";
import type { Vouch } from "./vouch.js";

export const DIGESTS_FILE = "digests.json";
const PAYLOAD_PREFIX = "nbrewind-digests-v1\n";

export interface DigestEntry {
  /** Relative to the bundle folder (or, for `notebook`, the notebook's file name), '/'-separated. */
  path: string;
  size: number;
  sha256: string;
}

export interface SignedContent {
  created_at: string;
  bundle_format_version: number;
  hashing_scheme: number;
  /** The notebook packed beside the bundle; only in packed files. */
  notebook?: DigestEntry;
  /** Every file of the bundle folder but digests.json itself, sorted by path. */
  files: DigestEntry[];
  /** Why the signer vouches for the content (vouch.ts); covered by the signature. */
  vouch?: Vouch;
}

export interface DigestList {
  format: "nbrewind-digests";
  format_version: 1;
  signed: SignedContent;
  /** Absent in an unsigned list (pack --no-sign): the digests still catch corruption, but nothing vouches for the content. */
  signer?: PublicKeyInfo;
  /** base64 Ed25519 signature of signingPayload(signed). */
  signature?: string;
}

export type SignatureState = "valid" | "unsigned" | "invalid";

export function newSignedContent(files: DigestEntry[], notebook?: DigestEntry, vouch?: Vouch): SignedContent {
  return {
    created_at: new Date().toISOString(),
    bundle_format_version: BUNDLE_FORMAT_VERSION,
    hashing_scheme: HASHING_SCHEME,
    ...(notebook ? { notebook } : {}),
    files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    ...(vouch ? { vouch } : {}),
  };
}

export function makeDigestList(signed: SignedContent, key: SigningKey | undefined): DigestList {
  const list: DigestList = { format: "nbrewind-digests", format_version: 1, signed };
  if (key) {
    list.signer = { ...key.info };
    list.signature = key.sign(signingPayload(signed)).toString("base64");
  }
  return list;
}

export function signingPayload(signed: SignedContent): Buffer {
  return Buffer.from(PAYLOAD_PREFIX + canonicalJson(signed), "utf8");
}

/** Whether the signature, if any, is by the key it names and covers `signed` as it is now. */
export function signatureState(list: DigestList): SignatureState {
  if (!list.signer && !list.signature) return "unsigned";
  if (!list.signer || !list.signature) return "invalid";
  if (keyIdOf(list.signer.public_key) !== list.signer.key_id) return "invalid";
  return verifySignature(list.signer.public_key, signingPayload(list.signed), list.signature) ? "valid" : "invalid";
}

/** JSON with object keys sorted at every level and no whitespace: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
