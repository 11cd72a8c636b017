/**
 * The trust gate of audit, repeat and replay: before a run may load pickled
 * values from a bundle (unpickling runs code), the bundle must be the user's
 * own, signed by a key they trust, or accepted with --trust (see
 * bundle/trust/trust.ts). A bundle that passes becomes the user's here (owner
 * mark), so the runs that change it afterwards, or crash half-way, keep it
 * usable without --trust; and each run re-signs it at the end.
 */
import { Bundle } from "../bundle/bundle.js";
import { describeKey, KeyStore, type SigningKey } from "../bundle/trust/keys.js";
import { writeOwnerMark } from "../bundle/trust/owner.js";
import { assessTrust } from "../bundle/trust/trust.js";
import { InputError } from "../common/errors.js";

export const trustOption = { name: "trust", arity: 0 } as const;

export const trustHelp = `      --trust               load pickled values from this bundle even though
                            it is not signed by you or a key you trust
                            (unpickling runs code: only for a bundle whose
                            origin you know)`;

/** Refuse an untrusted bundle with the reason and the way out; returns the key that signs the run's result. */
export async function requireTrustedBundle(command: string, bundle: Bundle, options: { trust: boolean; log: (line: string) => void }): Promise<SigningKey> {
  const keys = new KeyStore();
  const verdict = await assessTrust(bundle.dir, keys, { trustFlag: options.trust });
  if (!verdict.trusted) {
    throw new InputError(`${command}: refusing to load values from ${bundle.dir}: ${verdict.reason}. Loading a value unpickles it, which runs code.`, verdict.fix);
  }
  const key = await keys.ensureOwnKey(options.log);
  if (verdict.how !== "owner") {
    await writeOwnerMark(bundle.dir, key);
    options.log(`${command}: accepted ${bundle.dir} (${verdict.detail}); marked as yours (${describeKey(key.info)}), so runs here need no --trust`);
  }
  return key;
}

/** A bundle audit has just created is its owner's from the start. */
export async function claimNewBundle(bundle: Bundle, log: (line: string) => void): Promise<SigningKey> {
  const key = await new KeyStore().ensureOwnKey(log);
  await writeOwnerMark(bundle.dir, key);
  return key;
}
