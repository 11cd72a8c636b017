/**
 * YAML as papermill loads it: PyYAML's SafeLoader (YAML 1.1 implicit types)
 * without timestamps (papermill's NoDatesSafeLoader), built on the `yaml`
 * package with PyYAML's own resolver patterns for null, bool, int and float:
 *
 * - null: `~`, `null`, `Null`, `NULL`, empty; bool: yes/no/true/false/on/off
 *   in lower, Capitalised or UPPER case (not `y`/`n`, which stay strings);
 * - int: decimal with `_`, `0b…`, octal `0…`, `0x…`, sexagesimal `1:30`;
 * - float: needs a dot (`1e3` is a string, `1.0e+3` a float, and the exponent
 *   needs its sign), `.inf`, `.nan`, sexagesimal `1:30.5`;
 * - dates stay strings.
 *
 * Floats with an integral value come back as `PyFloat` so they stay floats.
 * Duplicate keys: the last one wins (as in PyYAML).
 */
import type { ScalarTag, Tags } from "yaml";
import { yamlLib } from "../common/yaml-lib.js";
import { PyFloat } from "./python-float.js";

const T = "tag:yaml.org,2002:";

const nullTag: ScalarTag = { tag: `${T}null`, default: true, test: /^(?:~|null|Null|NULL)?$/, resolve: () => null };
const boolTag: ScalarTag = {
  tag: `${T}bool`,
  default: true,
  test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  resolve: (s) => /^(?:yes|true|on)$/i.test(s),
};

function sexagesimal(body: string): number {
  return body.split(":").reduce((acc, part) => acc * 60 + Number(part), 0);
}

const intTag: ScalarTag = {
  tag: `${T}int`,
  default: true,
  test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  resolve: (raw, onError) => {
    let s = raw.replace(/_/g, "");
    const sign = s[0] === "-" ? -1 : 1;
    if (s[0] === "-" || s[0] === "+") s = s.slice(1);
    let value: number;
    if (s === "0") value = 0;
    else if (s.startsWith("0b")) value = parseInt(s.slice(2), 2);
    else if (s.startsWith("0x")) value = parseInt(s.slice(2), 16);
    else if (s.startsWith("0")) value = parseInt(s, 8);
    else if (s.includes(":")) value = sexagesimal(s);
    else value = Number(s);
    if (!Number.isSafeInteger(value)) onError(`the integer ${raw} is too large to be represented exactly`);
    return sign * value;
  },
};

const floatTag: ScalarTag = {
  tag: `${T}float`,
  default: true,
  test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  resolve: (raw) => {
    let s = raw.replace(/_/g, "").toLowerCase();
    const sign = s[0] === "-" ? -1 : 1;
    if (s[0] === "-" || s[0] === "+") s = s.slice(1);
    let value: number;
    if (s === ".inf") value = Infinity;
    else if (s === ".nan") value = NaN;
    else if (s.includes(":")) value = sexagesimal(s);
    else value = Number(s);
    value *= sign;
    return Number.isInteger(value) ? new PyFloat(value) : value;
  },
};

const SCALARS = new Set([`${T}null`, `${T}bool`, `${T}int`, `${T}float`, `${T}timestamp`]);

function pyyamlTags(tags: Tags): Tags {
  const keep = tags.filter((t) => (typeof t === "string" ? !/^(?:null|bool|int|float|timestamp)/i.test(t) : !SCALARS.has(t.tag)));
  return [...keep, nullTag, boolTag, intTag, floatTag];
}

export class YamlError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
  ) {
    super(line === undefined ? reason : `${reason} at line ${line} column ${column}`);
    this.name = "YamlError";
  }
}

/** Parse one YAML document the way papermill's loader would; throws YamlError. */
export function loadYamlLikePapermill(text: string): unknown {
  const doc = yamlLib().parseDocument(text, { version: "1.1", customTags: pyyamlTags, uniqueKeys: false });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    throw new YamlError((first.message.split("\n")[0] as string).replace(/ at line \d+, column \d+:?$/, ""), pos?.line, pos?.col);
  }
  return doc.toJS({ maxAliasCount: 1000 });
}
