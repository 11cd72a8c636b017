/**
 * Where things are in a bundle. All names are relative to the bundle folder,
 * which is how they appear in messages and, later, in a packed bundle.
 */
import { basename, dirname, extname, join } from "node:path";

export const MANIFEST_FILE = "manifest.json";
export const NOTEBOOK_FILE = "notebook.ipynb";
export const ENVIRONMENT_FILE = "environment.json";
export const CELLS_DIR = "cells";
export const LOGS_DIR = "logs";
export const BLOBS_DIR = "blobs";
/** Held while the manifest is read, changed and written back. */
export const LOCK_DIR = ".lock";
export const BUNDLE_SUFFIX = ".nbrewind";

/** `NAME.nbrewind` beside `NAME.ipynb`. */
export function defaultBundleDir(notebookPath: string): string {
  const name = basename(notebookPath);
  const stem = extname(name) === ".ipynb" ? name.slice(0, -".ipynb".length) : name;
  return join(dirname(notebookPath), stem + BUNDLE_SUFFIX);
}

export function recordFile(fingerprint: string): string {
  return `${CELLS_DIR}/${fingerprint}.json`;
}

export function logFile(runId: string): string {
  return `${LOGS_DIR}/${runId}.jsonl`;
}

/** A run id names a file (logs/<run_id>.jsonl), so it must not be able to name any other. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error(`invalid run id ${JSON.stringify(runId)}: letters, digits, '.', '_' and '-' only (a bug)`);
}
