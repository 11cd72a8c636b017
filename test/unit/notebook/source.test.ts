import { describe, expect, it } from "vitest";
import { cellSource, normaliseSource, toMultiline } from "../../../src/notebook/source.js";
import { code } from "./helpers.js";

describe("cellSource", () => {
  it("joins lists and passes strings", () => {
    expect(cellSource(code("a", "x = 1\ny = 2"))).toBe("x = 1\ny = 2");
    expect(cellSource({ ...code("a", ""), source: ["x = 1\n", "y = 2"] })).toBe("x = 1\ny = 2");
  });
});

describe("toMultiline (str.splitlines(keepends=True))", () => {
  it.each([
    ["", []],
    ["a", ["a"]],
    ["a\n", ["a\n"]],
    ["a\nb", ["a\n", "b"]],
    ["a\n\nb\n", ["a\n", "\n", "b\n"]],
    ["a\r\nb\rc", ["a\r\n", "b\r", "c"]],
    ["a\vb\fc\x1cd\x1de\x1ef\x85g\u2028h\u2029i", ["a\v", "b\f", "c\x1c", "d\x1d", "e\x1e", "f\x85", "g\u2028", "h\u2029", "i"]],
    ["\n", ["\n"]],
    ["\r\n\r\n", ["\r\n", "\r\n"]],
  ])("%j", (text, lines) => {
    expect(toMultiline(text)).toEqual(lines);
    expect(toMultiline(text).join("")).toBe(text);
  });
});

describe("normaliseSource", () => {
  it.each([
    ["line endings", "a = 1\r\nb = 2\rc = 3", "a = 1\nb = 2\nc = 3"],
    ["trailing spaces and tabs", "a = 1   \nif a:\t\n    b = 2 ", "a = 1\nif a:\n    b = 2"],
    ["trailing blank lines and the final newline", "a = 1\n\n  \n\t\n", "a = 1"],
    ["trailing whitespace after a comment", "a = 1  # note   ", "a = 1  # note"],
  ])("ignores %s", (_what, src, normal) => expect(normaliseSource(src)).toBe(normal));

  it.each([
    ["indentation", "if a:\n    b = 1", "if a:\n  b = 1"],
    ["leading blank lines", "\na = 1", "a = 1"],
    ["blank lines in the middle", "a = 1\n\nb = 2", "a = 1\nb = 2"],
    ["string contents", "s = 'a '", "s = 'a'"],
    ["trailing spaces inside a triple-quoted string", 's = """a   \nb"""', 's = """a\nb"""'],
    ["trailing spaces inside a string continued with a backslash", "s = 'a  \\\n b'", "s = 'a\\\n b'"],
    ["whitespace after a line continuation backslash", "x = 1 + \\  \n 2", "x = 1 + \\\n 2"],
    ["comments", "a = 1  # x", "a = 1"],
  ])("keeps %s", (_what, a, b) => expect(normaliseSource(a)).not.toBe(normaliseSource(b)));

  it("keeps everything inside a triple-quoted string, and strips again after it closes", () => {
    expect(normaliseSource("s = '''x  \n\ny  '''   \nz = 1  \n\n")).toBe("s = '''x  \n\ny  '''\nz = 1");
  });

  it("a quote inside a comment does not open a string", () => {
    expect(normaliseSource("a = 1  # it's  \nb = 2  ")).toBe("a = 1  # it's\nb = 2");
  });

  it("an escaped quote does not close a string; an escaped backslash does not continue a line", () => {
    expect(normaliseSource("s = '''a\\'''  \nb  '''  ")).toBe("s = '''a\\'''  \nb  '''");
    expect(normaliseSource("s = 'a\\\\'  \nb = 1  ")).toBe("s = 'a\\\\'\nb = 1");
  });

  it("a text ending inside an unterminated string keeps its trailing lines", () => {
    expect(normaliseSource('s = """abc  \n\n')).toBe('s = """abc  \n\n');
  });
});
