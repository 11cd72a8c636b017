/**
 * Writing a tar stream of regular files, each read from disk in pieces and
 * hashed on the way (the pack's digest list comes from the bytes actually
 * written, not from a second read).
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { endOfArchive, fileHeader, padding } from "./tar-header.js";
import type { ByteSink } from "./parallel-gzip.js";

/** Read size when copying a file into the archive. */
const READ_BYTES = 1 << 20;

export interface WrittenEntry {
  path: string;
  size: number;
  sha256: string;
}

export class TarWriter {
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);

  constructor(private readonly sink: ByteSink) {}

  async addBuffer(path: string, data: Buffer, mtimeSeconds = Date.now() / 1000): Promise<WrittenEntry> {
    await this.sink.write(fileHeader(path, data.length, mtimeSeconds));
    await this.sink.write(data);
    await this.pad(data.length);
    return { path, size: data.length, sha256: createHash("sha256").update(data).digest("hex") };
  }

  /**
   * Copy the file at `fsPath` in as `path`. The size goes in the header
   * first, so a file that grows or shrinks while it is read is an error
   * rather than a corrupt archive.
   */
  async addFile(path: string, fsPath: string): Promise<WrittenEntry> {
    const handle = await open(fsPath, "r");
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new Error(`${fsPath} is not a regular file`);
      const size = stats.size;
      await this.sink.write(fileHeader(path, size, stats.mtimeMs / 1000));
      const hash = createHash("sha256");
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(this.buffer, 0, Math.min(READ_BYTES, size - done), done);
        if (bytesRead === 0) throw new Error(`${fsPath} shrank while it was being packed (${done} of ${size} bytes)`);
        const piece = this.buffer.subarray(0, bytesRead);
        hash.update(piece);
        await this.sink.write(piece);
        done += bytesRead;
      }
      const { bytesRead: extra } = await handle.read(this.buffer, 0, 1, size);
      if (extra > 0) throw new Error(`${fsPath} grew while it was being packed`);
      await this.pad(size);
      return { path, size, sha256: hash.digest("hex") };
    } finally {
      await handle.close();
    }
  }

  async finish(): Promise<void> {
    await this.sink.write(endOfArchive());
  }

  private async pad(size: number): Promise<void> {
    const n = padding(size);
    if (n > 0) await this.sink.write(Buffer.alloc(n));
  }
}
