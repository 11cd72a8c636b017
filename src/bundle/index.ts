export { Bundle, type BundleOptions, type CreateOptions, type RunPatch } from "./bundle.js";
export {
  BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, HASHING_SCHEME, formatProblem, recordDigests,
  type BundleManifest, type BundleProblem, type CellRecord, type EnvironmentRecord, type ReadEntry, type RunCommand,
  type RunEntry, type RunLogEvent, type RunStatus, type WriteEntry, type TaskRecord, type EngineUse,
} from "./records.js";
export { defaultBundleDir, BUNDLE_SUFFIX, MANIFEST_FILE, NOTEBOOK_FILE, ENVIRONMENT_FILE } from "./paths.js";
export { schemaProblems, type BundleSchema, type SchemaProblem } from "./schemas.js";
export type { BundleVerifyOptions } from "./verify.js";
