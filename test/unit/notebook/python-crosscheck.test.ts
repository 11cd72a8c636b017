/**
 * Our re-implementations checked against the real thing: papermill 2.7,
 * PyYAML and nbformat 5.11 in the project's managed Python environment.
 * Skipped (with a message) only when that environment is absent; every other
 * notebook test runs without Python.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findManagedEnv } from "../../../src/pyenv/managed-env.js";
import { codifyParameters, injectParameters, parseParameterValue, pythonLiteral, type ParameterValue } from "../../../src/notebook/parameters.js";
import { PyFloat, pythonFloatRepr } from "../../../src/notebook/python-float.js";
import { loadYamlLikePapermill } from "../../../src/notebook/pyyaml.js";
import { readNotebook } from "../../../src/notebook/read.js";
import { toMultiline } from "../../../src/notebook/source.js";
import { serializeNotebook } from "../../../src/notebook/write.js";
import { fixture } from "./helpers.js";
import { LITERALS } from "./literal-table.js";

const env = (() => {
  try {
    return findManagedEnv();
  } catch {
    return undefined;
  }
})();
if (!env) console.warn("python-crosscheck.test.ts: skipped — the managed Python env (nbformat, papermill) is absent; create it with the project's bootstrap to run these comparisons");

/** Run `script` in the managed Python with `input` as JSON on stdin; returns its stdout parsed as JSON. */
function python(script: string, input: unknown): unknown {
  const r = spawnSync(env!.python, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Values with Python's int/float distinction, as JSON both sides can read. */
type Tagged = null | boolean | string | { int: string } | { float: string } | { list: Tagged[] } | { dict: [string, Tagged][] };
function tag(v: ParameterValue): Tagged {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof PyFloat) return { float: pythonFloatRepr(v.value) };
  if (typeof v === "number") return Number.isInteger(v) ? { int: String(v) } : { float: pythonFloatRepr(v) };
  if (Array.isArray(v)) return { list: v.map(tag) };
  return { dict: Object.entries(v).map(([k, x]) => [k, tag(x)]) };
}
const PY_TAGGED = `
import json, sys, math
def untag(v):
    if isinstance(v, dict):
        if 'int' in v: return int(v['int'])
        if 'float' in v: return float(v['float'])
        if 'list' in v: return [untag(x) for x in v['list']]
        return {k: untag(x) for k, x in v['dict']}
    return v
def tag(v):
    if isinstance(v, bool) or v is None or isinstance(v, str): return v
    if isinstance(v, int): return {'int': str(v)}
    if isinstance(v, float): return {'float': repr(v)}
    if isinstance(v, list): return {'list': [tag(x) for x in v]}
    if isinstance(v, dict): return {'dict': [[str(k), tag(x)] for k, x in v.items()]}
    return {'other': repr(v)}
`;

describe.skipIf(!env)("cross-check against papermill, PyYAML and nbformat", () => {
  it("Python literals: ours == papermill's PythonTranslator, value by value and codified", () => {
    const script = `${PY_TAGGED}
from papermill.translators import PythonTranslator
values = json.load(sys.stdin)
params = {f'p{i}': untag(v) for i, v in enumerate(values)}
print(json.dumps({'each': [PythonTranslator.translate(untag(v)) for v in values], 'codify': PythonTranslator.codify(params)}))`;
    const values = LITERALS.map(([, v]) => v);
    const theirs = python(script, values.map(tag)) as { each: string[]; codify: string };
    expect(values.map(pythonLiteral)).toEqual(theirs.each);
    expect(codifyParameters(Object.fromEntries(values.map((v, i) => [`p${i}`, v])))).toBe(theirs.codify);
  });

  it("-p values: ours == papermill's _resolve_type wherever papermill has an opinion", () => {
    // Not compared: true/false/null and [..]/{..}, which papermill leaves as strings and we parse on purpose.
    const raws = ["True", "False", "None", "42", "-7", "+3", " 12 ", "1_000", "007", "0.5", "-2.5", ".5", "5.", "1e-3", "1e3", "1.0", "-0.0",
      "inf", "-Infinity", "nan", "NaN", "+inf", "1_0.5", "hello", "", "1_", "0x10", "1.2.3", " spaced ", "e5", "1e", "--1", "１２"];
    const script = `${PY_TAGGED}
from papermill.cli import _resolve_type
print(json.dumps([tag(_resolve_type(r)) for r in json.load(sys.stdin)]))`;
    const theirs = python(script, raws) as Tagged[];
    const ours = raws.map((r) => tag(parseParameterValue(r)));
    // Python's int() also reads non-ASCII digits ("１２" -> 12); we keep such text as a string (documented).
    const differing = raws.filter((_, i) => JSON.stringify(ours[i]) !== JSON.stringify(theirs[i]));
    expect(differing).toEqual(["１２"]);
  });

  it("YAML: ours == PyYAML with papermill's NoDatesSafeLoader", () => {
    const docs = [
      readFileSync(fixture("params.yaml"), "utf8"),
      "a: 1.0\nb: 1e3\nc: 017\nd: yes\ne: 2001-12-14\nf: 1_000\ng: .inf\nh: 1:30\ni: ~\nj: [1.5, {k: on}]\nl: 0x1f\nm: 1.0e3\nn: y\no: 09\np: 1.0e+3\nq:\nr: '1'\ns: -.INF\nt: 0b101\nu: 1:30.5\nv: Off\nw: 2001-12-14 21:59:43.10 -5\nx: \"quoted\\ttab\"\ny: |\n  block\n  text\nz: [a, 'b', \"c\"]\n",
      "nested: {a: [1, 2, {b: null}], 'q': [.5, -1.5e+2]}\nempty_list: []\nempty_map: {}\n",
    ];
    const script = `${PY_TAGGED}
import yaml
from papermill.iorw import NoDatesSafeLoader
print(json.dumps([tag(yaml.load(d, Loader=NoDatesSafeLoader)) for d in json.load(sys.stdin)]))`;
    const theirs = python(script, docs);
    const ours = docs.map((d) => tag(loadYamlLikePapermill(d) as ParameterValue));
    expect(ours).toEqual(theirs);
  });

  it("float repr: ours == Python's repr for 3000 doubles across the range", () => {
    const xs: number[] = [];
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 3000; k++) xs.push((rand() - 0.5) * 10 ** Math.floor(rand() * 60 - 30));
    xs.push(1e16, 1e15, 9999999999999998, 0.0001, 0.00001, 123456.789e10, 2 ** 53, 5e-324, 1.7976931348623157e308);
    const theirs = python("import json,sys\nprint(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))", xs.map((x) => x.toString()));
    expect(xs.map(pythonFloatRepr)).toEqual(theirs);
  });

  it("splitlines: ours == str.splitlines(True)", () => {
    const texts = ["", "a", "a\n", "a\r\nb\rc\n\n", "x\vy\fz\x1c\x1d\x1e\x85\u2028\u2029end", "\r\r\n\n", "no newline 🚀"];
    const theirs = python("import json,sys\nprint(json.dumps([t.splitlines(True) for t in json.load(sys.stdin)]))", texts);
    expect(texts.map(toMultiline)).toEqual(theirs);
  });

  it("nbformat writes our notebooks byte-for-byte as we do, and finds them valid", async () => {
    const executed = await readNotebook(fixture("executed-4.5.ipynb"));
    const upgraded = await readNotebook(fixture("v4.4-no-ids.ipynb"));
    const injected = injectParameters(upgraded, { alpha: new PyFloat(1), label: 'say "hi"\n', xs: [1, 2.5], inf: Infinity }).notebook;
    injected.metadata["ünïcode 🚀"] = { "\uFFFD": 1, z: [0.1, -0, 1e-7], "0": "digit key" };
    const ours = [executed, upgraded, injected].map(serializeNotebook);
    const script = `
import json, sys, nbformat
out = []
for text in json.load(sys.stdin):
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    s = nbformat.writes(nb)
    out.append(s if s.endswith("\\n") else s + "\\n")
print(json.dumps(out))`;
    const theirs = python(script, ours) as string[];
    expect(ours).toEqual(theirs);
  });
});
