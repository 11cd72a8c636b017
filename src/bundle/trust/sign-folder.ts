/**
 * Re-sign a bundle folder in place: what `audit` and `repeat` do at the end
 * of each run with the user's key, so that a local bundle always verifies.
 * Blobs are listed under their names (their content is checked against the
 * name whenever they are read or verified); every other file is hashed.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../../common/atomic-file.js";
import { hashFile } from "../../store/digest.js";
import { listBundleFiles } from "../bundle-files.js";
import { DIGESTS_FILE, makeDigestList, newSignedContent, type DigestEntry } from "./digest-list.js";
import type { SigningKey } from "./keys.js";

export async function signBundleFolder(dir: string, key: SigningKey): Promise<void> {
  const entries: DigestEntry[] = [];
  for (const file of await listBundleFiles(dir, { blobLinks: true })) {
    const sha256 = file.blobDigest ?? (await hashFile(file.fsPath)).digest;
    entries.push({ path: file.path, size: file.size, sha256 });
  }
  await writeJsonAtomic(join(dir, DIGESTS_FILE), makeDigestList(newSignedContent(entries), key));
}
