/**
 * papermill-compatible parameters: parsing `-p` values and `-y` files, and
 * injecting them as an `injected-parameters` cell.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../common/errors.js";
import { formatJsonPath, type PathSegment } from "./json-path.js";
import { markFloat, PyFloat } from "./python-float.js";
import { codifyParameters, isPythonIdentifier, type ParameterValue } from "./python-literal.js";
import { loadYamlLikePapermill, YamlError } from "./pyyaml.js";
import { ensureCellIds } from "./cell-id.js";
import { toMultiline } from "./source.js";
import type { Cell, CodeCell, JsonValue, Notebook } from "./types.js";

export { codifyParameters, isPythonIdentifier, pythonLiteral, type ParameterValue } from "./python-literal.js";
export { PyFloat } from "./python-float.js";

export const PARAMETERS_TAG = "parameters";
export const INJECTED_TAG = "injected-parameters";
/** The id of the injected cell: the same on every run, so later stages can key it. */
export const INJECTED_CELL_ID = "injected-parameters";

const DIGITS = "[0-9]+(?:_[0-9]+)*";
const PY_INT = new RegExp(`^[+-]?${DIGITS}$`);
const PY_FLOAT = new RegExp(`^[+-]?(?:(?:${DIGITS}\\.(?:${DIGITS})?|\\.${DIGITS}|${DIGITS})(?:[eE][+-]?${DIGITS})?|inf(?:inity)?|nan)$`, "i");

/**
 * A `-p NAME VALUE` value, as papermill's `_resolve_type` reads it, plus a
 * few conveniences:
 *
 * - `True`/`true` -> true, `False`/`false` -> false, `None`/`null` -> null
 *   (papermill itself only knows the capitalised forms);
 * - what Python's `int()` accepts (sign, `_` between digits, surrounding
 *   whitespace; ASCII digits only) -> an integer; beyond 2^53 an InputError,
 *   since it could not be passed on exactly;
 * - what `float()` accepts (`1.5`, `.5`, `5.`, `1e-3`, `inf`, `-infinity`,
 *   `nan`, any case) -> a float; integral floats (`1.0`, `1e3`) come back as
 *   `PyFloat` so the kernel gets `1.0`, not `1`;
 * - text starting with `[` and ending with `]`, or `{` … `}`, parsed as YAML
 *   (flow) like a `-y` value -> a list or a dict (papermill would pass the
 *   text as a string; pass it raw to get that);
 * - anything else -> the text itself, unchanged.
 */
export function parseParameterValue(raw: string): ParameterValue {
  if (raw === "True" || raw === "true") return true;
  if (raw === "False" || raw === "false") return false;
  if (raw === "None" || raw === "null") return null;
  const t = raw.trim();
  if (PY_INT.test(t)) {
    const n = Number(t.replace(/_/g, ""));
    if (!Number.isSafeInteger(n)) throw new InputError(`the integer ${t} is too large to be passed exactly (beyond 2^53); pass it as a raw string and convert it in the notebook`);
    return n;
  }
  if (PY_FLOAT.test(t)) {
    const s = t.replace(/_/g, "").toLowerCase();
    const sign = s.startsWith("-") ? -1 : 1;
    const body = s.replace(/^[+-]/, "");
    const x = body.startsWith("inf") ? sign * Infinity : body === "nan" ? NaN : Number(s);
    return Number.isInteger(x) ? new PyFloat(x) : x;
  }
  if ((t.startsWith("[") && t.endsWith("]")) || (t.startsWith("{") && t.endsWith("}"))) {
    let parsed: unknown;
    try {
      parsed = loadYamlLikePapermill(t);
    } catch (err) {
      const reason = err instanceof YamlError ? err.reason : String(err);
      throw new InputError(`the value ${JSON.stringify(raw)} looks like a ${t.startsWith("[") ? "list" : "dict"} but is not valid YAML: ${reason}; pass it as a raw string if you meant the text`);
    }
    return toParameterValue(parsed, [], (path, what) => new InputError(`the value ${JSON.stringify(raw)} holds ${what}${path ? ` at ${path}` : ""}, which cannot be a parameter`));
  }
  return raw;
}

function toParameterValue(v: unknown, path: PathSegment[], fail: (path: string, what: string) => Error): ParameterValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number" || v instanceof PyFloat) return v;
  if (Array.isArray(v)) return v.map((item, k) => toParameterValue(item, [...path, k], fail));
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: { [k: string]: ParameterValue } = {};
    for (const [k, item] of Object.entries(v)) out[k] = toParameterValue(item, [...path, k], fail);
    return out;
  }
  const what = v instanceof Set ? "a set (!!set)" : v instanceof Uint8Array ? "binary data (!!binary)" : v instanceof Map ? "a map with non-string keys" : `a ${typeof v}`;
  throw fail(formatJsonPath(path), what);
}

/**
 * A `-y FILE` parameter file: a YAML (or JSON) mapping of names to values,
 * loaded like papermill loads it (see pyyaml.ts). An empty file gives {}.
 * Every error names the file (and the parameter).
 */
export async function readParameterFile(path: string): Promise<Record<string, ParameterValue>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new InputError(`cannot read parameter file '${path}': ${why}`);
  }
  let data: unknown;
  try {
    data = loadYamlLikePapermill(text);
  } catch (err) {
    if (err instanceof YamlError) {
      throw new InputError(`parameter file '${path}' is not valid YAML: ${err.reason}${err.line === undefined ? "" : ` at ${path}:${err.line}:${err.column}`}`);
    }
    throw err;
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data) || Object.getPrototypeOf(data) !== Object.prototype) {
    throw new InputError(`parameter file '${path}' must hold a mapping of parameter names to values, not ${Array.isArray(data) ? "a list" : `a ${typeof data}`}`);
  }
  const out: Record<string, ParameterValue> = {};
  for (const [name, value] of Object.entries(data)) {
    if (!isPythonIdentifier(name)) throw new InputError(`parameter file '${path}': ${JSON.stringify(name)} is not a valid Python variable name`);
    out[name] = toParameterValue(value, [name], (p, what) => new InputError(`parameter file '${path}': ${p} holds ${what}, which cannot be a parameter`));
  }
  return out;
}

/**
 * All parameters of a run, in papermill's precedence: the files in order,
 * then `-p` pairs (values parsed with parseParameterValue), then raw pairs
 * (values kept as strings); a later definition of a name wins.
 */
export async function collectParameters(opts: { pairs: [string, string][]; rawPairs?: [string, string][]; files: string[] }): Promise<Record<string, ParameterValue>> {
  const out: Record<string, ParameterValue> = {};
  for (const file of opts.files) Object.assign(out, await readParameterFile(file));
  const checkName = (flag: string, name: string) => {
    if (!isPythonIdentifier(name)) throw new InputError(`parameter ${JSON.stringify(name)} (${flag}) is not a valid Python variable name`);
  };
  for (const [name, raw] of opts.pairs) {
    checkName("-p", name);
    try {
      out[name] = parseParameterValue(raw);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`parameter ${name} (-p): ${err.message}`);
      throw err;
    }
  }
  for (const [name, raw] of opts.rawPairs ?? []) {
    checkName("-r", name);
    out[name] = raw;
  }
  return out;
}

/** Parameters as JSON for notebook metadata; integral floats keep a float mark so they are written as `1.0`. */
export function parametersAsJson(params: Record<string, ParameterValue>): { [k: string]: JsonValue } {
  const convert = (v: ParameterValue, container: object, key: string | number): JsonValue => {
    if (v instanceof PyFloat) {
      markFloat(container, key);
      return v.value;
    }
    if (Array.isArray(v)) {
      const arr: JsonValue[] = [];
      v.forEach((item, k) => arr.push(convert(item, arr, k)));
      return arr;
    }
    if (v !== null && typeof v === "object") {
      const obj: { [k: string]: JsonValue } = {};
      for (const [k, item] of Object.entries(v)) obj[k] = convert(item, obj, k);
      return obj;
    }
    return v;
  };
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(params)) out[k] = convert(v, out, k);
  return out;
}

function hasTag(cell: Cell, tag: string): boolean {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) && tags.includes(tag);
}

/**
 * Inject `params` the way papermill does, into a copy of `nb`:
 *
 * - the new code cell (tag `injected-parameters`, id `injected-parameters`,
 *   no outputs, execution_count null, source from codifyParameters) replaces
 *   the first existing `injected-parameters` cell in place; else it goes right
 *   after the first cell tagged `parameters`; else at the top;
 * - other cells tagged `injected-parameters` are removed (papermill leaves
 *   them; two would share our fixed id), and another cell that happened to
 *   use the id `injected-parameters` gets a generated id;
 * - `metadata.papermill.parameters` records the values (other papermill
 *   metadata is kept). Non-finite floats are recorded as NaN/Infinity, as
 *   Python's json (and so papermill) writes them.
 *
 * Empty `params`: the notebook is returned unchanged and injectedIndex is
 * undefined (papermill does not parameterize then either).
 */
export function injectParameters(nb: Notebook, params: Record<string, ParameterValue>): { notebook: Notebook; injectedIndex: number | undefined } {
  const names = Object.keys(params);
  if (names.length === 0) return { notebook: nb, injectedIndex: undefined };
  for (const name of names) {
    if (!isPythonIdentifier(name)) throw new InputError(`parameter ${JSON.stringify(name)} is not a valid Python variable name`);
  }
  const injected: CodeCell = {
    id: INJECTED_CELL_ID,
    cell_type: "code",
    metadata: { tags: [INJECTED_TAG] },
    execution_count: null,
    outputs: [],
    source: toMultiline(codifyParameters(params)),
  };
  const placed = placeInjectedCell(nb, injected);
  const existing = nb.metadata.papermill;
  const papermill = existing !== null && typeof existing === "object" && !Array.isArray(existing) ? { ...(existing as object) } : {};
  const notebook: Notebook = { ...placed, metadata: { ...placed.metadata, papermill: { ...papermill, parameters: parametersAsJson(params) } } };
  return { notebook, injectedIndex: notebook.cells.findIndex((c) => c.id === INJECTED_CELL_ID) };
}

/**
 * A copy of `nb` with `injected` (a cell with id and tag
 * `injected-parameters`) where papermill puts it: in place of the first
 * injected cell, else after the `parameters` cell, else at the top; other
 * injected cells removed, an id clash resolved. Replay uses it to put back
 * the exact cell a recorded run had.
 */
export function placeInjectedCell(nb: Notebook, injected: CodeCell): Notebook {
  const previous = nb.cells.findIndex((c) => hasTag(c, INJECTED_TAG));
  const paramsCell = nb.cells.findIndex((c) => hasTag(c, PARAMETERS_TAG));
  let cells: Cell[];
  if (previous >= 0) cells = [...nb.cells.slice(0, previous), injected, ...nb.cells.slice(previous + 1)];
  else if (paramsCell >= 0) cells = [...nb.cells.slice(0, paramsCell + 1), injected, ...nb.cells.slice(paramsCell + 1)];
  else cells = [injected, ...nb.cells];
  cells = cells.filter((c) => c === injected || !hasTag(c, INJECTED_TAG));
  const clash = cells.some((c) => c !== injected && c.id === INJECTED_CELL_ID);
  if (clash) cells = cells.map((c) => (c !== injected && c.id === INJECTED_CELL_ID ? { ...c, id: "" } : c));
  const notebook: Notebook = { ...nb, cells };
  return clash ? ensureCellIds(notebook) : notebook;
}

/** The cell a run injected its parameters into, if any. */
export function injectedCellOf(nb: Notebook): CodeCell | undefined {
  return nb.cells.find((c): c is CodeCell => c.cell_type === "code" && hasTag(c, INJECTED_TAG));
}
