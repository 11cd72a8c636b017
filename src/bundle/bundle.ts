/**
 * A bundle folder (NAME.nbrewind/) and everything a run reads and writes in
 * it. Layout:
 *
 *   manifest.json              BundleManifest (read-modify-write under .lock)
 *   notebook.ipynb             the latest audited / repeated notebook, with outputs
 *   cells/<fingerprint>.json   CellRecord, one per fingerprint, added atomically
 *   blobs/sha256/..            content-addressed values, task results, written
 *                              files and outputs over 1 MiB (see src/store)
 *   logs/<run_id>.jsonl        RunLogEvent per line
 *   environment.json           EnvironmentRecord of the latest run
 *
 * Crash safety: every JSON file is replaced by rename, so a killed process
 * leaves the old file or the new one; a record is written only once the blobs
 * it names exist; so every record on disk can be used.
 */
import { mkdir, readdir, realpath, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { InputError } from "../common/errors.js";
import { readNotebook as readNotebookFile } from "../notebook/read.js";
import type { Notebook } from "../notebook/types.js";
import { writeNotebook as writeNotebookFile } from "../notebook/write.js";
import { writeFileAtomic, writeJsonAtomic } from "../common/atomic-file.js";
import { BlobStore, type GcOptions } from "../store/blob-store.js";
import { sha256Hex } from "../store/digest.js";
import { mapLimited, readAllRecords, readOneRecord } from "./cell-records.js";
import { readValidated } from "./json-file.js";
import { isOutputBlobRef, loadOutputs, missingOutputBlob, outputDigests, storeLargeOutputs } from "./output-blobs.js";
import { newManifest, readManifest, updateManifest, withManifestLock, writeManifest } from "./manifest.js";
import { BLOBS_DIR, CELLS_DIR, checkRunId, ENVIRONMENT_FILE, LOCK_DIR, LOGS_DIR, MANIFEST_FILE, NOTEBOOK_FILE, recordFile } from "./paths.js";
import { fileDigests, RECORD_FORMAT_WITH_OUTPUT_BLOBS, recordDigests, taskDigests, type BundleManifest, type BundleProblem, type CellRecord, type EnvironmentRecord, type RunEntry, type RunLogEvent } from "./records.js";
import { appendLogEvent, readLogEvents } from "./run-logs.js";
import { schemaProblems } from "./schemas.js";
import { signBundleFolder } from "./trust/sign-folder.js";
import type { SigningKey } from "./trust/keys.js";
import { verifyBundle, type BundleVerifyOptions } from "./verify.js";

export interface BundleOptions {
  /** Told when another process holds the bundle's lock and this one waits. */
  onWait?: (line: string) => void;
}

export interface CreateOptions extends BundleOptions {
  /** The notebook the bundle belongs to; only its basename is stored. */
  sourceNotebook: string;
}

/** What finishRun may change; finished_at defaults to now. */
export type RunPatch = Partial<Omit<RunEntry, "run_id" | "command" | "started_at">>;

export class Bundle {
  readonly blobs: BlobStore;

  private constructor(
    readonly dir: string,
    /** Real path of `dir`: the key that makes two Bundle objects on one folder share a queue. */
    private readonly key: string,
    private current: BundleManifest,
    private readonly onWait: (line: string) => void,
  ) {
    this.blobs = new BlobStore(join(dir, BLOBS_DIR));
  }

  /**
   * Create the bundle at `dir`, or open it if it is one already. A folder that
   * exists with other content is refused: we do not write into a user's folder.
   */
  static async create(dir: string, options: CreateOptions): Promise<Bundle> {
    const onWait = options.onWait ?? (() => {});
    const kind = await folderKind(dir);
    if (kind === "bundle") return Bundle.open(dir, options);
    if (kind === "file") throw new InputError(`${dir} is a file, not a bundle folder; choose another path with --bundle`);
    if (kind === "other") throw new InputError(`${dir} exists and is not an nbrewind bundle (no ${MANIFEST_FILE}); choose another folder with --bundle`);
    await mkdir(dir, { recursive: true });
    const key = await realpath(dir);
    // Two processes may create the same bundle at once: the lock decides who writes the manifest.
    const manifest = await withManifestLock(dir, key, onWait, async () => {
      if (await exists(join(dir, MANIFEST_FILE))) return readManifest(dir);
      for (const sub of [CELLS_DIR, LOGS_DIR, join(BLOBS_DIR, "sha256"), join(BLOBS_DIR, "tmp")]) await mkdir(join(dir, sub), { recursive: true });
      const m = newManifest(basename(options.sourceNotebook), new Date().toISOString());
      await writeManifest(dir, m);
      return m;
    });
    return new Bundle(dir, key, manifest, onWait);
  }

  /** Open an existing bundle: versions checked, manifest validated (InputError naming file and field). */
  static async open(dir: string, options: BundleOptions = {}): Promise<Bundle> {
    const kind = await folderKind(dir);
    if (kind === "missing") throw new InputError(`no bundle at ${dir}: the folder does not exist`);
    if (kind === "file") throw new InputError(`${dir} is a file, not a bundle folder`);
    if (kind !== "bundle") throw new InputError(`${dir} is not an nbrewind bundle: ${MANIFEST_FILE} is missing`);
    const manifest = await readManifest(dir);
    return new Bundle(dir, await realpath(dir), manifest, options.onWait ?? (() => {}));
  }

  /** The manifest as last read or written by this object (a copy). */
  get manifest(): BundleManifest {
    return structuredClone(this.current);
  }

  /** Re-read the manifest (another process may have changed it). */
  async reload(): Promise<BundleManifest> {
    this.current = await readManifest(this.dir);
    return this.manifest;
  }

  path(relativePath: string): string {
    return join(this.dir, relativePath);
  }

  // ── cell records ────────────────────────────────────────────────────────

  /** Every record by fingerprint. A bad record file is an InputError naming the file and the field. */
  async records(): Promise<Map<string, CellRecord>> {
    return readAllRecords(this.dir);
  }

  /** One record, or undefined if none was recorded for `fingerprint`. */
  async record(fingerprint: string): Promise<CellRecord | undefined> {
    return readOneRecord(this.dir, fingerprint);
  }

  /** The whole outputs of a record, those stored as blobs read and checked (output-blobs.ts). */
  async recordOutputs(rec: { fingerprint: string; outputs: unknown[] }): Promise<unknown[]> {
    return loadOutputs(rec, this.blobs);
  }

  /**
   * Before a run reuses a record as cell `cellNumber`: whether its outputs
   * name a blob the store lacks, as an InputError naming the cell, the record
   * and the blob.
   */
  async missingOutputBlob(rec: { fingerprint: string; outputs: unknown[] }, cellNumber?: number): Promise<InputError | undefined> {
    return missingOutputBlob(rec, this.blobs, cellNumber);
  }

  /**
   * Add (or replace, atomically) the record of `rec.fingerprint`, its outputs
   * over 1 MiB written as blobs (output-blobs.ts); returns the record as
   * stored. Refuses a record that fails its schema or names a blob the store
   * lacks: written anyway, it would be a checkpoint that cannot be restored.
   */
  async writeRecord(given: CellRecord): Promise<CellRecord> {
    const outputs = await storeLargeOutputs(given.outputs, this.blobs);
    const rec: CellRecord = { ...given, format_version: outputs.some(isOutputBlobRef) ? RECORD_FORMAT_WITH_OUTPUT_BLOBS : 1, outputs };
    const problems = schemaProblems("cell-record", rec);
    if (problems.length > 0) {
      throw new Error(`refusing to write an invalid cell record (a bug): ` + problems.map((p) => `${p.path}: ${p.message}`).join("; "));
    }
    for (const w of rec.writes) {
      if ((w.status === "stored" || w.status === "unchanged") && !(await this.blobs.has(w.digest))) {
        throw new Error(`refusing to write the record of cell ${rec.cell_id}: the value of \`${w.name}\` (blob ${w.digest}) is not in the store`);
      }
    }
    const taskBlobs = [...new Set([...(rec.tasks ?? []).flatMap(taskDigests), ...fileDigests(rec), ...outputDigests(rec)])];
    const present = await mapLimited(taskBlobs, 32, (d) => this.blobs.has(d));
    const absent = taskBlobs.find((_, i) => !present[i]);
    if (absent) throw new Error(`refusing to write the record of cell ${rec.cell_id}: blob ${absent}, which holds one of its task results, written files or outputs, is not in the store`);
    await mkdir(join(this.dir, CELLS_DIR), { recursive: true });
    await writeJsonAtomic(join(this.dir, recordFile(rec.fingerprint)), rec);
    return rec;
  }

  // ── manifest updates ────────────────────────────────────────────────────

  async beginRun(entry: RunEntry): Promise<void> {
    checkRunId(entry.run_id);
    await this.update((m) => {
      if (m.runs.some((r) => r.run_id === entry.run_id)) throw new Error(`run ${entry.run_id} is already in ${MANIFEST_FILE} (a bug)`);
      m.runs.push(structuredClone(entry));
    });
  }

  async finishRun(runId: string, patch: RunPatch): Promise<void> {
    await this.update((m) => {
      const run = m.runs.find((r) => r.run_id === runId);
      if (!run) throw new Error(`run ${runId} is not in ${MANIFEST_FILE} (a bug: finishRun before beginRun)`);
      Object.assign(run, structuredClone(patch));
      if (patch.finished_at === undefined) run.finished_at = new Date().toISOString();
    });
  }

  /** The latest run's code cells, by fingerprint, in notebook order. */
  async setCells(fingerprints: string[]): Promise<void> {
    await this.update((m) => {
      m.cells = [...fingerprints];
    });
  }

  private async update(mutate: (m: BundleManifest) => void): Promise<void> {
    this.current = await updateManifest(this.dir, this.key, this.onWait, mutate);
  }

  // ── notebook, logs, environment ─────────────────────────────────────────

  async writeNotebook(nb: Notebook): Promise<void> {
    await writeNotebookFile(join(this.dir, NOTEBOOK_FILE), nb);
  }

  async readNotebook(): Promise<Notebook> {
    return readNotebookFile(join(this.dir, NOTEBOOK_FILE));
  }

  async appendLog(event: RunLogEvent): Promise<void> {
    await appendLogEvent(this.dir, event);
  }

  async readLog(runId: string): Promise<RunLogEvent[]> {
    return readLogEvents(this.dir, runId);
  }

  /** Replace environment.json; returns the sha256 of what was written, for the run entry. */
  async writeEnvironment(env: EnvironmentRecord): Promise<string> {
    const problems = schemaProblems("environment", env);
    if (problems.length > 0) {
      throw new Error(`refusing to write an invalid ${ENVIRONMENT_FILE} (a bug): ` + problems.map((p) => `${p.path}: ${p.message}`).join("; "));
    }
    const text = JSON.stringify(env, null, 2) + "\n";
    await writeFileAtomic(join(this.dir, ENVIRONMENT_FILE), text);
    return sha256Hex(text);
  }

  /** The latest captured environment, or undefined before the first run wrote one. */
  async readEnvironment(): Promise<EnvironmentRecord | undefined> {
    if (!(await exists(join(this.dir, ENVIRONMENT_FILE)))) return undefined;
    return readValidated<EnvironmentRecord>(this.dir, ENVIRONMENT_FILE, "environment");
  }

  // ── integrity and space ─────────────────────────────────────────────────

  /**
   * Rewrite digests.json, the signed digest list of every file, with `key`.
   * Under the manifest's lock, so a concurrent run's manifest update does not
   * land between the listing and the signature.
   */
  async sign(key: SigningKey): Promise<void> {
    await withManifestLock(this.dir, this.key, this.onWait, () => signBundleFolder(this.dir, key));
  }

  /** Everything wrong with the bundle, one problem per line; [] when it is sound. */
  async verify(options: BundleVerifyOptions = {}): Promise<BundleProblem[]> {
    return verifyBundle(this.dir, this.blobs, options);
  }

  /** Digests of every value any record refers to. Throws if a record cannot be read: gc must not guess. */
  async referencedDigests(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const rec of (await this.records()).values()) for (const d of recordDigests(rec)) out.add(d);
    return out;
  }

  /**
   * Delete blobs no record refers to, and stale temp files. Blobs younger
   * than the grace period survive, since a run in progress writes blobs
   * before their record (see BlobStore.gc).
   */
  async gc(options: GcOptions = {}): Promise<{ removed: number; bytes: number }> {
    const { removed, bytes } = await this.blobs.gc(await this.referencedDigests(), options);
    return { removed, bytes };
  }
}

type FolderKind = "missing" | "file" | "empty" | "bundle" | "other";

async function folderKind(dir: string): Promise<FolderKind> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!s) return "missing";
  if (!s.isDirectory()) return "file";
  const names = await readdir(dir);
  if (names.includes(MANIFEST_FILE)) return "bundle";
  // A folder holding only a lock is a bundle being created by another process.
  return names.every((n) => n === LOCK_DIR) ? "empty" : "other";
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
