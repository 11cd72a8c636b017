import type { ParameterValue } from "../../../src/notebook/parameters.js";
import { PyFloat } from "../../../src/notebook/python-float.js";

/** Values and the Python source papermill's PythonTranslator writes for them (also checked against papermill itself in python-crosscheck.test.ts). */
export const LITERALS: [string, ParameterValue, string][] = [
  ["plain string", "hello", '"hello"'],
  ["empty string", "", '""'],
  ["double quotes", 'say "hi"', '"say \\"hi\\""'],
  ["single quotes", "it's", '"it\'s"'],
  ["newline and tab", "a\nb\tc\r", '"a\\nb\\tc\\r"'],
  ["backslash", "C:\\temp\\new", '"C:\\\\temp\\\\new"'],
  ["latin-1", "café", '"caf\\xe9"'],
  ["BMP", "€ 中", '"\\u20ac \\u4e2d"'],
  ["astral", "🚀", '"\\U0001f680"'],
  ["control and DEL", "\u0001\u001b\u007f", '"\\x01\\x1b\\x7f"'],
  ["True", true, "True"],
  ["False", false, "False"],
  ["None", null, "None"],
  ["int", 42, "42"],
  ["negative int", -7, "-7"],
  ["zero", 0, "0"],
  ["big int", 9007199254740991, "9007199254740991"],
  ["float", 0.5, "0.5"],
  ["negative float", -2.25, "-2.25"],
  ["integral float", new PyFloat(1), "1.0"],
  ["negative zero", new PyFloat(-0), "-0.0"],
  ["small float", 1e-7, "1e-07"],
  ["large float", new PyFloat(1e16), "1e+16"],
  ["float repr digits", 0.1 + 0.2, "0.30000000000000004"],
  ["inf", Infinity, "float('inf')"],
  ["-inf", -Infinity, "float('-inf')"],
  ["nan", NaN, "float('nan')"],
  ["empty list", [], "[]"],
  ["list", [1, "a", null, true], '[1, "a", None, True]'],
  ["nested list", [[1, [2.5]], []], "[[1, [2.5]], []]"],
  ["empty dict", {}, "{}"],
  ["dict", { a: 1, "b c": [false], 'q"': { n: null } }, '{"a": 1, "b c": [False], "q\\"": {"n": None}}'],
];

