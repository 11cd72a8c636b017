import { describe, expect, it } from "vitest";
import { JsonSyntaxError, parseJson, stringifyJsonLikePython } from "../../../src/notebook/json.js";
import { PyFloat, pythonFloatRepr } from "../../../src/notebook/python-float.js";

describe("pythonFloatRepr (CPython's repr(float))", () => {
  it.each([
    [1, "1.0"], [0, "0.0"], [-0, "-0.0"], [0.1, "0.1"], [-2.5, "-2.5"], [1e16, "1e+16"], [1e15, "1000000000000000.0"],
    [123456789012345680, "1.2345678901234568e+17"], [0.0001, "0.0001"], [0.00001, "1e-05"], [1.5e-7, "1.5e-07"],
    [1e100, "1e+100"], [1.7976931348623157e308, "1.7976931348623157e+308"], [5e-324, "5e-324"], [0.1 + 0.2, "0.30000000000000004"],
    [Infinity, "inf"], [-Infinity, "-inf"], [NaN, "nan"],
  ])("%s -> %s", (x, repr) => expect(pythonFloatRepr(x)).toBe(repr));
});

describe("parseJson", () => {
  const errorAt = (text: string) => {
    try {
      parseJson(text);
    } catch (err) {
      if (err instanceof JsonSyntaxError) return `${err.line}:${err.column} ${err.reason}`;
      throw err;
    }
    return "no error";
  };

  it("parses what JSON.parse parses, and Python's NaN/Infinity", () => {
    const text = '{"a": [1, -2.5e3, "x\\u00e9\\n", true, false, null], "b": {}, "c": NaN, "d": -Infinity}';
    expect(parseJson(text)).toEqual({ a: [1, -2500, "xé\n", true, false, null], b: {}, c: NaN, d: -Infinity });
  });

  it("reports line:column", () => {
    expect(errorAt('{\n "a": 1,\n "b" 2\n}')).toBe(`3:6 expected ':' but found character "2"`);
    expect(errorAt('{"a": [1, 2}')).toBe(`1:12 expected ',' or ']' after a list item but found character "}"`);
    expect(errorAt('{"a": 1,}')).toBe(`1:9 expected a property name in double quotes but found character "}"`);
    expect(errorAt('{"a": "x')).toBe("1:7 unterminated string");
    expect(errorAt('{"a": "\t"}')).toBe("1:8 control character U+0009 must be escaped in a string");
    expect(errorAt("{} x")).toBe(`1:4 unexpected character "x" after the end of the JSON value`);
    expect(errorAt('{"a": ')).toBe("1:7 expected a value but found end of file");
    expect(errorAt("  ")).toBe("1:3 the file is empty");
    expect(errorAt('{"a": 01}')).toBe(`1:8 expected ',' or '}' after a property value but found character "1"`);
  });

  it("does not let a __proto__ key change the prototype", () => {
    const v = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["__proto__"]);
  });
});

describe("stringifyJsonLikePython (json.dumps(sort_keys=True, indent=1, ensure_ascii=False))", () => {
  it("indents by one, sorts keys, writes empty containers inline", () => {
    expect(stringifyJsonLikePython({ b: [1, { d: [], c: {} }], a: "é\u001b\"" })).toBe('{\n "a": "é\\u001b\\"",\n "b": [\n  1,\n  {\n   "c": {},\n   "d": []\n  }\n ]\n}');
  });

  it("sorts keys by code point, like Python", () => {
    const keys = Object.keys(JSON.parse(stringifyJsonLikePython({ "\u{1F600}": 1, "\uFFFD": 2, a: 3, B: 4 })) as object);
    expect(keys).toEqual(["B", "a", "\uFFFD", "\u{1F600}"]);
  });

  it("keeps floats read as floats, and PyFloat, as floats", () => {
    const v = parseJson('{"f": 2.0, "i": 2, "l": [1.0, 1], "e": 1E2}');
    expect(stringifyJsonLikePython(v)).toBe('{\n "e": 100.0,\n "f": 2.0,\n "i": 2,\n "l": [\n  1.0,\n  1\n ]\n}');
    expect(stringifyJsonLikePython([new PyFloat(3), 3, 1e16, 1e21, NaN, -Infinity])).toBe("[\n 3.0,\n 3,\n 10000000000000000,\n 1000000000000000000000,\n NaN,\n -Infinity\n]");
  });
});
