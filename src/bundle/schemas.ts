/**
 * Validators for the bundle's files, compiled from schemas/*.schema.json
 * (draft-07) ahead of time by scripts/validators.ts, and Ajv errors turned into problems a user can act on: a JSON
 * path such as `runs[2].status` and a sentence.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import { InputError } from "../common/errors.js";
import { formatJsonPath, pointerSegments } from "../notebook/json-path.js";
import * as generated from "../validators/generated/bundle.js";

export type BundleSchema =
  | "bundle-manifest"
  | "cell-record"
  | "environment"
  | "run-log-event"
  | "bundle-digests"
  | "bundle-owner"
  | "trusted-keys"
  | "replay-summary"
  | "verify-result"
  | "archive-summary"
  | "report"
  | "cache-export";

export interface SchemaProblem {
  path: string;
  message: string;
}

/** How many problems an InputError lists before summarising. */
const MAX_LISTED = 20;

const VALIDATORS = generated as unknown as Record<string, ValidateFunction>;

function validator(name: BundleSchema): ValidateFunction {
  const fn = VALIDATORS[name.replace(/-/g, "_")];
  if (!fn) throw new Error(`no precompiled validator for ${name}.schema.json; run 'npm run validators'`);
  return fn;
}

export function schemaProblems(name: BundleSchema, value: unknown): SchemaProblem[] {
  const fn = validator(name);
  if (fn(value)) return [];
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const err of fn.errors ?? []) {
    const p = toProblem(err, value);
    if (!p) continue;
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(p);
  }
  return problems;
}

/** Throw an InputError naming `file` and the first problem's JSON path, listing the others. */
export function assertValid<T>(name: BundleSchema, value: unknown, file: string): T {
  const problems = schemaProblems(name, value);
  if (problems.length > 0) throw invalidFileError(file, problems);
  return value as T;
}

export function invalidFileError(file: string, problems: SchemaProblem[]): InputError {
  const lines = problems.slice(0, MAX_LISTED).map((p) => `${file}: ${p.path ? p.path + ": " : ""}${p.message}`);
  if (problems.length > MAX_LISTED) lines.push(`… and ${problems.length - MAX_LISTED} more`);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length === 2 ? "" : "s"})` : "";
  return new InputError(`invalid bundle file ${lines[0]}${more}`, lines);
}

function toProblem(err: ErrorObject, root: unknown): SchemaProblem | undefined {
  // `if` only says which `then` applied; the `then` errors say what is wrong.
  if (err.keyword === "if") return undefined;
  const segments = pointerSegments(err.instancePath, root);
  const params = err.params as Record<string, unknown>;
  let message = err.message ?? "is invalid";
  switch (err.keyword) {
    case "required":
      segments.push(String(params.missingProperty));
      message = "is required";
      break;
    case "additionalProperties":
      segments.push(String(params.additionalProperty));
      message = "is not allowed here";
      break;
    case "enum":
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "const":
      message = `must be ${JSON.stringify(params.allowedValue)}`;
      break;
    case "pattern":
      message = `does not match the pattern ${String(params.pattern)}`;
      break;
  }
  const path = formatJsonPath(segments);
  return { path: path === "" ? "(top level)" : path, message };
}
