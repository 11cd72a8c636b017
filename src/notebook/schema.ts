/**
 * The official nbformat v4.0-v4.5 JSON Schemas (schemas/nbformat/), compiled
 * with Ajv ahead of time: scripts/validators.ts writes the standalone
 * validators to src/validators/generated/ (compiling them here cost ~0.3 s of
 * CPU per command). What follows is how that script compiles them.
 *
 * The schemas declare draft-04. Ajv 8 does not ship the draft-04 meta-schema,
 * but these schemas only use keywords whose meaning is the same in draft-04
 * and draft-07 ($ref to local definitions, type, properties, required,
 * additionalProperties, patternProperties, items, enum, oneOf, not, pattern,
 * minimum, maximum, minLength, maxLength, uniqueItems; no `id`, no boolean
 * exclusiveMinimum/Maximum — the script's `checkDraft4Keywords` fails loudly if a future
 * copy adds one). So we drop `$schema` in memory and compile them with
 * Ajv's default draft, instead of adding ajv-draft-04. `strict: false` because
 * the official 4.2+ files carry non-keywords (a misspelt `item`, and
 * `source_hidden`/`outputs_hidden` placed beside `properties` instead of
 * inside it) that draft-04 validators ignore too — so, like nbformat, we do
 * not check the type of `metadata.jupyter.source_hidden`.
 *
 * Cells and outputs are `oneOf` unions, whose Ajv errors report every branch.
 * To say something useful we validate them ourselves by discriminator: the
 * root schema is compiled with `cells.items` opened up, each cell kind with
 * `outputs.items` opened up, and each output kind on its own; validate.ts
 * dispatches on `cell_type` / `output_type`.
 */
import type { ValidateFunction } from "ajv";
import * as v40 from "../validators/generated/nbformat-v4.0.js";
import * as v41 from "../validators/generated/nbformat-v4.1.js";
import * as v42 from "../validators/generated/nbformat-v4.2.js";
import * as v43 from "../validators/generated/nbformat-v4.3.js";
import * as v44 from "../validators/generated/nbformat-v4.4.js";
import * as v45 from "../validators/generated/nbformat-v4.5.js";
import type { CellType, OutputType } from "./types.js";

export const LATEST_MINOR = 5;
export const CELL_TYPES: readonly CellType[] = ["code", "markdown", "raw"];
export const OUTPUT_TYPES: readonly OutputType[] = ["execute_result", "display_data", "stream", "error"];

export interface NbformatValidators {
  minor: number;
  root: ValidateFunction;
  cells: Record<CellType, ValidateFunction>;
  outputs: Record<OutputType, ValidateFunction>;
}

/** Precompiled by scripts/validators.ts, one module per minor version. */
const MODULES = [v40, v41, v42, v43, v44, v45] as unknown as Record<CellType | OutputType | "root", ValidateFunction>[];

const cache = new Map<number, NbformatValidators>();

/** Validators for nbformat 4.`minor` (0..5; callers map unknown higher minors to 5). */
export function nbformatValidators(minor: number): NbformatValidators {
  if (!Number.isInteger(minor) || minor < 0 || minor > LATEST_MINOR) throw new Error(`no nbformat schema for 4.${minor}`);
  const hit = cache.get(minor);
  if (hit) return hit;
  const m = MODULES[minor]!;
  const validators: NbformatValidators = {
    minor,
    root: m.root,
    cells: { code: m.code, markdown: m.markdown, raw: m.raw },
    outputs: { execute_result: m.execute_result, display_data: m.display_data, stream: m.stream, error: m.error },
  };
  cache.set(minor, validators);
  return validators;
}
