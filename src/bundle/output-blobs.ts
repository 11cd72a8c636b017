/**
 * Large cell outputs live in the blob store, not in the record's JSON.
 *
 * A record is read whole whenever a run plans (every record of the bundle),
 * so a 50 MB printout or a big PNG inline in cells/<fingerprint>.json would be
 * parsed, held in memory and copied into every new record of the cell (a
 * value-key copy, an older parameter) for nothing. An output whose JSON text
 * is over OUTPUT_BLOB_THRESHOLD bytes is therefore written as a
 * content-addressed blob (the output object's JSON, UTF-8) and the record
 * keeps `{ output_type, blob: { digest, size } }` in its place. Records that
 * share an output share its blob. The notebooks (the output notebook, the
 * bundle's notebook.ipynb, a repeat's or a replay's) always get the whole
 * output: it is loaded, and checked against its digest, when a reused cell
 * needs it.
 */
import { InputError } from "../common/errors.js";
import type { BlobStore } from "../store/blob-store.js";
import { CorruptBlobError, MissingBlobError } from "../store/errors.js";

/** Outputs whose JSON text is over 1 MiB are stored as blobs (README, "Large outputs"). */
export const OUTPUT_BLOB_THRESHOLD = 1 << 20;

/** What a record holds in place of an output stored as a blob (schemas/cell-record.schema.json). */
export interface OutputBlobRef {
  output_type: string;
  blob: { digest: string; size: number };
}

export function isOutputBlobRef(output: unknown): output is OutputBlobRef {
  return typeof output === "object" && output !== null && "blob" in output && typeof (output as { blob: unknown }).blob === "object";
}

/** The blobs a record's outputs are stored in. */
export function outputDigests(rec: { outputs: unknown[] }): string[] {
  return rec.outputs.flatMap((o) => (isOutputBlobRef(o) ? [o.blob.digest] : []));
}

/**
 * The outputs as a record stores them: each one over the threshold written
 * to the store (idempotent: a blob already there is not written again) and
 * replaced by its reference; outputs already stored as blobs are kept.
 */
export async function storeLargeOutputs(outputs: unknown[], store: BlobStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const output of outputs) {
    if (isOutputBlobRef(output)) {
      out.push(output);
      continue;
    }
    const text = JSON.stringify(output);
    if (Buffer.byteLength(text, "utf8") <= OUTPUT_BLOB_THRESHOLD) {
      out.push(output);
      continue;
    }
    const { digest, size } = await store.writeAtomic(text);
    out.push({ output_type: String((output as { output_type?: unknown }).output_type), blob: { digest, size } } satisfies OutputBlobRef);
  }
  return out;
}

/**
 * The whole outputs of a record, each blob read and checked against its
 * digest. A missing or corrupt blob is bad input naming the record, the
 * output and the blob: its output cannot be shown, and a guess is no output.
 */
export async function loadOutputs(rec: { fingerprint: string; outputs: unknown[] }, store: BlobStore): Promise<unknown[]> {
  if (!rec.outputs.some(isOutputBlobRef)) return rec.outputs;
  const out: unknown[] = [];
  for (const [i, output] of rec.outputs.entries()) {
    if (!isOutputBlobRef(output)) {
      out.push(output);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await store.readVerified(output.blob.digest);
    } catch (err) {
      if (err instanceof MissingBlobError || err instanceof CorruptBlobError) throw outputBlobError(rec.fingerprint, i, output, err);
      throw err;
    }
    out.push(JSON.parse(bytes.toString("utf8")) as unknown);
  }
  return out;
}

/**
 * The first output blob of `rec` that is not in the store, as the error
 * loading it would give, for the cell numbered `cellNumber` that would reuse
 * it; undefined when all are there.
 */
export async function missingOutputBlob(rec: { fingerprint: string; outputs: unknown[] }, store: BlobStore, cellNumber?: number): Promise<InputError | undefined> {
  for (const [i, output] of rec.outputs.entries()) {
    if (isOutputBlobRef(output) && !(await store.has(output.blob.digest))) {
      return outputBlobError(rec.fingerprint, i, output, new MissingBlobError(output.blob.digest, store.pathFor(output.blob.digest)), cellNumber);
    }
  }
  return undefined;
}

function outputBlobError(fingerprint: string, index: number, ref: OutputBlobRef, err: MissingBlobError | CorruptBlobError, cellNumber?: number): InputError {
  const what = err instanceof MissingBlobError ? "which is missing" : `which is corrupt (its content hashes to ${err.actualDigest})`;
  const cell = cellNumber === undefined ? "" : `cell ${cellNumber} cannot be reused: `;
  const rerun = cellNumber === undefined ? "'repeat --run CELL' runs that cell" : `'repeat --run ${cellNumber}' runs it`;
  return new InputError(
    `${cell}cells/${fingerprint}.json: outputs[${index}] (a ${ref.output_type} output of ${ref.blob.size} bytes) is stored in blob ${ref.blob.digest}, ${what}: ${err.path}. The bundle is damaged: 'nbrewind-engine verify' lists every problem; ${rerun} again instead of reusing it`,
  );
}
