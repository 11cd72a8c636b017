/**
 * Schema validation of nbformat v4 notebooks, reported as one plain-words
 * problem per thing that is wrong, each at a JSON path (`cells[3].source`).
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import { formatJsonPath, pointerSegments, valueAt, type PathSegment } from "./json-path.js";
import { CELL_TYPES, LATEST_MINOR, nbformatValidators, OUTPUT_TYPES } from "./schema.js";
import type { ValidationProblem } from "./types.js";

export type { ValidationProblem } from "./types.js";

/** Shown instead of an empty path for problems with the notebook object itself. */
export const TOP_LEVEL = "(top level)";

/** Cell ids: what nbformat 4.5 allows. */
export const CELL_ID_PATTERN = /^[a-zA-Z0-9-_]{1,64}$/;

export interface ValidateOptions {
  /**
   * Let pass what readNotebook repairs while upgrading to 4.5: missing cell
   * ids in a 4.5 notebook (nbformat adds them too), duplicate ids, and an
   * `id` field on cells of a notebook older than 4.5 (kept if valid).
   */
  repairableIds?: boolean;
}

/** The schema minor version used for a notebook that says `nbformat_minor: minor`. */
export function schemaMinorFor(minor: unknown): number {
  return typeof minor === "number" && Number.isInteger(minor) && minor >= 0 ? Math.min(minor, LATEST_MINOR) : LATEST_MINOR;
}

/**
 * Validate `nb` against the nbformat 4.`minor` schema (default: the notebook's
 * own `nbformat_minor`; minors above 5 use 4.5). For 4.5, duplicate cell ids
 * are reported too (the schema cannot say it; nbformat's validator does).
 * Returns [] when valid.
 */
export function validateNotebook(nb: unknown, minor?: number, options: ValidateOptions = {}): ValidationProblem[] {
  const out = new ProblemList();
  if (nb === null || typeof nb !== "object" || Array.isArray(nb)) {
    out.add([], `must be a JSON object (a notebook), not ${describeValue(nb)}`);
    return out.problems;
  }
  const notebook = nb as Record<string, unknown>;
  const v = nbformatValidators(schemaMinorFor(minor ?? notebook.nbformat_minor));
  const where = `nbformat 4.${v.minor}`;

  runValidator(v.root, nb, [], out, nb, `at the top level of a notebook (${where})`);

  const cells = notebook.cells;
  if (!Array.isArray(cells)) return out.problems;
  const firstUse = new Map<string, number>();
  cells.forEach((cell: unknown, index) => {
    const path: PathSegment[] = ["cells", index];
    if (cell === null || typeof cell !== "object" || Array.isArray(cell)) {
      out.add(path, `must be an object (a cell), not ${describeValue(cell)}`);
      return;
    }
    let c = cell as Record<string, unknown>;
    const cellType = c.cell_type;
    if (!isOneOf(cellType, CELL_TYPES)) {
      const hint = cellType === "heading" ? " (heading cells are nbformat 3; in nbformat 4 a heading is a markdown cell starting with '#')" : "";
      out.add([...path, "cell_type"], cellType === undefined ? "required field is missing (one of \"code\", \"markdown\", \"raw\")" : `must be one of "code", "markdown", "raw", not ${describeValue(cellType)}${hint}`);
      return;
    }
    if (options.repairableIds && v.minor < LATEST_MINOR && "id" in c) {
      const { id: _ignored, ...rest } = c;
      c = rest;
    }
    const skip = (e: ErrorObject) =>
      options.repairableIds === true && e.keyword === "required" && e.instancePath === "" && (e.params as { missingProperty?: string }).missingProperty === "id";
    runValidator(v.cells[cellType], c, path, out, nb, `in a ${cellType} cell (${where})`, skip);

    if (v.minor >= LATEST_MINOR && typeof c.id === "string" && !options.repairableIds) {
      const first = firstUse.get(c.id);
      if (first === undefined) firstUse.set(c.id, index);
      else out.add([...path, "id"], `duplicate cell id ${JSON.stringify(c.id)} (already used by ${formatJsonPath(["cells", first])})`);
    }

    if (cellType === "code" && Array.isArray(c.outputs)) {
      c.outputs.forEach((output: unknown, k) => {
        const opath: PathSegment[] = [...path, "outputs", k];
        if (output === null || typeof output !== "object" || Array.isArray(output)) {
          out.add(opath, `must be an object (an output), not ${describeValue(output)}`);
          return;
        }
        const outputType = (output as Record<string, unknown>).output_type;
        if (!isOneOf(outputType, OUTPUT_TYPES)) {
          const allowed = OUTPUT_TYPES.map((t) => JSON.stringify(t)).join(", ");
          out.add([...opath, "output_type"], outputType === undefined ? `required field is missing (one of ${allowed})` : `must be one of ${allowed}, not ${describeValue(outputType)}`);
          return;
        }
        runValidator(v.outputs[outputType], output, opath, out, nb, `in a ${outputType} output (${where})`);
      });
    }
  });
  return out.problems;
}

function isOneOf<T extends string>(value: unknown, allowed: readonly T[]): value is T {
  return typeof value === "string" && (allowed as readonly string[]).includes(value);
}

class ProblemList {
  readonly problems: ValidationProblem[] = [];
  private readonly seen = new Set<string>();
  add(segments: readonly PathSegment[], message: string): void {
    const path = segments.length === 0 ? TOP_LEVEL : formatJsonPath(segments);
    const key = `${path}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ path, message });
  }
}

function runValidator(
  validate: ValidateFunction,
  data: unknown,
  base: PathSegment[],
  out: ProblemList,
  root: unknown,
  context: string,
  skip: (e: ErrorObject) => boolean = () => false,
): void {
  if (validate(data)) return;
  const errors = (validate.errors ?? []).filter((e) => !skip(e));
  const dropped = new Set<ErrorObject>();

  // oneOf (multi-line strings: a string or a list of strings): keep the branch
  // that got furthest, or say what the value should have been.
  for (const one of errors.filter((e) => e.keyword === "oneOf")) {
    dropped.add(one);
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (e === one || !e.schemaPath.startsWith(one.schemaPath + "/") || !isWithin(e.instancePath, one.instancePath)) continue;
      const branch = e.schemaPath.slice(one.schemaPath.length + 1).split("/")[0] as string;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
      dropped.add(e);
    }
    const deeper = [...branches.values()].filter((errs) => errs.every((e) => e.instancePath !== one.instancePath));
    const segments = [...base, ...pointerSegments(one.instancePath, data)];
    if (deeper.length > 0) {
      const best = deeper.sort((a, b) => a.length - b.length)[0] as ErrorObject[];
      for (const e of best) dropped.delete(e);
    } else {
      const types = [...branches.values()].flatMap((errs) => errs.filter((e) => e.keyword === "type").map((e) => String((e.params as { type: string }).type)));
      const expected = types.includes("string") && types.includes("array") ? "a string or a list of strings" : types.map(typeWords).join(" or ") || "one of the allowed forms";
      out.add(segments, `must be ${expected}, not ${describeValue(valueAt(data, pointerSegments(one.instancePath, data)))}`);
    }
  }

  for (const e of errors) {
    if (dropped.has(e)) continue;
    const rel = pointerSegments(e.instancePath, data);
    const here = [...base, ...rel];
    const value = valueAt(data, rel);
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case "required":
        out.add([...here, String(p.missingProperty)], "required field is missing");
        break;
      case "additionalProperties":
        out.add([...here, String(p.additionalProperty)], rel.length === 0 ? `is not allowed ${context}` : `is not an allowed field in ${formatJsonPath(here) || "the notebook"}`);
        break;
      case "type": {
        const wanted = Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(",");
        out.add(here, `must be ${wanted.map(typeWords).join(" or ")}, not ${describeValue(value)}`);
        break;
      }
      case "enum":
        out.add(here, `must be one of ${(p.allowedValues as unknown[]).map((a) => JSON.stringify(a)).join(", ")}, not ${describeValue(value)}`);
        break;
      case "pattern":
        if (here[here.length - 1] === "id" && here[0] === "cells" && here.length === 3) out.add(here, `must be 1-64 characters from a-z, A-Z, 0-9, '-' and '_', not ${describeValue(value)}`);
        else out.add(here, `must match the pattern ${String(p.pattern)}, not ${describeValue(value)}`);
        break;
      case "minimum":
        out.add(here, `must be ${String(p.comparison)} ${String(p.limit)}, not ${describeValue(value)}`);
        break;
      case "maximum":
        out.add(here, `must be ${String(p.comparison)} ${String(p.limit)}, not ${describeValue(value)}`);
        break;
      case "minLength":
        out.add(here, `must be at least ${String(p.limit)} characters long`);
        break;
      case "maxLength":
        out.add(here, `must be at most ${String(p.limit)} characters long`);
        break;
      case "uniqueItems":
        out.add(here, `must not contain duplicates (items ${Math.min(Number(p.i), Number(p.j))} and ${Math.max(Number(p.i), Number(p.j))} are equal)`);
        break;
      case "not":
        out.add(here, `has a value that nbformat reserves for another kind: ${describeValue(value)}`);
        break;
      default:
        out.add(here, e.message ?? `fails the schema keyword '${e.keyword}'`);
    }
  }
}

function isWithin(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix + "/");
}

function typeWords(t: string): string {
  switch (t) {
    case "string":
      return "a string";
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
      return "an object";
    case "null":
      return "null";
    default:
      return t;
  }
}

/** A short description of a JSON value for messages: `a number (3)`, `a list`, `"text"`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (typeof v === "string") return v.length > 40 ? `the string ${JSON.stringify(v.slice(0, 40) + "…")}` : `the string ${JSON.stringify(v)}`;
  if (typeof v === "number") return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return "a list";
  return "an object";
}
