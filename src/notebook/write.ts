/**
 * Writing notebooks byte-for-byte the way nbformat writes them, atomically.
 */
import { realpath, stat } from "node:fs/promises";
import { writeFileAtomic } from "../common/atomic-file.js";
import { stringifyJsonLikePython } from "./json.js";
import { withFloatMarks } from "./python-float.js";
import { LATEST_MINOR } from "./schema.js";
import { joinMultiline, toMultiline } from "./source.js";
import type { MimeBundle, Notebook } from "./types.js";
import { validateNotebook } from "./validate.js";

/**
 * The file content nbformat would write for `nb`: `split_lines` (cell
 * sources, stream text, and text/*, image/svg+xml and application/javascript
 * data stored as lists of lines, other list-valued non-JSON mime data joined),
 * `strip_transient`, then `json.dumps(sort_keys=True, indent=1,
 * ensure_ascii=False)` and a final newline. Does not modify `nb`.
 */
export function serializeNotebook(nb: Notebook): string {
  const metadata = withFloatMarks(nb.metadata, { ...nb.metadata });
  delete metadata.orig_nbformat;
  delete metadata.orig_nbformat_minor;
  delete metadata.signature;
  const cells = nb.cells.map((cell) => {
    const cellMetadata = withFloatMarks(cell.metadata, { ...cell.metadata });
    delete cellMetadata.trusted;
    const out: Record<string, unknown> = withFloatMarks(cell, { ...cell, metadata: cellMetadata, source: toMultiline(joinMultiline(cell.source)) });
    if ((cell.cell_type === "markdown" || cell.cell_type === "raw") && cell.attachments) {
      out.attachments = Object.fromEntries(Object.entries(cell.attachments).map(([k, bundle]) => [k, splitMimeBundle(bundle)]));
    }
    if (cell.cell_type === "code") {
      out.outputs = cell.outputs.map((o) => {
        if (o.output_type === "stream") return withFloatMarks(o, { ...o, text: toMultiline(joinMultiline(o.text)) });
        if (o.output_type === "execute_result" || o.output_type === "display_data") return withFloatMarks(o, { ...o, data: splitMimeBundle(o.data) });
        return o;
      });
    }
    return out;
  });
  const text = stringifyJsonLikePython(withFloatMarks(nb, { ...nb, metadata, cells }));
  return text + "\n";
}

function isJsonMime(mime: string): boolean {
  return mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json"));
}

const SPLIT_NON_TEXT = new Set(["application/javascript", "image/svg+xml"]);

/** nbformat's _rejoin_mimebundle on read followed by _split_mimebundle on write. */
function splitMimeBundle(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = withFloatMarks(bundle, {});
  for (const [mime, value] of Object.entries(bundle)) {
    let v = value;
    if (!isJsonMime(mime) && Array.isArray(v) && v.every((line) => typeof line === "string")) v = (v as string[]).join("");
    if (typeof v === "string" && (mime.startsWith("text/") || SPLIT_NON_TEXT.has(mime))) v = toMultiline(v);
    out[mime] = v;
  }
  return out;
}

/**
 * Validate against nbformat 4.5 and write atomically: a temporary file in the
 * same folder, flushed, then renamed over `path`. A validation problem here is
 * a bug in whoever built the notebook, so it is a plain Error, not an InputError.
 */
export async function writeNotebook(path: string, nb: Notebook): Promise<void> {
  const problems = validateNotebook(nb, LATEST_MINOR);
  if (problems.length > 0) {
    throw new Error(`refusing to write an invalid notebook to '${path}' (a bug):\n` + problems.map((p) => `  ${p.path}: ${p.message}`).join("\n"));
  }
  const text = serializeNotebook(nb);
  // Write where a symlink points, and keep an existing file's permissions.
  const target = await realpath(path).catch(() => path);
  const mode = await stat(target).then((s) => s.mode & 0o7777, () => undefined);
  await writeFileAtomic(target, text, mode === undefined ? {} : { mode });
}
