export { BlobStore, STALE_TMP_MS, type GcOptions, type GcResult, type StoreScan } from "./blob-store.js";
export { CorruptBlobError, MissingBlobError } from "./errors.js";
export { DIGEST_PATTERN, hashFile, isDigest, sha256Hex } from "./digest.js";
export { verifyBlobs, type BlobCheck, type VerifyOptions, type VerifyProgress } from "./verify.js";
export { isTempFileName, tempPathFor, writeFileAtomic, writeJsonAtomic } from "../common/atomic-file.js";
