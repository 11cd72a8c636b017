/**
 * What `cache ls` prints: the table for people, the JSON for scripts, and a
 * way to write a long listing without building it as one string.
 */
import { formatBytes } from "../planner/plan.js";
import type { InventoryItem } from "../store/cache-inventory.js";

/**
 * Write a long listing a few hundred items at a time, not as one string: the
 * first lines reach a pager at once and memory stays at one piece. (stdout is
 * synchronous for files and pipes on Linux, so the pieces need no draining.)
 */
export function writeInPieces<T>(stream: NodeJS.WritableStream, head: string, items: readonly T[], text: (item: T) => string, separator: string, tail: string): void {
  const PIECE = 500;
  stream.write(head);
  for (let start = 0; start < items.length; start += PIECE) {
    const piece = items.slice(start, start + PIECE).map(text).join(separator);
    stream.write(start === 0 ? piece : separator + piece);
  }
  stream.write(tail);
}

export function itemJson(i: InventoryItem) {
  return {
    key: i.entry.key,
    function: i.entry.function,
    engine: i.entry.engine,
    size: i.entry.size,
    created_at: i.entry.created_at,
    last_used: i.lastUsed ?? null,
    hits: i.hits,
    pinned: i.entry.pin ?? null,
    needed_by: i.neededBy,
    producer: i.entry.producer,
  };
}

/**
 * itemJson(i) as JSON text, built from pieces: 100,000 JSON.stringify calls
 * on nested objects were most of a long listing's time. The text is the same
 * (test/unit/cli/cache-listing.test.ts); a bundle's part is serialised once
 * per bundle, not once per entry.
 */
export function itemJsonText(i: InventoryItem): string {
  const e = i.entry;
  const needed = i.neededBy.length === 0 ? "[]" : `[${i.neededBy.map(whoText).join(",")}]`;
  return `{"key":${JSON.stringify(e.key)},"function":${JSON.stringify(e.function)},"engine":${JSON.stringify(e.engine)},"size":${JSON.stringify(e.size)},"created_at":${JSON.stringify(e.created_at)},"last_used":${JSON.stringify(i.lastUsed ?? null)},"hits":${i.hits},"pinned":${JSON.stringify(e.pin ?? null)},"needed_by":${needed},"producer":${JSON.stringify(e.producer)}}`;
}

const whoTexts = new WeakMap<object, string>();
function whoText(who: { bundle: string; notebook: string }): string {
  let text = whoTexts.get(who);
  if (text === undefined) whoTexts.set(who, (text = JSON.stringify(who)));
  return text;
}

export function lsTable(items: InventoryItem[]): string[] {
  const day = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");
  const rows = items.map((i) => [
    i.entry.function.replace(/^__main__\./, ""),
    i.entry.key.slice(0, 12),
    formatBytes(i.entry.size),
    day(i.entry.created_at),
    day(i.lastUsed),
    String(i.hits),
    i.entry.pin ? `${i.entry.pin.version}${i.entry.pin.keep ? " keep" : ""}` : "-",
    i.neededBy.map((n) => n.notebook).join(", ") || "-",
  ]);
  const header = ["FUNCTION", "KEY", "SIZE", "CREATED", "LAST USED", "HITS", "PINNED", "NEEDED BY"];
  const widths = header.map((h, c) => Math.min(40, Math.max(h.length, ...rows.slice(0, 2000).map((r) => r[c]!.length))));
  const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join("  ");
  return [line(header), ...rows.map(line), `${items.length} entr${items.length === 1 ? "y" : "ies"}`];
}
