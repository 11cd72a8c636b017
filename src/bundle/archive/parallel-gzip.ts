/**
 * gzip on every core: the stream is cut into chunks, each compressed as its
 * own gzip member in libuv's thread pool, and the members are written in
 * order. Concatenated members are one valid gzip stream (RFC 1952 §2.2), so
 * `gzip -d`, `tar -xzf` and node's gunzip read the result as usual. Memory is
 * bounded by the chunks in flight.
 *
 * Chunks that do not compress (pickled random arrays, already-compressed
 * files) are stored rather than deflated: cheap probes of a few of their
 * bytes at level 1 decide, so we do not spend a core deflating noise. The output
 * is still gzip; it is only a few bytes per chunk larger than deflating them.
 */
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { deflateRaw, gzip, type ZlibOptions } from "node:zlib";

const gzipAsync = promisify(gzip) as (data: Buffer, options: ZlibOptions) => Promise<Buffer>;
const deflateRawAsync = promisify(deflateRaw) as (data: Buffer, options: ZlibOptions) => Promise<Buffer>;

export interface GzipOptions {
  /** zlib level 1..9 (default 6, gzip's and tar -z's default). */
  level?: number;
  /** Uncompressed bytes per member (default 4 MiB). */
  chunkBytes?: number;
  /** Members compressed at once (default: twice the cores, to keep the pool busy while one is written). */
  parallel?: number;
  /** Skip the compressibility probe and deflate everything (for measurements). */
  alwaysDeflate?: boolean;
}

/** Where compressed bytes go, in order. */
export interface ByteSink {
  write(data: Buffer): Promise<void>;
}

const PROBE_BYTES = 16 << 10;
/** A probe that saves less than this fraction means the chunk is stored. */
const PROBE_MIN_SAVING = 0.03;

export class ParallelGzip {
  private readonly level: number;
  private readonly chunkBytes: number;
  private readonly parallel: number;
  private chunk: Buffer;
  private used = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  /** Bytes in and out, for the summary. */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly sink: ByteSink,
    private readonly options: GzipOptions = {},
  ) {
    this.level = options.level ?? 6;
    if (!Number.isInteger(this.level) || this.level < 1 || this.level > 9) throw new RangeError(`gzip level must be 1..9, got ${this.level}`);
    this.chunkBytes = options.chunkBytes ?? 4 << 20;
    this.parallel = Math.max(1, options.parallel ?? availableParallelism() * 2);
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
  }

  /** Copies `data`, so the caller may reuse its buffer once this resolves. */
  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(data.length - offset, this.chunkBytes - this.used);
      this.chunk.set(data.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === this.chunkBytes) await this.dispatch();
    }
    this.bytesIn += data.length;
  }

  /** Compress what is buffered, write every member. */
  async end(): Promise<void> {
    if (this.used > 0 || this.bytesIn === 0) await this.dispatch();
    while (this.inFlight.length > 0) await this.writeOldest();
  }

  private async dispatch(): Promise<void> {
    const data = this.chunk.subarray(0, this.used);
    const member = this.compress(data);
    member.catch(() => {}); // awaited in order by writeOldest; this only keeps node from calling it unhandled meanwhile
    this.inFlight.push(member);
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
    this.used = 0;
    if (this.inFlight.length >= this.parallel) await this.writeOldest();
  }

  private async writeOldest(): Promise<void> {
    const member = await this.inFlight.shift()!;
    this.bytesOut += member.length;
    await this.sink.write(member);
  }

  private async compress(data: Buffer): Promise<Buffer> {
    if (!this.options.alwaysDeflate && data.length > 4 * PROBE_BYTES && !(await compressibleSomewhere(data))) return gzipAsync(data, { level: 0 });
    return gzipAsync(data, { level: this.level });
  }
}

/**
 * A chunk often holds the end of one file and the start of another: probe
 * its start, middle and end, and deflate it if any of them compresses.
 */
async function compressibleSomewhere(data: Buffer): Promise<boolean> {
  const starts = [0, Math.floor(data.length / 2), data.length - PROBE_BYTES];
  for (const start of starts) {
    const probe = data.subarray(start, start + PROBE_BYTES);
    const squeezed = await deflateRawAsync(probe, { level: 1 });
    if (squeezed.length <= probe.length * (1 - PROBE_MIN_SAVING)) return true;
  }
  return false;
}
