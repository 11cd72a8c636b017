/**
 * Reading notebooks: parse, check the format version, validate against the
 * notebook's own nbformat 4.x schema, upgrade in memory to 4.5.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../common/errors.js";
import { ensureCellIds } from "./cell-id.js";
import { JsonSyntaxError, parseJson } from "./json.js";
import { LATEST_MINOR } from "./schema.js";
import { schemaMinorFor, validateNotebook } from "./validate.js";
import type { Notebook } from "./types.js";

export { ensureCellIds } from "./cell-id.js";
export { validateNotebook } from "./validate.js";
export type { ValidationProblem } from "./types.js";

/** How many schema problems an InputError lists before summarising the rest. */
export const MAX_LISTED_PROBLEMS = 50;

export async function readNotebook(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new InputError(`cannot read notebook '${path}': ${describeFsError(err)}`);
  }
  return parseNotebook(text, path);
}

/** readNotebook on text already in memory; `name` is used in messages. */
export function parseNotebook(text: string, name: string): Notebook {
  let data: unknown;
  try {
    data = parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new InputError(`'${name}' is not valid JSON: ${err.reason} at ${name}:${err.line}:${err.column}`, [`line ${err.line}, column ${err.column}: ${err.reason}`]);
    }
    throw err;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new InputError(`'${name}' is not a notebook: its top level must be a JSON object`);
  }
  const raw = data as Record<string, unknown>;
  checkVersion(raw, name);

  const minor = raw.nbformat_minor as number;
  const schemaMinor = schemaMinorFor(minor);
  const problems = validateNotebook(raw, schemaMinor, { repairableIds: true });
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `${p.path}: ${p.message}`);
    if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`… and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    const n = problems.length;
    throw new InputError(`'${name}' is not a valid nbformat 4.${schemaMinor} notebook (${n} problem${n === 1 ? "" : "s"}; first: ${listed[0]})`, listed);
  }
  stripTransient(raw);
  const upgraded = ensureCellIds(raw as unknown as Notebook);
  if (schemaMinor < LATEST_MINOR) {
    // Valid as 4.x but not as 4.5 (for example a non-string metadata.title in 4.1):
    // say so now rather than fail when the notebook is written.
    const later = validateNotebook(upgraded, LATEST_MINOR);
    if (later.length > 0) {
      const listed = later.slice(0, MAX_LISTED_PROBLEMS).map((p) => `${p.path}: ${p.message}`);
      throw new InputError(`'${name}' is a valid nbformat 4.${schemaMinor} notebook but cannot be upgraded to 4.5 (first: ${listed[0]}); fix it, or let Jupyter re-save it`, listed);
    }
  }
  return upgraded;
}

function checkVersion(raw: Record<string, unknown>, name: string): void {
  const major = raw.nbformat;
  if (major === undefined) {
    throw new InputError(`'${name}' is not a notebook: the field 'nbformat' is missing`);
  }
  if (typeof major !== "number" || !Number.isInteger(major)) {
    throw new InputError(`'${name}': the field 'nbformat' must be an integer (the format's major version), not ${JSON.stringify(major)}`);
  }
  if (major < 4) {
    throw new InputError(
      `'${name}' is nbformat ${major}; nbrewind-engine reads nbformat 4. Convert it with \`jupyter nbconvert --to notebook --nbformat 4 ${name}\``,
    );
  }
  if (major > 4) {
    throw new InputError(`'${name}' is nbformat ${major}; nbrewind-engine reads nbformat 4 (4.0 to 4.5), and does not know this newer format`);
  }
  const minor = raw.nbformat_minor;
  if (minor === undefined) {
    throw new InputError(`'${name}': the field 'nbformat_minor' is missing; an nbformat 4 notebook must say which 4.x it is`);
  }
  if (typeof minor !== "number" || !Number.isInteger(minor) || minor < 0) {
    throw new InputError(`'${name}': the field 'nbformat_minor' must be a non-negative integer, not ${JSON.stringify(minor)}`);
  }
}

/** nbformat's strip_transient: values that must never be stored (applied on read and on write). */
export function stripTransient(nb: Record<string, unknown>): void {
  const metadata = nb.metadata as Record<string, unknown> | undefined;
  if (metadata && typeof metadata === "object") {
    delete metadata.orig_nbformat;
    delete metadata.orig_nbformat_minor;
    delete metadata.signature;
  }
  for (const cell of (nb.cells as Record<string, unknown>[] | undefined) ?? []) {
    const m = cell.metadata as Record<string, unknown> | undefined;
    if (m && typeof m === "object") delete m.trusted;
  }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    default:
      return (err as Error).message ?? String(err);
  }
}
