/**
 * The notebook's input files: what the cells of the latest run read from
 * inside the notebook's folder and no cell wrote. `pack --inputs` carries
 * them in the bundle (`inputs/<path>`, listed and signed like every bundle
 * file, so `verify` checks them); `replay` puts them in place when the site
 * lacks them, and lists, before any cell runs, the recorded inputs that are
 * missing or different at the new site.
 */
import { copyFile, lstat, mkdir, readdir, stat } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { allFiles, type FileRead } from "../common/file-record.js";
import type { Bundle } from "./bundle.js";
import type { BundleFile } from "./bundle-files.js";
import { hashFile } from "../store/digest.js";

export const INPUTS_DIR = "inputs";

/** The input files the latest run's cells read inside the notebook's folder, by path (the last read wins). */
export async function recordedInputs(bundle: Bundle): Promise<Map<string, FileRead>> {
  const manifest = bundle.manifest;
  const records = await bundle.records();
  const reads = new Map<string, FileRead>();
  const written = new Set<string>();
  for (const fp of manifest.cells) {
    const rec = records.get(fp);
    if (!rec) continue;
    const files = allFiles(rec);
    for (const w of files.written) written.add(w.path);
    for (const r of files.read) if (!isAbsolute(r.path) && !r.path.split("/").includes("..") && !written.has(r.path)) reads.set(r.path, r);
  }
  return reads;
}

export type InputState = { path: string; state: "missing" | "different"; recorded: FileRead };

/** The recorded inputs that are missing or different in `notebookDir` (stat first, sha256 when the stat differs). */
export async function checkInputs(inputs: Map<string, FileRead>, notebookDir: string): Promise<InputState[]> {
  const out: InputState[] = [];
  for (const [path, recorded] of [...inputs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const full = join(notebookDir, path);
    const st = await stat(full, { bigint: true }).catch(() => undefined);
    if (!st?.isFile()) {
      out.push({ path, state: "missing", recorded });
      continue;
    }
    if (Number(st.size) === recorded.size && st.mtimeNs.toString() === recorded.mtime_ns) continue;
    if ((await hashFile(full)).digest !== recorded.sha256) out.push({ path, state: "different", recorded });
  }
  return out;
}

/** The inputs as bundle files to pack, under `inputs/`; the ones not on disk are returned apart. */
export async function inputFilesToPack(inputs: Map<string, FileRead>, notebookDir: string): Promise<{ files: BundleFile[]; absent: string[] }> {
  const files: BundleFile[] = [];
  const absent: string[] = [];
  for (const path of [...inputs.keys()].sort()) {
    const fsPath = join(notebookDir, path);
    const st = await lstat(fsPath).catch(() => undefined);
    if (!st?.isFile()) {
      absent.push(path);
      continue;
    }
    files.push({ path: `${INPUTS_DIR}/${path}`, fsPath, size: st.size, mtimeMs: st.mtimeMs });
  }
  return { files, absent };
}

/**
 * Copy the packed inputs into the notebook's folder where the site has no
 * file of that name; a file the site has is never overwritten (a difference
 * is reported by checkInputs instead). Returns the paths copied.
 */
export async function placePackedInputs(bundleDir: string, inputs: Map<string, FileRead>, notebookDir: string): Promise<string[]> {
  const placed: string[] = [];
  for (const path of [...inputs.keys()].sort()) {
    const packed = join(bundleDir, INPUTS_DIR, path);
    if (!(await lstat(packed).catch(() => undefined))?.isFile()) continue;
    const target = join(notebookDir, path);
    if (await lstat(target).catch(() => undefined)) continue;
    if (await linkOnTheWay(notebookDir, path)) continue;
    await mkdir(dirname(target), { recursive: true });
    await copyFile(packed, target);
    placed.push(path);
  }
  return placed;
}

/** Whether an existing folder on the way to `path` is a link (never written through). */
async function linkOnTheWay(root: string, path: string): Promise<boolean> {
  let current = root;
  for (const part of path.split("/").slice(0, -1)) {
    current = join(current, part);
    const st = await lstat(current).catch(() => undefined);
    if (!st) return false;
    if (st.isSymbolicLink() || !st.isDirectory()) return true;
  }
  return false;
}

/**
 * `verify`: every packed input (inputs/PATH) holds content some record read
 * at PATH; anything else would make a replay start from other data than the
 * recorded run did.
 */
export async function packedInputProblems(bundleDir: string, readDigests: Map<string, Set<string>>): Promise<{ file: string; message: string }[]> {
  const problems: { file: string; message: string }[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(bundleDir, INPUTS_DIR, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (!e.isFile()) problems.push({ file: `${INPUTS_DIR}/${path}`, message: "is not a regular file" });
      else {
        const known = readDigests.get(path);
        if (!known) problems.push({ file: `${INPUTS_DIR}/${path}`, message: `no record read \`${path}\`: not an input of this notebook` });
        else if (!known.has((await hashFile(join(bundleDir, INPUTS_DIR, path))).digest)) {
          problems.push({ file: `${INPUTS_DIR}/${path}`, message: `its content is not what the notebook read at \`${path}\` when it was recorded` });
        }
      }
    }
  };
  await walk("");
  return problems;
}
