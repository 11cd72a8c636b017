/**
 * The trust gate of audit, repeat, replay and pack: before a run may load
 * pickled values from a bundle (unpickling runs code), or pack may sign it
 * with the user's key (which tells others to load it), the bundle must be the
 * user's own, signed by a key they trust, or accepted with --trust (see
 * bundle/trust/trust.ts). A bundle that passes becomes the user's here (owner
 * mark, recording how it was accepted), so the runs that change it
 * afterwards, or crash half-way, keep it usable without --trust; and each run
 * re-signs it at the end, carrying that vouch.
 */
import { Bundle } from "../bundle/bundle.js";
import { describeKey, KeyStore, type SigningKey } from "../bundle/trust/keys.js";
import { writeOwnerMark } from "../bundle/trust/owner.js";
import { assessTrust } from "../bundle/trust/trust.js";
import { auditedVouch, type Vouch } from "../bundle/trust/vouch.js";
import { InputError } from "../common/errors.js";

export { trustHelp, trustOption } from "./checkpoint-options.js";



/** Refuse an untrusted bundle with the reason and the way out; returns the key that signs the run's result. */
export async function requireTrustedBundle(command: string, bundle: Bundle, options: { trust: boolean; log: (line: string) => void }): Promise<SigningKey> {
  const keys = new KeyStore();
  const verdict = await assessTrust(bundle.dir, keys, { trustFlag: options.trust });
  if (!verdict.trusted) {
    throw new InputError(`refusing to load values from ${bundle.dir}: ${verdict.reason}. Loading a value unpickles it, which runs code.`, verdict.fix);
  }
  const key = await keys.ensureOwnKey(options.log);
  if (verdict.how !== "owner") {
    await writeOwnerMark(bundle.dir, key, verdict.vouch ?? auditedVouch());
    options.log(`${command}: accepted ${bundle.dir} (${verdict.detail}); marked as yours (${describeKey(key.info)}), so runs here need no --trust`);
  }
  return key;
}

/** A bundle audit has just created is its owner's from the start. */
export async function claimNewBundle(bundle: Bundle, log: (line: string) => void): Promise<SigningKey> {
  const key = await new KeyStore().ensureOwnKey(log);
  await writeOwnerMark(bundle.dir, key, auditedVouch());
  return key;
}

/**
 * pack signs with the user's key, which tells whoever trusts that key that
 * the content is safe to load. So it signs only what passes the same gate as
 * a run, and passes on the vouch it rests on; anything else is refused with
 * the reason, unless --trust, which is said out loud and recorded in the
 * signature. The folder is not marked: packing loads nothing.
 */
export async function vouchForPack(bundleDir: string, options: { trust: boolean; log: (line: string) => void }): Promise<{ key: SigningKey; vouch: Vouch | undefined }> {
  const keys = new KeyStore();
  const verdict = await assessTrust(bundleDir, keys, { trustFlag: false });
  if (verdict.trusted) return { key: await keys.ensureOwnKey(options.log), vouch: verdict.vouch };
  if (!options.trust) {
    throw new InputError(
      `refusing to sign ${bundleDir} with your key: ${verdict.reason}. Your signature would tell everyone who trusts your key that its pickled values are safe to load.`,
      [
        ...verdict.fix.filter((line) => !line.includes("--trust")),
        "or pack it unsigned with --no-sign (the receiver then decides), or pass --trust to vouch for it yourself: the signature records that you did",
      ],
    );
  }
  const key = await keys.ensureOwnKey(options.log);
  options.log(`pack: WARNING: --trust: signing content that nobody you trust vouches for (${verdict.reason}); the signature records that ${describeKey(key.info)} accepted it with --trust`);
  return { key, vouch: { how: "trust-flag", since: new Date().toISOString() } };
}
