/**
 * JSON as nbformat (that is, Python's `json` module) reads and writes it.
 *
 * Reading: a strict JSON parser that reports errors with line:column, accepts
 * what Python's `json.loads` accepts beyond the standard (`NaN`, `Infinity`,
 * `-Infinity`) and marks numbers written with a fraction or exponent whose
 * value is integral (`2.0`) so they are written back as floats.
 *
 * Writing: `json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False,
 * separators=(",", ": "))`: keys sorted by code point, floats in Python's
 * repr, integers as integers, `NaN`/`Infinity` like Python.
 *
 * Known limit: integers beyond 2^53 lose precision (JavaScript numbers).
 */
import { isMarkedFloat, markFloat, PyFloat, pythonFloatRepr, pythonIntRepr } from "./python-float.js";

export class JsonSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line} column ${column}`);
    this.name = "JsonSyntaxError";
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const PLAIN_CHARS = /[^"\\\u0000-\u001f]*/y;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

export function parseJson(text: string): unknown {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // tolerate a UTF-8 byte order mark

  const fail = (reason: string, at = i): never => {
    let line = 1;
    let lineStart = 0;
    for (let k = text.indexOf("\n"); k !== -1 && k < at; k = text.indexOf("\n", k + 1)) {
      line++;
      lineStart = k + 1;
    }
    throw new JsonSyntaxError(reason, line, at - lineStart + 1);
  };
  const describe = (at: number): string => (at >= text.length ? "end of file" : `character ${JSON.stringify(text[at])}`);
  const skipWs = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const expect = (ch: string, what: string) => {
    skipWs();
    if (text[i] !== ch) fail(`expected ${what} but found ${describe(i)}`);
    i++;
  };

  const parseString = (): string => {
    // text[i] === '"'
    const start = i;
    i++;
    let out = "";
    for (;;) {
      PLAIN_CHARS.lastIndex = i;
      PLAIN_CHARS.exec(text);
      out += text.slice(i, PLAIN_CHARS.lastIndex);
      i = PLAIN_CHARS.lastIndex;
      if (i >= text.length) fail("unterminated string", start);
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("invalid \\u escape in string");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && e in ESCAPES) {
          out += ESCAPES[e];
          i += 2;
        } else {
          fail(`invalid escape ${JSON.stringify("\\" + (e ?? ""))} in string`);
        }
        continue;
      }
      fail(`control character U+${c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()} must be escaped in a string`);
    }
  };

  // Returns the value; `isFloat` tells the caller to mark an integral float.
  let lastWasIntegralFloat = false;
  const parseValue = (): unknown => {
    skipWs();
    lastWasIntegralFloat = false;
    const c = text[i];
    if (c === "{") return parseObject();
    if (c === "[") return parseArray();
    if (c === '"') return parseString();
    if (c === "t" && text.startsWith("true", i)) return (i += 4), true;
    if (c === "f" && text.startsWith("false", i)) return (i += 5), false;
    if (c === "n" && text.startsWith("null", i)) return (i += 4), null;
    if (c === "N" && text.startsWith("NaN", i)) return (i += 3), NaN;
    if (c === "I" && text.startsWith("Infinity", i)) return (i += 8), Infinity;
    if (c === "-" && text.startsWith("-Infinity", i)) return (i += 9), -Infinity;
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) return fail(`invalid number`);
      i = NUMBER.lastIndex;
      const value = Number(m[0]);
      lastWasIntegralFloat = (m[1] !== undefined || m[2] !== undefined) && Number.isInteger(value);
      return value;
    }
    return fail(`expected a value but found ${describe(i)}`);
  };

  const parseObject = (): Record<string, unknown> => {
    const obj: Record<string, unknown> = {};
    i++;
    skipWs();
    if (text[i] === "}") return i++, obj;
    for (;;) {
      skipWs();
      if (text[i] !== '"') fail(`expected a property name in double quotes but found ${describe(i)}`);
      const key = parseString();
      expect(":", "':'");
      const value = parseValue();
      if (lastWasIntegralFloat) markFloat(obj, key);
      if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
      else obj[key] = value;
      skipWs();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") return i++, obj;
      return fail(`expected ',' or '}' after a property value but found ${describe(i)}`);
    }
  };

  const parseArray = (): unknown[] => {
    const arr: unknown[] = [];
    i++;
    skipWs();
    if (text[i] === "]") return i++, arr;
    for (;;) {
      const value = parseValue();
      if (lastWasIntegralFloat) markFloat(arr, arr.length);
      arr.push(value);
      skipWs();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") return i++, arr;
      return fail(`expected ',' or ']' after a list item but found ${describe(i)}`);
    }
  };

  if (text.trim() === "") fail("the file is empty", text.length);
  const value = parseValue();
  skipWs();
  if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
  return value;
}

function compareCodePoints(a: string, b: string): number {
  // UTF-16 order equals code point order unless a surrogate pair meets U+E000..U+FFFF.
  if (!/[\ud800-\udfff]/.test(a) && !/[\ud800-\udfff]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const ca = Array.from(a, (ch) => ch.codePointAt(0) as number);
  const cb = Array.from(b, (ch) => ch.codePointAt(0) as number);
  for (let k = 0; k < Math.min(ca.length, cb.length); k++) {
    if (ca[k] !== cb[k]) return (ca[k] as number) - (cb[k] as number);
  }
  return ca.length - cb.length;
}

function numberToJson(n: number, asFloat: boolean): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return Number.isInteger(n) && !asFloat ? pythonIntRepr(n) : pythonFloatRepr(n);
}

/** `json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)`, without a trailing newline. */
export function stringifyJsonLikePython(value: unknown): string {
  const out: string[] = [];
  const write = (v: unknown, indent: string, asFloat: boolean, path: string): void => {
    if (v === null) out.push("null");
    else if (typeof v === "string") out.push(JSON.stringify(v));
    else if (typeof v === "boolean") out.push(v ? "true" : "false");
    else if (typeof v === "number") out.push(numberToJson(v, asFloat));
    else if (v instanceof PyFloat) out.push(numberToJson(v.value, true));
    else if (Array.isArray(v)) {
      if (v.length === 0) return void out.push("[]");
      const inner = indent + " ";
      out.push("[");
      v.forEach((item, k) => {
        out.push(k === 0 ? "\n" : ",\n", inner);
        write(item === undefined ? null : item, inner, isMarkedFloat(v, k), `${path}[${k}]`);
      });
      out.push("\n", indent, "]");
    } else if (typeof v === "object") {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(compareCodePoints);
      if (keys.length === 0) return void out.push("{}");
      const inner = indent + " ";
      out.push("{");
      keys.forEach((k, n) => {
        out.push(n === 0 ? "\n" : ",\n", inner, JSON.stringify(k), ": ");
        write(obj[k], inner, isMarkedFloat(obj, k), `${path}.${k}`);
      });
      out.push("\n", indent, "}");
    } else {
      throw new TypeError(`cannot write ${typeof v} as JSON at ${path || "the top level"}`);
    }
  };
  write(value, "", false, "");
  return out.join("");
}
