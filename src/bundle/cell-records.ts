/**
 * The cells/ folder: one JSON file per record, named by its fingerprint.
 * Leftover temp files of an interrupted write are skipped: the rename never
 * happened, so the record was never there.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../common/errors.js";
import { isTempFileName } from "../common/atomic-file.js";
import { CELLS_DIR, recordFile } from "./paths.js";
import type { BundleProblem, CellRecord } from "./records.js";
import { invalidFileError, schemaProblems } from "./schemas.js";

/** How many record files are read at once: many, but well under a process's open-file limit. */
const READ_CONCURRENCY = 32;

export interface RecordFileCheck {
  /** Relative to the bundle: cells/<name>. */
  file: string;
  record?: CellRecord;
  /** The file does not exist (only possible when asked for by name). */
  missing?: boolean;
  problems: BundleProblem[];
}

/** Names (not paths) of the record files, sorted; missing folder = none. */
export async function listRecordFiles(dir: string): Promise<{ records: string[]; others: string[] }> {
  let names: string[];
  try {
    names = await readdir(join(dir, CELLS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], others: [] };
    throw err;
  }
  const records: string[] = [];
  const others: string[] = [];
  for (const name of names.sort()) {
    if (isTempFileName(name)) continue;
    (name.endsWith(".json") ? records : others).push(name);
  }
  return { records, others };
}

/** Parse, validate and check the name of one record file; never throws for bad content. */
export async function checkRecordFile(dir: string, name: string): Promise<RecordFileCheck> {
  const file = `${CELLS_DIR}/${name}`;
  let text: string;
  try {
    text = await readFile(join(dir, file), "utf8");
  } catch (err) {
    return unreadableRecord(file, err);
  }
  return checkRecordText(file, text);
}

/** The check of a record file that could not be read. */
export function unreadableRecord(file: string, err: unknown): RecordFileCheck {
  const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
  return { file, missing, problems: [{ file, message: missing ? "is missing" : `cannot read: ${(err as Error).message}` }] };
}

/** Parse, validate and check the name of a record read from `file` (cells/<name>); never throws for bad content. */
export function checkRecordText(file: string, text: string): RecordFileCheck {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { file, problems: [{ file, message: `not valid JSON (${(err as Error).message})` }] };
  }
  const problems = schemaProblems("cell-record", raw).map((p) => ({ file, path: p.path, message: p.message }));
  if (problems.length > 0) return { file, problems };
  const record = raw as CellRecord;
  if (recordFile(record.fingerprint) !== file) {
    return {
      file,
      problems: [{ file, path: "fingerprint", message: `is ${record.fingerprint}, but a record must be stored as ${recordFile(record.fingerprint)}` }],
    };
  }
  return { file, record, problems: [] };
}

/** Run `fn` over `items` with at most `limit` in flight, keeping order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export async function checkAllRecords(dir: string): Promise<RecordFileCheck[]> {
  const { records } = await listRecordFiles(dir);
  return mapLimited(records, READ_CONCURRENCY, (name) => checkRecordFile(dir, name));
}

/** Every record by fingerprint; the first bad file is an InputError naming it and the field. */
export async function readAllRecords(dir: string): Promise<Map<string, CellRecord>> {
  const out = new Map<string, CellRecord>();
  for (const check of await checkAllRecords(dir)) {
    if (check.problems.length > 0) {
      throw invalidFileError(
        join(dir, check.file),
        check.problems.map((p) => ({ path: p.path ?? "", message: p.message })),
      );
    }
    const rec = check.record as CellRecord;
    out.set(rec.fingerprint, rec);
  }
  return out;
}

/** One record, or undefined when none was recorded for `fingerprint`. */
export async function readOneRecord(dir: string, fingerprint: string): Promise<CellRecord | undefined> {
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new InputError(`not a fingerprint (64 lowercase hex characters): ${JSON.stringify(fingerprint)}`);
  const name = `${fingerprint}.json`;
  const check = await checkRecordFile(dir, name);
  if (check.record) return check.record;
  if (check.missing) return undefined;
  throw invalidFileError(join(dir, check.file), check.problems.map((p) => ({ path: p.path ?? "", message: p.message })));
}
