/**
 * Output differences as a person reads them: which cell, which output, and
 * the lines that differ, expected (-) against got (+), with the common lines
 * around them left out. Long or binary values (base64 images) are shortened.
 */
import { cellName } from "../notebook/cell-label.js";
import type { OutputDifference } from "../notebook/compare-outputs.js";

const MAX_LINES = 12;
const MAX_LINE_CHARS = 200;

export function formatDifference(d: OutputDifference): string[] {
  // By the number every other message uses (notebook/cell-label.ts), then the id.
  const cell = `${cellName(d.cell_index)} [${d.cell_id}]`;
  const where = d.output_index === null ? cell : `${cell}, output ${d.output_index}, ${d.what}`;
  return [`${where}:`, ...lineDiff(d.expected, d.got).map((l) => `  ${l}`)];
}

/** The differing middle of two texts, line by line: the common head and tail are skipped. */
export function lineDiff(expected: string, got: string): string[] {
  if (looksBinary(expected) || looksBinary(got)) return [`- ${shorten(expected)}`, `+ ${shorten(got)}`];
  const a = expected.split("\n");
  const b = got.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const out: string[] = [];
  if (head > 0) out.push(`  (${head} identical line${head === 1 ? "" : "s"})`);
  out.push(...clip(a.slice(head, a.length - tail), "-"));
  out.push(...clip(b.slice(head, b.length - tail), "+"));
  if (tail > 0) out.push(`  (${tail} identical line${tail === 1 ? "" : "s"})`);
  return out;
}

function clip(lines: string[], sign: string): string[] {
  const shown = lines.slice(0, MAX_LINES).map((l) => `${sign} ${l.length > MAX_LINE_CHARS ? l.slice(0, MAX_LINE_CHARS) + "…" : l}`);
  if (lines.length > MAX_LINES) shown.push(`${sign} … ${lines.length - MAX_LINES} more line(s)`);
  return shown;
}

function looksBinary(s: string): boolean {
  return s.length > 400 && /^[A-Za-z0-9+/=\s]+$/.test(s);
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 60)}… (${s.length} characters)` : s;
}
