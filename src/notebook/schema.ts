/**
 * The official nbformat v4.0-v4.5 JSON Schemas, compiled with Ajv.
 *
 * The schemas declare draft-04. Ajv 8 does not ship the draft-04 meta-schema,
 * but these schemas only use keywords whose meaning is the same in draft-04
 * and draft-07 ($ref to local definitions, type, properties, required,
 * additionalProperties, patternProperties, items, enum, oneOf, not, pattern,
 * minimum, maximum, minLength, maxLength, uniqueItems; no `id`, no boolean
 * exclusiveMinimum/Maximum — `checkKeywords` below fails loudly if a future
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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { packageRoot } from "../common/package-root.js";
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

const SAME_IN_DRAFT4_AND_7 = new Set([
  "$schema", "$ref", "description", "definitions", "type", "properties", "required", "additionalProperties",
  "patternProperties", "items", "enum", "oneOf", "not", "pattern", "minimum", "maximum", "minLength",
  "maxLength", "uniqueItems",
]);
/** Misplaced in the official files (not keywords at all); every draft ignores them. */
const IGNORED_NON_KEYWORDS = new Set(["item", "source_hidden", "outputs_hidden"]);

function checkKeywords(node: unknown, file: string, where: string): void {
  if (Array.isArray(node)) return node.forEach((n, k) => checkKeywords(n, file, `${where}/${k}`));
  if (node === null || typeof node !== "object") return;
  for (const [k, v] of Object.entries(node)) {
    if (IGNORED_NON_KEYWORDS.has(k)) continue;
    if (!SAME_IN_DRAFT4_AND_7.has(k)) throw new Error(`${file}: keyword '${k}' at ${where} is not known to mean the same in draft-04 and draft-07; review schema.ts`);
    if (k === "properties" || k === "definitions" || k === "patternProperties") {
      for (const [name, sub] of Object.entries(v as object)) {
        if (k === "definitions" && name === "misc") {
          for (const [m, s] of Object.entries(sub as object)) checkKeywords(s, file, `${where}/${k}/misc/${m}`);
        } else checkKeywords(sub, file, `${where}/${k}/${name}`);
      }
    } else if (k !== "enum" && k !== "required" && k !== "description") checkKeywords(v, file, `${where}/${k}`);
  }
}

const cache = new Map<number, NbformatValidators>();

export function schemaPath(minor: number): string {
  return join(packageRoot(), "schemas", "nbformat", `nbformat.v4.${minor}.schema.json`);
}

/** Validators for nbformat 4.`minor` (0..5; callers map unknown higher minors to 5). */
export function nbformatValidators(minor: number): NbformatValidators {
  if (!Number.isInteger(minor) || minor < 0 || minor > LATEST_MINOR) throw new Error(`no nbformat schema for 4.${minor}`);
  const hit = cache.get(minor);
  if (hit) return hit;
  const file = schemaPath(minor);
  const schema = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> & {
    properties: { cells: { items: unknown } };
    definitions: { code_cell: { properties: { outputs: { items: unknown } } } };
  };
  checkKeywords(schema, file, "#");
  delete schema.$schema;
  const id = `nbrewind:nbformat-v4.${minor}`;
  schema.$id = id;
  schema.properties.cells.items = {};
  schema.definitions.code_cell.properties.outputs.items = {};
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(schema);
  const get = (fragment: string): ValidateFunction => {
    const fn = ajv.getSchema(id + fragment);
    if (!fn) throw new Error(`${file}: no schema at ${fragment}`);
    return fn;
  };
  const validators: NbformatValidators = {
    minor,
    root: get(""),
    cells: { code: get("#/definitions/code_cell"), markdown: get("#/definitions/markdown_cell"), raw: get("#/definitions/raw_cell") },
    outputs: {
      execute_result: get("#/definitions/execute_result"),
      display_data: get("#/definitions/display_data"),
      stream: get("#/definitions/stream"),
      error: get("#/definitions/error"),
    },
  };
  cache.set(minor, validators);
  return validators;
}
