/**
 * owner.json: "this folder, at this path, is mine". The user's key signs the
 * bundle folder's real path, and how the folder came to be trusted (the
 * vouch: audited here, received signed by a trusted key, or accepted with
 * --trust). It is what keeps a bundle audited here usable by `repeat`
 * without --trust, even when a run was killed before it could re-sign the
 * digest list: nobody else can make the mark (it needs the private key), and
 * a copy elsewhere does not carry it (the path differs). It is written when
 * `audit` creates a bundle, and when the user accepts a bundle from elsewhere
 * (a trusted signature, or --trust). Never packed.
 * Schema: schemas/bundle-owner.schema.json.
 *
 * Version 1 marks (no vouch) are still honoured; what they vouch for is unknown.
 */
import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonAtomic } from "../../common/atomic-file.js";
import { schemaProblems } from "../schemas.js";
import { canonicalJson } from "./digest-list.js";
import { verifySignature, type SigningKey } from "./keys.js";
import type { Vouch } from "./vouch.js";

export const OWNER_FILE = "owner.json";

interface OwnerMark {
  format: "nbrewind-owner";
  format_version: 1 | 2;
  key_id: string;
  /** Version 2: how the folder was accepted, covered by the signature. */
  vouch?: Vouch;
  /** base64 Ed25519 signature of the payload below. */
  signature: string;
}

function payload(realDir: string, vouch: Vouch | undefined): Buffer {
  if (!vouch) return Buffer.from(`nbrewind-owner-v1\n${realDir}`, "utf8");
  return Buffer.from(`nbrewind-owner-v2\n${realDir}\n${canonicalJson(vouch)}`, "utf8");
}

export async function writeOwnerMark(dir: string, key: SigningKey, vouch: Vouch): Promise<void> {
  const mark: OwnerMark = {
    format: "nbrewind-owner",
    format_version: 2,
    key_id: key.info.key_id,
    vouch,
    signature: key.sign(payload(await realpath(dir), vouch)).toString("base64"),
  };
  await writeJsonAtomic(join(dir, OWNER_FILE), mark);
}

/** The owner's mark when `dir` carries a valid one by `key` for its current real path, else undefined. */
export async function readOwnerMark(dir: string, key: SigningKey | undefined): Promise<{ vouch: Vouch | undefined } | undefined> {
  if (!key) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, OWNER_FILE), "utf8"));
  } catch {
    return undefined;
  }
  if (schemaProblems("bundle-owner", raw).length > 0) return undefined;
  const mark = raw as OwnerMark;
  if (mark.key_id !== key.info.key_id) return undefined;
  if (!verifySignature(key.info.public_key, payload(await realpath(dir), mark.vouch), mark.signature)) return undefined;
  return { vouch: mark.vouch };
}

/** True when `dir` carries a mark by `key` for its current real path. */
export async function hasOwnerMark(dir: string, key: SigningKey | undefined): Promise<boolean> {
  return (await readOwnerMark(dir, key)) !== undefined;
}
