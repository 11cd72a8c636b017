/**
 * Cell sources: joining, splitting the way nbformat stores multi-line
 * strings, and the normal form used for identity hashing.
 */
import type { Cell, MultilineString } from "./types.js";

/** A multi-line field as one string (nbformat's `rejoin_lines`). */
export function joinMultiline(value: MultilineString): string {
  return typeof value === "string" ? value : value.join("");
}

/** The cell's source as one string. */
export function cellSource(cell: Cell): string {
  return joinMultiline(cell.source);
}

/**
 * Python's `str.splitlines(keepends=True)`, which nbformat uses to store
 * multi-line strings as lists: lines end at \n, \r\n, \r, \v, \f, \x1c, \x1d,
 * \x1e, \x85, \u2028 and \u2029, each line keeps its terminator, the last line
 * may have none, and "" gives [].
 */
export function toMultiline(text: string): string[] {
  // eslint-disable-next-line no-control-regex -- \x1c-\x1e are line boundaries for Python
  return text.match(/[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]|$)/g)?.filter((l) => l !== "") ?? [];
}

/**
 * The normal form of a code cell's source, for identity hashing: two sources
 * with the same normal form run the same Python code.
 *
 * It ignores:
 * - line ending style: \r\n and a lone \r become \n (Python compiles source
 *   with universal newlines, string literals included);
 * - spaces and tabs at the end of a line, where the line ends outside any
 *   string literal (code or comment) and the whitespace does not follow a
 *   backslash (`x = 1 \ ` is a syntax error that stripping would "fix");
 * - blank lines (empty or whitespace-only, outside strings) at the end, and
 *   the final newline.
 *
 * It does not ignore anything else: indentation, blank lines at the start or
 * in the middle, comments, and every character inside string literals
 * (trailing spaces in a triple-quoted string are data) are kept. The string
 * scanner knows Python's quotes ('...', "...", '''...''', """...""", any
 * prefix; backslash escapes the next character even in raw strings). Python
 * 3.12 f-strings that reuse their own quote inside a replacement field may be
 * misread; the scanner then errs towards keeping whitespace (a spurious
 * "changed", never a wrong "same"), except in the unlikely case that such a
 * misread ends a triple-quoted f-string early.
 *
 * Markdown: trailing double spaces (a hard line break) are ignored too; this
 * normal form is meant for code.
 */
export function normaliseSource(src: string): string {
  const text = src.replace(/\r\n?/g, "\n");
  const lines: string[] = [];
  let lineStart = 0;
  let quote = ""; // "" outside strings; otherwise the closing delimiter: ', ", ''' or """
  let inComment = false;
  let continued = false; // the string's line ended with a backslash
  let i = 0;
  const endLine = (end: number) => {
    let line = text.slice(lineStart, end);
    if (quote === "") {
      const stripped = line.replace(/[ \t]+$/, "");
      if (!stripped.endsWith("\\") || stripped === line) line = stripped;
    }
    lines.push(line);
    lineStart = end + 1;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\n") {
      if (quote.length === 1 && !continued) quote = ""; // unterminated one-line string: a syntax error anyway
      continued = false;
      inComment = false;
      endLine(i);
      i++;
      continue;
    }
    if (inComment) {
      i++;
      continue;
    }
    if (quote !== "") {
      if (c === "\\") {
        continued = text[i + 1] === "\n";
        i += continued ? 1 : 2; // let the newline itself end the line
        continue;
      }
      if (text.startsWith(quote, i)) {
        i += quote.length;
        quote = "";
        continue;
      }
      i++;
      continue;
    }
    if (c === "#") inComment = true;
    else if (c === '"' || c === "'") {
      quote = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += quote.length;
      continue;
    }
    i++;
  }
  const inString = quote !== "";
  endLine(text.length);
  if (!inString) {
    while (lines.length > 0 && /^[ \t\f]*$/.test(lines[lines.length - 1] as string)) lines.pop();
  }
  return lines.join("\n");
}
