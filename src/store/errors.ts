import { InputError } from "../common/errors.js";

/**
 * A blob a record refers to is not in the store. The bundle is bad input (exit
 * 2), never a reason to guess a value.
 */
export class MissingBlobError extends InputError {
  constructor(
    readonly digest: string,
    readonly path: string,
  ) {
    super(`blob ${digest} is missing: ${path}`);
  }
}

/** A blob whose bytes do not hash to its name: a flipped bit, a truncated copy, tampering. */
export class CorruptBlobError extends InputError {
  constructor(
    readonly digest: string,
    readonly path: string,
    readonly actualDigest: string,
  ) {
    super(`blob ${digest} is corrupt: its content hashes to ${actualDigest} (sha256 mismatch): ${path}`);
  }
}
