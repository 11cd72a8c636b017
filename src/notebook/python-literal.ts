/**
 * Python source for parameter values, exactly as papermill's
 * `PythonTranslator.translate` writes it (without black, which papermill
 * only applies when it happens to be installed):
 *
 * - str: `"` + `s.encode('unicode_escape').decode()` with `"` escaped + `"`
 *   (so non-ASCII becomes `\xe9`, `\u20ac`, `\U0001f600`);
 * - None, True, False; int as `str(int)`; float as `repr(float)`, with
 *   `float('inf')`, `float('-inf')`, `float('nan')`;
 * - list `[a, b]`, dict `{"k": v}` (keys rendered as strings).
 */
import { PyFloat, pythonFloatRepr, pythonIntRepr } from "./python-float.js";

export type ParameterValue = string | number | boolean | null | PyFloat | ParameterValue[] | { [k: string]: ParameterValue };

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** Python's `unicode_escape` codec, decoded back to text. */
export function unicodeEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === "\\") out += "\\\\";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c < 0x100) out += "\\x" + hex(c, 2);
    else if (c < 0x10000) out += "\\u" + hex(c, 4);
    else out += "\\U" + hex(c, 8);
  }
  return out;
}

export function pythonString(s: string): string {
  return `"${unicodeEscape(s).replace(/"/g, '\\"')}"`;
}

function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return "float('nan')";
  if (x === Infinity) return "float('inf')";
  if (x === -Infinity) return "float('-inf')";
  return pythonFloatRepr(x);
}

export function pythonLiteral(value: ParameterValue): string {
  if (value === null) return "None";
  if (typeof value === "string") return pythonString(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isInteger(value) ? pythonIntRepr(value) : pythonFloat(value);
  if (value instanceof PyFloat) return pythonFloat(value.value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(", ")}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${pythonString(k)}: ${pythonLiteral(v)}`)
    .join(", ")}}`;
}

/** papermill's `PythonTranslator.codify(parameters)`: `# Parameters` then one `name = literal` line each. */
export function codifyParameters(params: Record<string, ParameterValue>, comment = "Parameters"): string {
  let content = `# ${comment}`.trim() + "\n";
  for (const [name, value] of Object.entries(params)) content += `${name} = ${pythonLiteral(value)}\n`;
  return content;
}

const PYTHON_KEYWORDS = new Set([
  "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
  "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
  "pass", "raise", "return", "try", "while", "with", "yield",
]);

/** A name Python accepts on the left of `=`: an identifier (Unicode XID rules) that is not a keyword. Soft keywords (`match`, `type`, `_`) are fine. */
export function isPythonIdentifier(name: string): boolean {
  return /^[\p{XID_Start}_][\p{XID_Continue}]*$/u.test(name) && !PYTHON_KEYWORDS.has(name);
}
