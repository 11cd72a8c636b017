/**
 * Who vouches for a bundle's content, and on what grounds. A signature says
 * "this key signed these bytes"; the vouch says why that key was willing to:
 *
 *   audited      the signer ran the notebook itself (audit, or repeat of its own bundle);
 *   signer       the content came signed by `origin`, a key the signer trusts, unchanged;
 *   trust-flag   the signer accepted content nobody it trusts had signed, with --trust.
 *
 * It is carried, never minted: the owner mark keeps how a folder was
 * accepted, each run's re-signing and pack copy it into the signed digest
 * list, and verify shows it. A receiver who trusts the signer can see when
 * that trust rests on someone else's signature, or on nobody's.
 */
import { describeKey, type PublicKeyInfo } from "./keys.js";

export type VouchHow = "audited" | "signer" | "trust-flag";

export interface Vouch {
  how: VouchHow;
  /** The trusted key whose signature the content carried when it was accepted (how = "signer"). */
  origin?: PublicKeyInfo;
  /** When the signer accepted (or first audited) the content. */
  since: string;
}

export function auditedVouch(): Vouch {
  return { how: "audited", since: new Date().toISOString() };
}

/** One phrase for messages: what the signer vouches for. */
export function describeVouch(vouch: Vouch | undefined): string {
  if (!vouch) return "nothing is recorded about how the signer came by the content (signed by an older nbrewind-engine)";
  switch (vouch.how) {
    case "audited":
      return "the signer ran it itself";
    case "signer":
      return `the signer received it signed by ${vouch.origin ? describeKey(vouch.origin) : "a key it trusts"}, unchanged`;
    case "trust-flag":
      return "the signer accepted it with --trust: nobody it trusts had signed the content";
  }
}
