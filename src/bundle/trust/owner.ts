/**
 * owner.json: "this folder, at this path, is mine". The user's key signs the
 * bundle folder's real path. It is what keeps a bundle audited here usable by
 * `repeat` without --trust, even when a run was killed before it could
 * re-sign the digest list: nobody else can make the mark (it needs the
 * private key), and a copy elsewhere does not carry it (the path differs).
 * It is written when `audit` creates a bundle, and when the user accepts a
 * bundle from elsewhere (a trusted signature, or --trust). Never packed.
 * Schema: schemas/bundle-owner.schema.json.
 */
import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonAtomic } from "../../common/atomic-file.js";
import { schemaProblems } from "../schemas.js";
import { verifySignature, type SigningKey } from "./keys.js";

export const OWNER_FILE = "owner.json";

interface OwnerMark {
  format: "nbrewind-owner";
  format_version: 1;
  key_id: string;
  /** base64 Ed25519 signature of "nbrewind-owner-v1\n" + the folder's real path. */
  signature: string;
}

function payload(realDir: string): Buffer {
  return Buffer.from(`nbrewind-owner-v1\n${realDir}`, "utf8");
}

export async function writeOwnerMark(dir: string, key: SigningKey): Promise<void> {
  const mark: OwnerMark = { format: "nbrewind-owner", format_version: 1, key_id: key.info.key_id, signature: key.sign(payload(await realpath(dir))).toString("base64") };
  await writeJsonAtomic(join(dir, OWNER_FILE), mark);
}

/** True when `dir` carries a mark by `key` for its current real path. */
export async function hasOwnerMark(dir: string, key: SigningKey | undefined): Promise<boolean> {
  if (!key) return false;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, OWNER_FILE), "utf8"));
  } catch {
    return false;
  }
  if (schemaProblems("bundle-owner", raw).length > 0) return false;
  const mark = raw as OwnerMark;
  if (mark.key_id !== key.info.key_id) return false;
  return verifySignature(key.info.public_key, payload(await realpath(dir)), mark.signature);
}
