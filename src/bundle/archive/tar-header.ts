/**
 * The tar header (POSIX ustar, with pax extended headers for what ustar
 * cannot say: long or non-ASCII paths, sizes of 8 GiB and more). Only what a
 * packed bundle needs: regular files. The reader also decodes the other entry
 * types so that unpack can name and refuse them.
 *
 * Our own small codec rather than a dependency: the reader is the security
 * boundary of unpack (entries escaping the target, links, duplicates), and a
 * few hundred lines we control are easier to make strict than a general
 * archiver's options.
 */

export const BLOCK = 512;

/** Largest size the 11 octal digits of a ustar header hold: 8 GiB - 1. */
const MAX_OCTAL_SIZE = 0o77777777777;

export type EntryType = "file" | "directory" | "symlink" | "hardlink" | "device" | "fifo" | "pax" | "pax-global" | "gnu-longname" | "gnu-longlink" | "other";

export interface DecodedHeader {
  /** ustar prefix + name, not yet overridden by a pax or GNU long name. */
  path: string;
  size: number;
  type: EntryType;
  /** The raw type flag, for messages about unknown types. */
  flag: string;
}

// ── encoding ───────────────────────────────────────────────────────────────

/**
 * The header block(s) of a regular file: a pax header first when the path or
 * size does not fit ustar, then the ustar header.
 */
export function fileHeader(path: string, size: number, mtimeSeconds: number): Buffer {
  const pax: Record<string, string> = {};
  const split = splitUstarPath(path);
  if (!split) pax.path = path;
  if (size > MAX_OCTAL_SIZE) pax.size = String(size);
  const ustar = ustarHeader(split ?? { prefix: "", name: asciiFallback(path) }, size > MAX_OCTAL_SIZE ? 0 : size, mtimeSeconds, "0");
  if (Object.keys(pax).length === 0) return ustar;
  const body = paxBody(pax);
  const paxHead = ustarHeader({ prefix: "", name: "PaxHeader" }, body.length, mtimeSeconds, "x");
  return Buffer.concat([paxHead, body, Buffer.alloc(padding(body.length)), ustar]);
}

/** Two zero blocks end an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** Zero bytes that bring `size` up to a whole block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a '/'; undefined when the path needs pax. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (!/^[\x20-\x7e]*$/.test(path)) return undefined; // non-ASCII: pax says UTF-8 unambiguously
  if (path.length <= 100) return { prefix: "", name: path };
  for (let cut = path.indexOf("/"); cut >= 0; cut = path.indexOf("/", cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
  }
  return undefined;
}

/** What a reader that ignores pax sees as the name: printable ASCII, at most 100 bytes. */
function asciiFallback(path: string): string {
  return path.replace(/[^\x20-\x7e]/g, "_").slice(-100);
}

function ustarHeader(where: { prefix: string; name: string }, size: number, mtimeSeconds: number, flag: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(where.name, 0, 100, "utf8");
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, Math.max(0, Math.floor(mtimeSeconds)));
  h.write(flag, 156, 1, "ascii");
  h.write("ustar\u000000", 257, 8, "ascii");
  h.write(where.prefix, 345, 155, "utf8");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, 8, "ascii");
  return h;
}

function writeOctal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(value.toString(8).padStart(length - 1, "0") + "\u0000", offset, length, "ascii");
}

/** pax records: "LEN key=value\n", where LEN counts the whole record, its own digits included. */
function paxBody(fields: Record<string, string>): Buffer {
  const records = Object.entries(fields).map(([key, value]) => {
    const rest = ` ${key}=${value}\n`;
    const restBytes = Buffer.byteLength(rest);
    let len = restBytes + 1;
    while (String(len).length + restBytes !== len) len = String(len).length + restBytes;
    return `${len}${rest}`;
  });
  return Buffer.from(records.join(""), "utf8");
}

// ── decoding ───────────────────────────────────────────────────────────────

export class TarFormatError extends Error {}

export function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

export function decodeHeader(block: Buffer): DecodedHeader {
  const magic = block.toString("latin1", 257, 262);
  if (magic !== "ustar") throw new TarFormatError("not a tar header (no 'ustar' magic): not a packed bundle, or a corrupt one");
  const stored = parseNumber(block, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw new TarFormatError("tar header checksum mismatch: the file is corrupt");
  const name = cString(block, 0, 100);
  const prefix = cString(block, 345, 155);
  const flag = String.fromCharCode(block[156]!);
  return { path: prefix ? `${prefix}/${name}` : name, size: parseNumber(block, 124, 12, "size"), type: entryType(flag), flag };
}

function entryType(flag: string): EntryType {
  switch (flag) {
    case "0":
    case "\u0000":
    case "7":
      return "file";
    case "5":
      return "directory";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
    case "4":
      return "device";
    case "6":
      return "fifo";
    case "x":
      return "pax";
    case "g":
      return "pax-global";
    case "L":
      return "gnu-longname";
    case "K":
      return "gnu-longlink";
    default:
      return "other";
  }
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString("utf8");
}

/** Octal digits (NUL/space padded), or GNU's base-256 for large values. */
function parseNumber(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`tar header ${what} is too large`);
    return value;
  }
  const text = field.toString("latin1").split("\u0000")[0]!.trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`tar header ${what} is not an octal number: the file is corrupt`);
  return parseInt(text, 8);
}

/** The `path` and `size` of a pax header body; other keys (times, owners) are ignored. */
export function parsePax(body: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(body.toString("latin1", pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) throw new TarFormatError("malformed pax header record");
    const record = body.toString("utf8", space + 1, pos + len - 1);
    const eq = record.indexOf("=");
    if (eq < 0) throw new TarFormatError("malformed pax header record (no '=')");
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === "path") out.path = value;
    else if (key === "size") {
      if (!/^[0-9]+$/.test(value)) throw new TarFormatError(`pax size ${JSON.stringify(value)} is not a number`);
      out.size = Number(value);
    }
    pos += len;
  }
  return out;
}
