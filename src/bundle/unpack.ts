/**
 * Unpacking a packed bundle, treating the file as hostile until proven
 * otherwise:
 *
 * - everything is written into a fresh staging folder inside the target
 *   folder, with O_EXCL opens and no links ever created, and moved into
 *   place only once every check passed; on any failure the staging folder is
 *   removed, so nothing is left, inside the target or outside it;
 * - an entry whose path is absolute, contains `..` or `.`, a backslash or a
 *   control character, or lies outside NAME.ipynb / NAME.nbrewind/, is
 *   refused; so are links, devices, and a name seen twice;
 * - a truncated or corrupt stream (gzip or tar) is an error naming where it
 *   stopped; every blob must hash to its name; every entry must have the
 *   size and sha256 the digest list gives it, and the list must name every
 *   entry; a signature that does not verify is an error.
 *
 * Whether the signer is trusted is not unpack's business (it loads nothing);
 * it reports the signer, and repeat / replay decide.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, mkdtemp, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { diskErrorAt } from "../common/disk-errors.js";
import { ExitCode, InputError, NbrewindError } from "../common/errors.js";
import { TarFormatError, readTar, type TarEntry } from "./archive/tar-reader.js";
import { BUNDLE_SUFFIX } from "./paths.js";
import { schemaProblems } from "./schemas.js";
import { DIGESTS_FILE, signatureState, type DigestList, type SignatureState } from "./trust/digest-list.js";

export interface UnpackProblem {
  /** The entry's path inside the packed file, or "" for the file as a whole. */
  entry: string;
  message: string;
}

export interface Extracted {
  archive: string;
  /** Names inside the packed file. */
  notebook: string;
  bundle_folder: string;
  files: number;
  bytes: number;
  digestList: DigestList | undefined;
  signature: SignatureState | "missing";
  problems: UnpackProblem[];
  /** Where the content is now: the staging folder until committed. */
  stagingDir: string;
}

export interface UnpackResult extends Omit<Extracted, "stagingDir" | "problems" | "digestList"> {
  targetDir: string;
  notebookPath: string;
  bundleDir: string;
  signer: DigestList["signer"] | null;
}

export interface UnpackOptions {
  archive: string;
  targetDir: string;
  /** Called once every check passed, before anything is moved into place; throwing abandons the unpack and leaves nothing. */
  beforeCommit?: (extracted: Extracted) => Promise<void>;
  onProgress?: (progress: { bytesRead: number; bytesTotal: number }) => void;
  /** Stops the unpack between entries; nothing is left. */
  signal?: AbortSignal;
}

/** Bytes gathered before one writev: fewer syscalls without copying. */
const WRITE_BATCH_BYTES = 1 << 20;
/** digests.json is parsed in memory. */
const MAX_DIGEST_LIST_BYTES = 512 << 20;
const STAGING_PREFIX = ".nbrewind-unpack-";

export async function unpackBundle(options: UnpackOptions): Promise<UnpackResult> {
  await checkArchive(options.archive);
  await mkdir(options.targetDir, { recursive: true });
  const staging = await mkdtemp(join(options.targetDir, STAGING_PREFIX));
  try {
    const extracted = await extract(options.archive, staging, {
      collect: false,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await options.beforeCommit?.(extracted);
    const notebookPath = join(options.targetDir, extracted.notebook);
    const bundleDir = join(options.targetDir, extracted.bundle_folder);
    await refuseExisting(notebookPath, bundleDir);
    await rename(join(staging, extracted.bundle_folder), bundleDir);
    await rename(join(staging, extracted.notebook), notebookPath);
    return {
      archive: extracted.archive,
      notebook: extracted.notebook,
      bundle_folder: extracted.bundle_folder,
      files: extracted.files,
      bytes: extracted.bytes,
      signature: extracted.signature,
      signer: extracted.digestList?.signer ?? null,
      targetDir: options.targetDir,
      notebookPath,
      bundleDir,
    };
  } catch (err) {
    throw diskErrorAt(err, options.targetDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Extract into a temporary folder, collecting every problem instead of
 * stopping at the first (verify), call `inspect` with the result, then remove
 * the folder whatever happens.
 */
export async function inspectPacked<T>(archive: string, scratchDir: string, inspect: (extracted: Extracted) => Promise<T>): Promise<T> {
  await checkArchive(archive);
  const staging = await mkdtemp(join(scratchDir, STAGING_PREFIX));
  try {
    return await inspect(await extract(archive, staging, { collect: true }));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function checkArchive(archive: string): Promise<void> {
  const s = await stat(archive).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(err.code === "ENOENT" ? `${archive} does not exist` : `cannot read ${archive}: ${err.message}`);
  });
  if (!s.isFile()) throw new InputError(`${archive} is not a file (a packed bundle is one file; to use a bundle folder, give its notebook)`);
}

async function refuseExisting(...paths: string[]): Promise<void> {
  for (const path of paths) {
    const exists = await lstat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new InputError(`${path} already exists; unpack into another folder (-C DIR) or move it away first`);
  }
}

/** Problem with the entry's path, or undefined when it is a safe relative path. */
export function unsafePathProblem(path: string): string | undefined {
  if (path.length === 0) return "has an empty name";
  if (path.length > 4096) return "has a name longer than 4096 characters";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "has an absolute path: it would be written outside the target folder";
  if (path.includes("\\")) return "contains a backslash: not a portable path";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return "contains a control character";
  const segments = path.replace(/\/$/, "").split("/");
  if (segments.includes("..")) return "contains '..': it would be written outside the target folder";
  if (segments.some((s) => s === "" || s === ".")) return "contains an empty or '.' path segment";
  return undefined;
}

class Stop extends Error {}

async function extract(archive: string, staging: string, how: { collect: boolean; onProgress?: UnpackOptions["onProgress"]; signal?: AbortSignal }): Promise<Extracted> {
  const problems: UnpackProblem[] = [];
  /** A problem: thrown at once when unpacking, collected when verifying; `fatal` stops reading either way. */
  const problem = (entry: string, message: string, fatal = false) => {
    if (!how.collect) throw new InputError(entry ? `${archive}: entry ${JSON.stringify(entry)} ${message}` : `${archive}: ${message}`);
    problems.push({ entry, message });
    if (fatal) throw new Stop();
  };

  const written = new Map<string, { size: number; sha256: string }>();
  const folders = new Set<string>();
  let notebook: string | undefined;
  let folder: string | undefined;
  let digestText: Buffer | undefined;
  let bytes = 0;
  let stopped = false;

  const total = (await stat(archive)).size;
  let bytesRead = 0;
  const input = createReadStream(archive, { highWaterMark: 1 << 20 });
  const gunzip = createGunzip({ chunkSize: 256 << 10 });
  input.on("error", (err) => gunzip.destroy(err));
  input.on("data", (chunk) => {
    bytesRead += chunk.length;
    how.onProgress?.({ bytesRead, bytesTotal: total });
  });
  input.pipe(gunzip);

  try {
    for await (const entry of readTar(gunzip)) {
      if (how.signal?.aborted) throw new NbrewindError(`unpack: interrupted; nothing was unpacked`, ExitCode.interrupted);
      const path = entry.type === "directory" ? entry.path.replace(/\/$/, "") : entry.path;
      const unsafe = unsafePathProblem(path);
      if (unsafe) {
        problem(entry.path, unsafe, true);
        continue;
      }
      if (entry.type === "symlink" || entry.type === "hardlink") {
        problem(path, `is a ${entry.type === "symlink" ? "symbolic" : "hard"} link: links are not allowed in a packed bundle`, true);
        continue;
      }
      if (entry.type !== "file" && entry.type !== "directory") {
        problem(path, `is a ${entry.type === "other" ? `tar entry of unknown type '${entry.flag}'` : entry.type}: a packed bundle holds only files`, true);
        continue;
      }
      const segments = path.split("/");
      const top = segments[0]!;
      // Where the entry may be: NAME.ipynb at the top, or under NAME.nbrewind/.
      if (segments.length === 1 && entry.type === "file") {
        if (!top.endsWith(".ipynb")) problem(path, `is not part of a packed bundle (expected NAME.ipynb and NAME${BUNDLE_SUFFIX}/)`, true);
        if (notebook !== undefined && notebook !== top) problem(path, `is a second notebook (the first was ${JSON.stringify(notebook)})`, true);
        notebook = top;
      } else {
        if (!top.endsWith(BUNDLE_SUFFIX)) problem(path, `is not part of a packed bundle (expected NAME.ipynb and NAME${BUNDLE_SUFFIX}/)`, true);
        if (folder !== undefined && folder !== top) problem(path, `is in a second bundle folder (the first was ${JSON.stringify(folder)})`, true);
        folder = top;
      }
      if (entry.type === "directory") {
        if (written.has(path)) problem(path, "is both a file and a folder", true);
        folders.add(path);
        continue;
      }
      if (written.has(path)) problem(path, "appears twice: a packed bundle names each file once", true);
      if (folders.has(path)) problem(path, "is both a file and a folder", true);
      for (let k = 1; k < segments.length; k++) {
        const parent = segments.slice(0, k).join("/");
        if (written.has(parent)) problem(path, `is inside ${JSON.stringify(parent)}, which is a file`, true);
        folders.add(parent);
      }
      const isDigestList = folder !== undefined && path === `${folder}/${DIGESTS_FILE}`;
      if (isDigestList && entry.size > MAX_DIGEST_LIST_BYTES) problem(path, `is ${entry.size} bytes: too large for a digest list`, true);
      const result = await writeEntry(staging, path, entry, isDigestList);
      written.set(path, { size: result.size, sha256: result.sha256 });
      bytes += result.size;
      if (isDigestList) digestText = result.content;
      const blob = /^[^/]+\/blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/.exec(path);
      if (blob && blob[1]! + blob[2]! !== result.sha256) {
        problem(path, `is corrupt: its content hashes to ${result.sha256}, not to the digest its name says (a damaged or altered blob)`);
      }
    }
  } catch (err) {
    if (!(err instanceof Stop)) {
      const message = streamProblem(err);
      if (message === undefined) throw err;
      try {
        problem("", message, true);
      } catch (stop) {
        if (!(stop instanceof Stop)) throw stop;
      }
    }
    stopped = true;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return finish();

  function finish(): Extracted {
    const base = { archive, notebook: notebook ?? "", bundle_folder: folder ?? "", files: written.size, bytes, stagingDir: staging };
    // Reading stopped early: the rest of the file cannot be checked against anything.
    if (stopped) return { ...base, digestList: undefined, signature: "missing", problems };
    if (notebook === undefined) problem("", `holds no notebook (NAME.ipynb): not a packed bundle`);
    if (folder === undefined) problem("", `holds no bundle folder (NAME${BUNDLE_SUFFIX}/): not a packed bundle`);
    if (notebook !== undefined && folder !== undefined && notebook.slice(0, -".ipynb".length) + BUNDLE_SUFFIX !== folder) {
      problem("", `the notebook ${JSON.stringify(notebook)} and the bundle folder ${JSON.stringify(folder)} do not belong together`);
    }
    const list = digestText ? parseDigestList(digestText, `${folder}/${DIGESTS_FILE}`, problem) : undefined;
    if (!digestText && folder !== undefined) problem("", `holds no ${folder}/${DIGESTS_FILE}: not a packed bundle, or one whose end was cut off`);
    if (list) {
      const signature = signatureState(list);
      if (signature === "invalid") problem(`${folder}/${DIGESTS_FILE}`, `has a signature that does not verify: the digest list was changed after it was signed`);
      checkAgainstList(list, written, notebook ?? "", folder ?? "", problem);
      return { ...base, digestList: list, signature, problems };
    }
    return { ...base, digestList: undefined, signature: "missing", problems };
  }
}

async function writeEntry(staging: string, path: string, entry: TarEntry, keep: boolean): Promise<{ size: number; sha256: string; content?: Buffer }> {
  const fsPath = join(staging, path);
  await mkdir(join(fsPath, ".."), { recursive: true });
  // O_EXCL: never follow or replace anything already there.
  const handle = await open(fsPath, "wx", 0o644);
  const hash = createHash("sha256");
  const kept: Buffer[] = [];
  let size = 0;
  try {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for await (const piece of entry.body) {
      hash.update(piece);
      size += piece.length;
      if (keep) kept.push(piece);
      batch.push(piece);
      batchBytes += piece.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await writevAll(handle, batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) await writevAll(handle, batch);
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest("hex"), ...(keep ? { content: Buffer.concat(kept) } : {}) };
}

async function writevAll(handle: FileHandle, pieces: Buffer[]): Promise<void> {
  let left = pieces;
  while (left.length > 0) {
    let n = (await handle.writev(left)).bytesWritten;
    while (left.length > 0 && n >= left[0]!.length) {
      n -= left[0]!.length;
      left = left.slice(1);
    }
    if (n > 0) left = [left[0]!.subarray(n), ...left.slice(1)];
  }
}

function parseDigestList(text: Buffer, entry: string, problem: (entry: string, message: string) => void): DigestList | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text.toString("utf8"));
  } catch (err) {
    problem(entry, `is not valid JSON (${(err as Error).message})`);
    return undefined;
  }
  const found = schemaProblems("bundle-digests", raw);
  for (const p of found.slice(0, 10)) problem(entry, `${p.path}: ${p.message}`);
  return found.length === 0 ? (raw as DigestList) : undefined;
}

function checkAgainstList(
  list: DigestList,
  written: Map<string, { size: number; sha256: string }>,
  notebook: string,
  folder: string,
  problem: (entry: string, message: string) => void,
): void {
  const expected = new Map<string, { size: number; sha256: string }>();
  for (const f of list.signed.files) expected.set(`${folder}/${f.path}`, f);
  if (list.signed.notebook) {
    if (list.signed.notebook.path !== notebook) problem(notebook, `is not the notebook the digest list names (${JSON.stringify(list.signed.notebook.path)})`);
    else expected.set(notebook, list.signed.notebook);
  }
  for (const [path, want] of expected) {
    const got = written.get(path);
    if (!got) problem(path, "is named in the digest list but missing from the file");
    else if (got.size !== want.size || got.sha256 !== want.sha256) {
      problem(path, `does not match the digest list: ${got.size} bytes with sha256 ${got.sha256}, expected ${want.size} bytes with sha256 ${want.sha256}`);
    }
  }
  for (const path of written.keys()) {
    if (path === `${folder}/${DIGESTS_FILE}`) continue;
    if (!expected.has(path)) problem(path, "is not named in the digest list (added after packing?)");
  }
}

/** A sentence for a stream failure (gzip or tar); undefined for errors that are not about the file's content. */
function streamProblem(err: unknown): string | undefined {
  if (err instanceof TarFormatError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "Z_BUF_ERROR") return "truncated: the compressed data ends early (the file was cut off)";
  if (code === "Z_DATA_ERROR") {
    const msg = (err as Error).message;
    return /header/.test(msg) ? "is not a packed bundle (not gzip-compressed data)" : `corrupt compressed data (${msg})`;
  }
  return undefined;
}
