/**
 * Packing a notebook and its bundle into one file: a tar stream, gzip
 * compressed on every core (archive/parallel-gzip.ts), written to a temp file
 * beside the output and renamed into place when complete. Layout inside:
 *
 *   NAME.ipynb                  the notebook
 *   NAME.nbrewind/...           every file of the bundle (bundle-files.ts)
 *   NAME.nbrewind/digests.json  last: the signed digest list of what was packed
 *
 * Files are streamed from disk and hashed as they are written, so memory
 * stays flat whatever the bundle's size; a blob whose bytes do not match its
 * name stops the pack (we do not sign corruption). JSON files are small and
 * are rewritten on the way to carry no absolute path of this site.
 */
import { open, readFile, realpath, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, resolve, sep } from "node:path";
import { diskErrorAt } from "../common/disk-errors.js";
import { ExitCode, InputError, NbrewindError } from "../common/errors.js";
import { ParallelGzip } from "./archive/parallel-gzip.js";
import { TarWriter, type WrittenEntry } from "./archive/tar-writer.js";
import { Bundle } from "./bundle.js";
import { listBundleFiles, type BundleFile } from "./bundle-files.js";
import { INPUTS_DIR, inputFilesToPack, recordedInputs } from "./inputs.js";
import { BUNDLE_SUFFIX, ENVIRONMENT_FILE } from "./paths.js";
import { relativiseJsonText, siteRoots, withoutPathFacts, type SiteRoot } from "./site-paths.js";
import { DIGESTS_FILE, makeDigestList, newSignedContent, type DigestEntry } from "./trust/digest-list.js";
import type { PublicKeyInfo, SigningKey } from "./trust/keys.js";
import type { Vouch } from "./trust/vouch.js";

export interface PackOptions {
  notebookPath: string;
  bundleDir: string;
  output: string;
  /** Signs the digest list; undefined packs unsigned. */
  key?: SigningKey;
  /** What the signature vouches for (trust/vouch.ts), as the trust gate found it. */
  vouch?: Vouch;
  level?: number;
  onProgress?: (progress: { bytesDone: number; bytesTotal: number; files: number; filesTotal: number }) => void;
  /** Stops the pack between files; the partial output is removed. */
  signal?: AbortSignal;
  /** Also pack the input files the notebook read inside its folder, as inputs/<path> (inputs.ts). */
  inputs?: boolean;
}

export interface PackResult {
  output: string;
  /** Names inside the packed file. */
  notebook: string;
  bundle_folder: string;
  files: number;
  blobs: number;
  bytes_in: number;
  bytes_out: number;
  signer: PublicKeyInfo | null;
  /** Absolute paths of this site replaced in JSON text, and facts omitted. */
  relativised_paths: number;
  omitted: string[];
  /** With `inputs`: the input files packed, and those recorded but not on disk. */
  inputs?: { packed: string[]; absent: string[] };
}

/** Files whose text is rewritten without site paths; everything else is copied byte for byte. */
const JSON_TEXT = /\.(json|jsonl|ipynb)$/;

export async function packBundle(options: PackOptions): Promise<PackResult> {
  const bundle = await Bundle.open(options.bundleDir); // validates the manifest before we write anything
  const notebookName = basename(options.notebookPath);
  if (extname(notebookName) !== ".ipynb") throw new InputError(`${options.notebookPath}: the notebook must be a .ipynb file`);
  const folder = notebookName.slice(0, -".ipynb".length) + BUNDLE_SUFFIX;
  const output = resolve(options.output);
  const bundleReal = await realpath(bundle.dir);
  if ((output + sep).startsWith(bundleReal + sep) || (output + sep).startsWith(resolve(bundle.dir) + sep)) {
    throw new InputError(`pack: ${output} is inside the bundle it packs; write it elsewhere`);
  }
  const notebookDir = dirname(resolve(options.notebookPath));
  const roots = siteRoots([
    { path: resolve(bundle.dir), replacement: folder },
    { path: bundleReal, replacement: folder },
    { path: notebookDir, replacement: "." },
    { path: await realpath(notebookDir).catch(() => notebookDir), replacement: "." },
  ]);

  const files = await listBundleFiles(bundle.dir);
  let inputs: PackResult["inputs"];
  if (options.inputs) {
    const found = await inputFilesToPack(await recordedInputs(bundle), notebookDir);
    // The bundle's own inputs/ (an earlier replay's) give way to the notebook folder's files.
    for (let i = files.length - 1; i >= 0; i--) if (files[i]!.path.startsWith(`${INPUTS_DIR}/`)) files.splice(i, 1);
    files.push(...found.files);
    inputs = { packed: found.files.map((f) => f.path.slice(INPUTS_DIR.length + 1)), absent: found.absent };
  }
  const notebookBytes = await readFile(options.notebookPath).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`pack: cannot read the notebook ${options.notebookPath}: ${err.code === "ENOENT" ? "it does not exist" : err.message}`);
  });
  const bytesTotal = files.reduce((n, f) => n + f.size, notebookBytes.length);

  const temp = `${output}.${process.pid}.partial`;
  const handle = await open(temp, "wx").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`pack: cannot write ${output}: ${err.code === "ENOENT" ? "its folder does not exist" : err.message}`);
  });
  const result: PackResult = {
    output,
    notebook: notebookName,
    bundle_folder: folder,
    files: files.length,
    blobs: files.filter((f) => f.blobDigest).length,
    bytes_in: 0,
    bytes_out: 0,
    signer: options.key ? { ...options.key.info } : null,
    relativised_paths: 0,
    omitted: [],
    ...(inputs ? { inputs } : {}),
  };
  let closed = false;
  try {
    const gzip = new ParallelGzip({ write: (data) => writeAll(handle, data) }, options.level !== undefined ? { level: options.level } : {});
    const tar = new TarWriter(gzip);
    let bytesDone = 0;
    let done = 0;
    const progressed = (size: number) => {
      bytesDone += size;
      done += 1;
      options.onProgress?.({ bytesDone, bytesTotal, files: done, filesTotal: files.length + 1 });
    };

    const nbText = relativiseJsonText(notebookBytes.toString("utf8"), roots);
    result.relativised_paths += nbText.replaced;
    const notebookEntry = await tar.addBuffer(notebookName, Buffer.from(nbText.text, "utf8"));
    progressed(notebookBytes.length);

    const entries: DigestEntry[] = [];
    for (const file of files) {
      if (options.signal?.aborted) throw new NbrewindError("pack: interrupted; nothing was written", ExitCode.interrupted);
      const written = await packFile(tar, `${folder}/${file.path}`, file, roots, result);
      entries.push({ path: file.path, size: written.size, sha256: written.sha256 });
      progressed(file.size);
    }
    const list = makeDigestList(newSignedContent(entries, { path: notebookName, size: notebookEntry.size, sha256: notebookEntry.sha256 }, options.key ? options.vouch : undefined), options.key);
    await tar.addBuffer(`${folder}/${DIGESTS_FILE}`, Buffer.from(JSON.stringify(list, null, 2) + "\n", "utf8"));
    await tar.finish();
    await gzip.end();
    await handle.sync();
    await handle.close();
    closed = true;
    await rename(temp, output);
    result.bytes_in = gzip.bytesIn;
    result.bytes_out = gzip.bytesOut;
    return result;
  } catch (err) {
    if (!closed) await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw diskErrorAt(err, output);
  }
}

async function packFile(tar: TarWriter, path: string, file: BundleFile, roots: SiteRoot[], result: PackResult): Promise<WrittenEntry> {
  if (file.blobDigest || !JSON_TEXT.test(file.path) || file.path.startsWith(`${INPUTS_DIR}/`)) {
    const written = await tar.addFile(path, file.fsPath);
    if (file.blobDigest && written.sha256 !== file.blobDigest) {
      throw new InputError(
        `pack: blob ${file.path} is corrupt: its content hashes to ${written.sha256}, not its name; nothing was packed ('nbrewind-engine verify' lists every problem)`,
      );
    }
    return written;
  }
  let text = await readFile(file.fsPath, "utf8");
  if (file.path === ENVIRONMENT_FILE) {
    try {
      const { env, omitted } = withoutPathFacts(JSON.parse(text) as Record<string, unknown>);
      result.omitted.push(...omitted.map((o) => `${ENVIRONMENT_FILE}: ${o}`));
      text = JSON.stringify(env, null, 2) + "\n";
    } catch {
      // not JSON: verify reports it; pack copies what is there
    }
  }
  const relativised = relativiseJsonText(text, roots);
  result.relativised_paths += relativised.replaced;
  return tar.addBuffer(path, Buffer.from(relativised.text, "utf8"), file.mtimeMs / 1000);
}

/** FileHandle.write may write less than asked (a signal, a full pipe): loop until all is out. */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
}
