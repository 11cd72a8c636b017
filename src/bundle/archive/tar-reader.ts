/**
 * Reading a tar stream entry by entry without holding more than one chunk of
 * it: each entry's body is an async iterable of the chunks as they come out
 * of the decompressor. pax and GNU long-name headers are folded into the
 * entry they describe; every other type is reported as is, so the caller
 * decides what to refuse (links, devices) and can name the entry.
 */
import { BLOCK, decodeHeader, isZeroBlock, padding, parsePax, TarFormatError, type EntryType } from "./tar-header.js";

export { TarFormatError } from "./tar-header.js";

export interface TarEntry {
  path: string;
  size: number;
  type: EntryType;
  /** The raw type flag (for messages about unknown types). */
  flag: string;
  /** The entry's bytes, in pieces; read it before asking for the next entry (or it is skipped). */
  body: AsyncIterable<Buffer>;
}

/** The stream ended inside an entry or before the end-of-archive blocks. */
export class TarTruncatedError extends TarFormatError {}

/** Pax and GNU long-name bodies are metadata held in memory: refuse absurd ones. */
const MAX_METADATA_BYTES = 1 << 20;

export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const bytes = new ByteSource(source[Symbol.asyncIterator]());
  let override: { path?: string; size?: number } = {};
  let previous = "(start of archive)";
  for (;;) {
    const block = await bytes.exactly(BLOCK, () => `the stream ends after ${previous}, without the end-of-archive marker`);
    if (isZeroBlock(block)) {
      const second = await bytes.exactly(BLOCK, () => `the stream ends inside the end-of-archive marker`);
      if (!isZeroBlock(second)) throw new TarFormatError(`a zero block followed by data after ${previous}: the archive is corrupt`);
      // Whatever follows (tar pads to a record size) must be zeros too, or it is hidden content.
      for await (const rest of bytes.rest()) if (!isZeroBlock(rest)) throw new TarFormatError(`data after the end-of-archive marker (after ${previous})`);
      return;
    }
    let header;
    try {
      header = decodeHeader(block);
    } catch (err) {
      throw new TarFormatError(`after ${previous}: ${(err as Error).message}`);
    }
    if (header.type === "pax" || header.type === "gnu-longname" || header.type === "pax-global") {
      if (header.size > MAX_METADATA_BYTES) throw new TarFormatError(`a ${header.type} header of ${header.size} bytes after ${previous}: too large`);
      const body = await bytes.exactly(header.size + padding(header.size), () => `the stream ends inside a ${header.type} header after ${previous}`);
      const content = body.subarray(0, header.size);
      if (header.type === "pax") override = { ...override, ...parsePax(content) };
      else if (header.type === "gnu-longname") override = { ...override, path: content.toString("utf8").split("\u0000")[0]! };
      else throw new TarFormatError(`a global pax header after ${previous}: not something a packed bundle contains`);
      continue;
    }
    const path = override.path ?? header.path;
    const size = override.size ?? header.size;
    override = {};
    previous = `entry ${JSON.stringify(path)}`;
    const entryName = previous;
    // Links, directories and devices carry no body we want, whatever their size field says.
    const bodySize = header.type === "file" || header.type === "other" ? size : 0;
    let consumed = false;
    const body = (async function* () {
      consumed = true;
      yield* bytes.take(bodySize, (got) => `the stream ends inside ${entryName}: ${got} of its ${bodySize} bytes`);
      await bytes.skip(padding(bodySize), () => `the stream ends inside ${entryName}'s padding`);
    })();
    yield { path, size, type: header.type, flag: header.flag, body };
    if (!consumed) for await (const _ of body) void _;
  }
}

/** Pull-based reads of exact byte counts from an async iterator of chunks. */
class ByteSource {
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(private readonly iter: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iter.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Exactly n bytes, or TarTruncatedError with `why()`. */
  async exactly(n: number, why: () => string): Promise<Buffer> {
    while (this.pending.length < n) if (!(await this.fill())) throw new TarTruncatedError(`truncated: ${why()}`);
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** n bytes as they arrive, in pieces, without gathering them. */
  async *take(n: number, why: (got: number) => string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) throw new TarTruncatedError(`truncated: ${why(n - left)}`);
      const piece = this.pending.subarray(0, Math.min(left, this.pending.length));
      this.pending = this.pending.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  async skip(n: number, why: () => string): Promise<void> {
    for await (const _ of this.take(n, why)) void _;
  }

  /** Whatever is left, in the pieces it arrives in. */
  async *rest(): AsyncGenerator<Buffer> {
    while (this.pending.length > 0 || (await this.fill())) {
      const piece = this.pending;
      this.pending = Buffer.alloc(0);
      yield piece;
    }
  }
}
