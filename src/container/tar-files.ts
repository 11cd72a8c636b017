/**
 * The regular files of a (small) tar archive, as an engine's archive endpoint
 * returns a folder copied out of a container: ustar headers, with pax and GNU
 * long names. Directories, links and other entries are skipped.
 */
export function tarFiles(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseOctal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = cString(header.subarray(345, 500));
    const name = longName ?? (header.subarray(257, 262).toString("latin1") === "ustar" && prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    const body = archive.subarray(offset + 512, offset + 512 + size);
    if (body.length < size) throw new Error(`truncated tar archive: ${name} needs ${size} bytes, ${body.length} left`);
    longName = undefined;
    if (type === "x") longName = paxPath(body);
    else if (type === "L") longName = cString(body);
    else if (type === "0" || type === "\0") files.set(name.replace(/^\.\//, ""), Buffer.from(body));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}

function parseOctal(bytes: Buffer): number {
  const text = cString(bytes).trim();
  return text ? parseInt(text, 8) : 0;
}

/** pax records are `LEN key=value\n`. */
function paxPath(body: Buffer): string | undefined {
  for (const record of body.toString("utf8").split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(record);
    if (m) return m[1];
  }
  return undefined;
}
