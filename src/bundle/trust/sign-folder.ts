/**
 * Re-sign a bundle folder in place: what `audit` and `repeat` do at the end
 * of each run with the user's key, so that a local bundle always verifies.
 * Blobs are listed under their names (their content is checked against the
 * name whenever they are read or verified); every other file is hashed.
 *
 * Only a folder that carries the user's owner mark is signed (the runs that
 * call this passed the trust gate, which writes it), and the signature
 * carries the mark's vouch: how the folder came to be trusted. A folder
 * without the mark is left unsigned rather than vouched for by default.
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../../common/atomic-file.js";
import { InputError } from "../../common/errors.js";
import { hashFile } from "../../store/digest.js";
import { listBundleFiles } from "../bundle-files.js";
import { DIGESTS_FILE, makeDigestList, newSignedContent, type DigestEntry } from "./digest-list.js";
import type { SigningKey } from "./keys.js";
import { readOwnerMark } from "./owner.js";

export async function signBundleFolder(dir: string, key: SigningKey): Promise<void> {
  const mark = await readOwnerMark(dir, key);
  if (!mark) throw new InputError(`${dir}: not signed, because it does not carry your owner mark (owner.json): nothing says you accepted its content`);
  const entries: DigestEntry[] = [];
  for (const file of await listBundleFiles(dir, { blobLinks: true })) {
    const sha256 = file.blobDigest ?? (await hashFile(file.fsPath)).digest;
    entries.push({ path: file.path, size: file.size, sha256 });
  }
  await writeJsonAtomic(join(dir, DIGESTS_FILE), makeDigestList(newSignedContent(entries, undefined, mark.vouch), key));
}
