/**
 * A light look at the cells/ folder, without the record schema (and the
 * validators it loads): see recordedSourceHashes.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isTempFileName } from "../common/atomic-file.js";
import { CELLS_DIR } from "./paths.js";

/**
 * The source hashes of the bundle's records, read without validation and
 * before any lock or trust check: for a guess only (kernel-forecast.ts), never
 * for a decision. Undefined when the bundle has more than `limit` records (the
 * reading would cost more than the guess saves) or cannot be read (a new or
 * broken bundle: the command's own reading says what is wrong).
 */
export async function recordedSourceHashes(dir: string, limit: number): Promise<Set<string> | undefined> {
  try {
    const records = (await readdir(join(dir, CELLS_DIR))).filter((name) => name.endsWith(".json") && !isTempFileName(name));
    if (records.length > limit) return undefined;
    const hashes = new Set<string>();
    await Promise.all(records.map(async (name) => {
      const hash = (JSON.parse(await readFile(join(dir, CELLS_DIR, name), "utf8")) as { source_hash?: unknown }).source_hash;
      if (typeof hash === "string") hashes.add(hash);
    }));
    return hashes;
  } catch {
    return undefined;
  }
}
