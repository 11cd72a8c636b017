/**
 * Version of how cell fingerprints and task keys are computed. Every bundle
 * records it and the kernel shim is told it; a mismatch is an error, never a
 * silent cache miss. Lives here because the planner, the bundle and the
 * kernel protocol all need it and none of them may depend on another.
 */
export const HASHING_SCHEME = 1;
