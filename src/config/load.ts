import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Document, Node } from "yaml";
import { InputError } from "../common/errors.js";
import { yamlLib } from "../common/yaml-lib.js";
import * as generated from "../validators/generated/config.js";
import { findConfigFile } from "./find.js";
import { parseSize } from "./size.js";
import { emptyConfig, type NbrewindConfig, type PinRule } from "./types.js";

/** What a valid nbrewind.yaml looks like, shown under a syntax error (where the schema cannot say more). */
export const CONFIG_SHAPE = `expected shape:
  pins:                       # a list
    - function: GLOB          # required, e.g. pipeline.skim*
      cell: ID-OR-TAG         # optional
      version: "v3"           # required, a string
      keep: true              # optional
  cache:
    dir: PATH                 # optional, a shared writable task cache
    read: [PATH, ...]         # optional, read-only task caches
  gc:
    max_size: 20GB            # optional
    keep_runs: 5              # optional, an integer >= 1`;

interface RawConfig {
  pins?: { function: string; cell?: string; version: string; keep?: boolean }[];
  cache?: { dir?: string; read?: string[] };
  gc?: { max_size?: string | number; keep_runs?: number };
}

/**
 * nbrewind-config, or bundle-pins (whose pins are the config's): precompiled
 * by scripts/validators.ts with Ajv's `verbose`, so that errors carry the
 * schema's descriptions.
 */
function validator(name: "nbrewind-config" | "bundle-pins" = "nbrewind-config"): ValidateFunction {
  return (generated as unknown as Record<string, ValidateFunction>)[name.replace(/-/g, "_")]!;
}

/** pins.json of a bundle (schemas/bundle-pins.schema.json): the pin rules its runs used. */
export function parseBundlePins(text: string, file: string): PinRule[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const check = validator("bundle-pins");
  if (!check(value)) {
    const first = check.errors?.[0];
    throw new InputError(`${file}: ${first ? describe(first) : "invalid"}`);
  }
  return (value as { pins: RawConfig["pins"] & object }).pins.map((p) => ({ function: p.function, version: p.version, keep: p.keep ?? false, ...(p.cell ? { cell: p.cell } : {}) }));
}

/** The nbrewind.yaml that governs a notebook in `notebookDir`, or every default when there is none. */
export function loadConfigFor(notebookDir: string): NbrewindConfig {
  const file = findConfigFile(notebookDir);
  return file ? loadConfigFile(file) : emptyConfig();
}

/** Parse and validate one nbrewind.yaml; an InputError (exit 2) names `file:line:col` and what was expected. */
export function loadConfigFile(file: string): NbrewindConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`${file}: cannot read it (${(err as Error).message})`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): NbrewindConfig {
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split("\n")[0]}`);
    throw new InputError(`${lines[0]} (nbrewind.yaml is not valid YAML)`, [...lines.slice(1), CONFIG_SHAPE]);
  }
  const value = (doc.toJS() as unknown) ?? {};
  const check = validator();
  if (!check(value)) {
    const lines = dedupe((check.errors ?? []).map((e) => `${at(offsetOf(doc, e))}: ${describe(e)}`));
    throw new InputError(lines[0]!, [...lines.slice(1), CONFIG_SHAPE]);
  }
  return resolveConfig(value as RawConfig, file);
}

function resolveConfig(raw: RawConfig, file: string): NbrewindConfig {
  const base = dirname(file);
  const path = (p: string) => (p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : isAbsolute(p) ? p : resolve(base, p));
  const pins: PinRule[] = (raw.pins ?? []).map((p) => ({ function: p.function, version: p.version, keep: p.keep ?? false, ...(p.cell ? { cell: p.cell } : {}) }));
  const maxSizeBytes = raw.gc?.max_size !== undefined ? parseSize(raw.gc.max_size) : undefined;
  return {
    file,
    pins,
    cache: { ...(raw.cache?.dir ? { dir: path(raw.cache.dir) } : {}), read: (raw.cache?.read ?? []).map(path) },
    gc: { ...(maxSizeBytes !== undefined ? { maxSizeBytes } : {}), ...(raw.gc?.keep_runs !== undefined ? { keepRuns: raw.gc.keep_runs } : {}) },
  };
}

/** Where in the text an Ajv error points: the offending key for an unknown key, else the value. */
function offsetOf(doc: Document, err: ErrorObject): number {
  const { isMap, isNode } = yamlLib();
  const segments = err.instancePath === "" ? [] : err.instancePath.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const node = segments.length === 0 ? doc.contents : (doc.getIn(segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s)), true) as unknown);
  if (err.keyword === "additionalProperties" && isMap(node)) {
    const name = String((err.params as { additionalProperty: string }).additionalProperty);
    const pair = node.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === name);
    if (pair && isNode(pair.key)) return (pair.key as Node).range?.[0] ?? 0;
  }
  return isNode(node) ? ((node as Node).range?.[0] ?? 0) : 0;
}

function describe(err: ErrorObject): string {
  const path = err.instancePath === "" ? "the top level" : `\`${err.instancePath.slice(1).split("/").map((s) => (/^\d+$/.test(s) ? `[${s}]` : s)).join(".").replace(/\.\[/g, "[")}\``;
  const params = err.params as Record<string, unknown>;
  const parent = err.parentSchema as { properties?: Record<string, { description?: string }>; description?: string } | undefined;
  const what = parent?.description ? ` (${parent.description})` : "";
  switch (err.keyword) {
    case "additionalProperties": {
      const allowed = Object.keys(parent?.properties ?? {});
      return `unknown key \`${String(params.additionalProperty)}\` in ${path}; expected one of: ${allowed.join(", ")}`;
    }
    case "required": {
      const name = String(params.missingProperty);
      const d = parent?.properties?.[name]?.description;
      return `${path} needs \`${name}\`${d ? ` (${d})` : ""}`;
    }
    case "type":
      return `${path} must be ${article(String(params.type))}${what}`;
    case "pattern":
      return `${path} is not a size${what}`;
    case "minimum":
      return `${path} must be at least ${String(params.limit)}${what}`;
    case "minLength":
      return `${path} must not be empty${what}`;
    default:
      return `${path} ${err.message ?? "is invalid"}${what}`;
  }
}

function article(type: string): string {
  return type
    .split(",")
    .map((t) => ({ object: "a mapping", array: "a list", string: "a string", integer: "an integer", boolean: "true or false", number: "a number" })[t] ?? t)
    .join(" or ");
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
