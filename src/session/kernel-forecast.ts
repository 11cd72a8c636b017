import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { recordedSourceHashes } from "../bundle/record-hashes.js";
import { MANIFEST_FILE } from "../bundle/paths.js";
import type { Notebook } from "../notebook/types.js";
import { joinMultiline } from "../notebook/source.js";
import { sourceHash } from "../planner/fingerprint.js";
import type { RecordedCell } from "../planner/recorded.js";

/**
 * Will this repeat surely need a kernel? Asked before the plan is made, so
 * that the server and kernel (most of a repeat's fixed cost) start while it
 * is. Yes when cells are forced to run, or when a code cell has a source no
 * record of the bundle holds: such a cell cannot be reused, whatever the
 * plan finds. Otherwise no: going back to an earlier version of a cell, a
 * changed input file or a deleted cell may or may not make cells run, and
 * the plan decides; the kernel then starts after the plan, if at all, as it
 * did before this forecast existed. A "no" therefore never costs an unused kernel.
 */
export function kernelSurelyNeeded(notebook: Notebook, records: Map<string, RecordedCell>, forced: boolean): boolean {
  if (forced) return true;
  const recorded = new Set<string>();
  for (const record of records.values()) recorded.add(record.source_hash);
  return hasUnrecordedCode(notebook.cells, recorded) === true;
}

/**
 * More records than this and the first guess (kernelGuessFromFiles) is not
 * made: reading them twice would cost more than it saves. The forecast after
 * the records are read still applies.
 */
export const GUESS_MAX_RECORDS = 1000;

export interface KernelGuess {
  /** The notebook's kernelspec name (metadata.kernelspec.name), if it has one. */
  kernelName: string | undefined;
}

/**
 * The same forecast, made from the files alone before anything is validated,
 * locked or trusted, so that the kernel can start first thing (its start is
 * most of a repeat's wait): the notebook parsed with a plain JSON.parse and
 * the bundle's records read without their schema. Only a guess: undefined
 * whenever it is not sure (the notebook or the bundle unreadable or odd,
 * every code source recorded, parameters given, which change the cells),
 * and then the command carries on as without it. `forced` (cells forced to
 * run, or audit) skips the records. A "yes" on files the command
 * then rejects costs a kernel started and shut down, never a different
 * outcome (the caller discards it before the error is reported).
 */
export async function kernelGuessFromFiles(notebookPath: string, bundleDir: string, options: { forced: boolean; parameters: boolean }): Promise<KernelGuess | undefined> {
  if (options.parameters && !options.forced) return undefined;
  try {
    // Forced cells (and audit, which runs every cell) need no records to know.
    const [text, hashes] = await Promise.all([
      readFile(notebookPath, "utf8"),
      options.forced ? undefined : stat(join(bundleDir, MANIFEST_FILE)).then(() => recordedSourceHashes(bundleDir, GUESS_MAX_RECORDS)),
    ]);
    const raw = JSON.parse(text) as { metadata?: { kernelspec?: { name?: unknown } }; cells?: unknown };
    const name = raw?.metadata?.kernelspec?.name;
    const kernelName = typeof name === "string" ? name : undefined;
    const needed = options.forced ? Array.isArray(raw?.cells) : hashes !== undefined && hasUnrecordedCode(raw?.cells, hashes) === true;
    return needed ? { kernelName } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a code cell among `cells` has a source outside `recorded`;
 * undefined when `cells` does not look like a notebook's cells (not yet
 * validated: the command's own reading says what is wrong with it).
 */
function hasUnrecordedCode(cells: unknown, recorded: Set<string>): boolean | undefined {
  if (!Array.isArray(cells)) return undefined;
  let found = false;
  for (const cell of cells as unknown[]) {
    if (cell === null || typeof cell !== "object") return undefined;
    const { cell_type, source } = cell as { cell_type?: unknown; source?: unknown };
    if (cell_type !== "code") continue;
    if (typeof source !== "string" && !(Array.isArray(source) && source.every((line) => typeof line === "string"))) return undefined;
    if (!recorded.has(sourceHash(joinMultiline(source)))) found = true;
  }
  return found;
}
