/**
 * Reading the manifest (version checks first, then the schema) and changing
 * it safely when several runs share a bundle.
 */
import { join } from "node:path";
import { withDirectoryLock } from "../common/directory-lock.js";
import { InputError } from "../common/errors.js";
import { writeJsonAtomic } from "../common/atomic-file.js";
import { readJson } from "./json-file.js";
import { LOCK_DIR, MANIFEST_FILE, NOTEBOOK_FILE } from "./paths.js";
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, HASHING_SCHEME, type BundleManifest } from "./records.js";
import { assertValid, schemaProblems } from "./schemas.js";

export function newManifest(sourceNotebook: string, now: string): BundleManifest {
  return {
    format: BUNDLE_FORMAT,
    format_version: BUNDLE_FORMAT_VERSION,
    hashing_scheme: HASHING_SCHEME,
    created_at: now,
    updated_at: now,
    source_notebook: sourceNotebook,
    notebook: NOTEBOOK_FILE,
    cells: [],
    runs: [],
  };
}

/**
 * The checks that must come before the schema: a bundle from a newer
 * nbrewind-engine or another hashing scheme deserves a sentence about
 * versions, not "format_version must be 1". Returns the problem, if any.
 */
export function headerProblem(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined; // the schema says it
  const m = raw as Record<string, unknown>;
  if (m.format !== undefined && m.format !== BUNDLE_FORMAT) {
    return `format is ${JSON.stringify(m.format)}, not ${JSON.stringify(BUNDLE_FORMAT)}: this is not an nbrewind bundle`;
  }
  if (typeof m.format_version === "number" && m.format_version > BUNDLE_FORMAT_VERSION) {
    return `bundle format version ${m.format_version} is newer than this nbrewind-engine reads (${BUNDLE_FORMAT_VERSION}); upgrade nbrewind-engine`;
  }
  if (typeof m.hashing_scheme === "number" && m.hashing_scheme !== HASHING_SCHEME) {
    return (
      `bundle was recorded with hashing scheme ${m.hashing_scheme}; this nbrewind-engine computes scheme ${HASHING_SCHEME}, ` +
      `so no recorded fingerprint can be compared (re-audit into a new bundle, or use a matching nbrewind-engine)`
    );
  }
  return undefined;
}

export function checkManifest(raw: unknown, shown: string): BundleManifest {
  const header = headerProblem(raw);
  if (header) throw new InputError(`${shown}: ${header}`);
  return assertValid<BundleManifest>("bundle-manifest", raw, shown);
}

export async function readManifest(dir: string): Promise<BundleManifest> {
  return checkManifest(await readJson(dir, MANIFEST_FILE), join(dir, MANIFEST_FILE));
}

/** Writing an invalid manifest would be our bug; refuse rather than leave a bundle nobody can open. */
export async function writeManifest(dir: string, manifest: BundleManifest): Promise<void> {
  const problems = schemaProblems("bundle-manifest", manifest);
  if (problems.length > 0) {
    throw new Error(`refusing to write an invalid ${MANIFEST_FILE} (a bug): ` + problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  }
  await writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
}

/**
 * In-process queue per bundle folder. The directory lock serialises
 * processes, but it polls once a second and cannot tell two holders in the
 * same process apart; chaining here keeps same-process updates fast and
 * ordered, and only the head of the chain touches the directory lock.
 */
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, body: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(body, body);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/**
 * Read-modify-write of the manifest, under the bundle's lock, written
 * atomically: concurrent runs never lose each other's updates, and a killed
 * process leaves the old manifest or the new one. `key` identifies the
 * folder (its real path).
 */
export function updateManifest(
  dir: string,
  key: string,
  onWait: (line: string) => void,
  mutate: (m: BundleManifest) => void,
): Promise<BundleManifest> {
  return serialised(key, () =>
    withDirectoryLock(join(dir, LOCK_DIR), onWait, async () => {
      const manifest = await readManifest(dir);
      mutate(manifest);
      manifest.updated_at = new Date().toISOString();
      await writeManifest(dir, manifest);
      return manifest;
    }),
  );
}

/** Run `body` under the same lock as manifest updates (for creation, where there is no manifest yet). */
export function withManifestLock<T>(dir: string, key: string, onWait: (line: string) => void, body: () => Promise<T>): Promise<T> {
  return serialised(key, () => withDirectoryLock(join(dir, LOCK_DIR), onWait, body));
}
