/**
 * JSON paths as users read them: `cells[3].outputs[0].data["image/png"]`,
 * not JSON pointers (`/cells/3/outputs/0/data/image~1png`).
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export type PathSegment = string | number;

export function formatJsonPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Segments of an RFC 6901 pointer into `root`; a segment is an index where `root` has an array. */
export function pointerSegments(pointer: string, root: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let v = root;
  for (const raw of pointer.slice(1).split("/")) {
    const s = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const seg: PathSegment = Array.isArray(v) && /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s;
    out.push(seg);
    v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[seg] : undefined;
  }
  return out;
}

export function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let v = root;
  for (const s of segments) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}
