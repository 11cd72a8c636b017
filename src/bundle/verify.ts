/**
 * Checking a whole bundle: every file against its schema and every blob a
 * record refers to against its digest. Collects problems instead of stopping
 * at the first, so one pass tells the user everything that is wrong.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { NbrewindError } from "../common/errors.js";
import { allFiles } from "../common/file-record.js";
import { readNotebook } from "../notebook/read.js";
import type { BlobStore } from "../store/blob-store.js";
import { verifyBlobs, type BlobCheck, type VerifyProgress } from "../store/verify.js";
import { checkAllRecords, listRecordFiles } from "./cell-records.js";
import { packedInputProblems } from "./inputs.js";
import { headerProblem } from "./manifest.js";
import { isOutputBlobRef } from "./output-blobs.js";
import { BLOBS_DIR, CELLS_DIR, ENVIRONMENT_FILE, LOGS_DIR, MANIFEST_FILE, NOTEBOOK_FILE } from "./paths.js";
import { fileDigests, taskDigests, type BundleManifest, type BundleProblem } from "./records.js";
import { parseLog } from "./run-logs.js";
import { schemaProblems, type BundleSchema } from "./schemas.js";

export interface BundleVerifyOptions {
  /** Progress of blob hashing, the long part. */
  onProgress?: (progress: VerifyProgress) => void;
  /** Passed to the store's verifyBlobs. */
  threads?: number;
  inlineBelowBytes?: number;
  /**
   * false: check only that every referenced blob exists, not its content
   * (for a bundle just unpacked, whose blobs were hashed on the way in).
   */
  blobContent?: boolean;
}

export async function verifyBundle(dir: string, store: BlobStore, options: BundleVerifyOptions = {}): Promise<BundleProblem[]> {
  const problems: BundleProblem[] = [];

  const manifest = await checkJsonFile(dir, MANIFEST_FILE, "bundle-manifest", problems, { required: true, header: true });
  if (manifest !== undefined) await checkNotebook(dir, manifest as BundleManifest, problems);
  await checkJsonFile(dir, ENVIRONMENT_FILE, "environment", problems, { required: false, header: false });
  await checkLogs(dir, problems);

  // Records, and which record refers to each blob (for messages).
  const referrers = new Map<string, string>();
  const readDigests = new Map<string, Set<string>>();
  for (const check of await checkAllRecords(dir)) {
    problems.push(...check.problems);
    for (const r of check.record ? allFiles(check.record).read : []) readDigests.set(r.path, (readDigests.get(r.path) ?? new Set()).add(r.sha256));
    for (const [k, w] of (check.record?.writes ?? []).entries()) {
      if ((w.status === "stored" || w.status === "unchanged") && !referrers.has(w.digest)) {
        referrers.set(w.digest, `${check.file} writes[${k}] (\`${w.name}\`)`);
      }
    }
    for (const [k, t] of (check.record?.tasks ?? []).entries()) {
      for (const d of taskDigests(t)) if (!referrers.has(d)) referrers.set(d, `${check.file} tasks[${k}] (${t.function})`);
    }
    if (check.record) for (const d of fileDigests(check.record)) if (!referrers.has(d)) referrers.set(d, `${check.file} files.written (a file the cell wrote)`);
    for (const [k, o] of (check.record?.outputs ?? []).entries()) {
      if (isOutputBlobRef(o) && !referrers.has(o.blob.digest)) referrers.set(o.blob.digest, `${check.file} outputs[${k}] (a ${o.output_type} output)`);
    }
  }
  for (const other of (await listRecordFiles(dir)).others) problems.push({ file: `${CELLS_DIR}/${other}`, message: "is not a record (records are cells/<fingerprint>.json)" });

  const rel = (path: string) => relative(dir, path).split("\\").join("/");
  const checks = options.blobContent === false ? await existenceChecks(store, referrers.keys()) : await verifyBlobs(store, referrers.keys(), {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.inlineBelowBytes !== undefined ? { inlineBelowBytes: options.inlineBelowBytes } : {}),
  });
  for (const c of checks) {
    const by = `referenced by ${referrers.get(c.digest)}`;
    if (c.status === "missing") problems.push({ file: rel(c.path), message: `blob ${c.digest} is missing (${by})` });
    else if (c.status === "corrupt") problems.push({ file: rel(c.path), message: `blob ${c.digest} is corrupt: its content hashes to ${c.actual} (${by})` });
    else if (c.status === "unreadable") problems.push({ file: rel(c.path), message: `blob ${c.digest} cannot be read: ${c.message} (${by})` });
  }
  for (const stray of (await store.scan()).strays) problems.push({ file: `${BLOBS_DIR}/${stray}`, message: "is not a blob (blobs are sha256/<2 hex>/<62 hex>)" });
  problems.push(...(await packedInputProblems(dir, readDigests)));
  return problems;
}

async function existenceChecks(store: BlobStore, digests: Iterable<string>): Promise<BlobCheck[]> {
  const out: BlobCheck[] = [];
  for (const digest of digests) {
    const path = store.pathFor(digest);
    out.push((await store.has(digest)) ? { digest, path, status: "ok", size: 0 } : { digest, path, status: "missing" });
  }
  return out;
}

async function checkJsonFile(
  dir: string,
  file: string,
  schema: BundleSchema,
  problems: BundleProblem[],
  how: { required: boolean; header: boolean },
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, file), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      if (how.required) problems.push({ file, message: "is missing" });
    } else problems.push({ file, message: `cannot be read: ${(err as Error).message}` });
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    problems.push({ file, message: `not valid JSON (${(err as Error).message})` });
    return undefined;
  }
  const header = how.header ? headerProblem(raw) : undefined;
  if (header) {
    problems.push({ file, message: header });
    return undefined;
  }
  const found = schemaProblems(schema, raw);
  for (const p of found) problems.push({ file, path: p.path, message: p.message });
  return found.length === 0 ? raw : undefined;
}

/** The notebook is written at the end of a run, so only a bundle with a finished run must have one. */
async function checkNotebook(dir: string, manifest: BundleManifest, problems: BundleProblem[]): Promise<void> {
  const exists = await stat(join(dir, NOTEBOOK_FILE)).then(
    () => true,
    () => false,
  );
  if (!exists) {
    if (manifest.runs.some((r) => r.status !== "running")) problems.push({ file: NOTEBOOK_FILE, message: "is missing, though a run finished" });
    return;
  }
  try {
    await readNotebook(join(dir, NOTEBOOK_FILE));
  } catch (err) {
    if (!(err instanceof NbrewindError)) throw err;
    const lines = err.details.length > 0 ? err.details : [err.message];
    for (const line of lines) problems.push({ file: NOTEBOOK_FILE, message: line });
  }
}

async function checkLogs(dir: string, problems: BundleProblem[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(join(dir, LOGS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const name of names.sort()) {
    const file = `${LOGS_DIR}/${name}`;
    if (!name.endsWith(".jsonl")) {
      problems.push({ file, message: "is not a run log (logs are logs/<run_id>.jsonl)" });
      continue;
    }
    const text = await readFile(join(dir, file), "utf8");
    problems.push(...parseLog(text, file, name.slice(0, -".jsonl".length)).problems);
  }
}
