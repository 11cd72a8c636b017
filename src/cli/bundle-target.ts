/**
 * Commands that take "NOTEBOOK|BUNDLE": a notebook (its bundle is
 * NAME.nbrewind beside it, or --bundle), or a bundle folder (its notebook is
 * the one the manifest names, beside the folder).
 */
import { stat } from "node:fs/promises";
import { dirname, extname, join, resolve } from "node:path";
import { Bundle } from "../bundle/bundle.js";
import { defaultBundleDir, MANIFEST_FILE } from "../bundle/paths.js";
import { InputError } from "../common/errors.js";

export interface BundleTarget {
  notebookPath: string;
  bundleDir: string;
}

export async function resolveBundleTarget(command: string, arg: string, bundleOption: string | undefined): Promise<BundleTarget> {
  const path = resolve(arg);
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) {
    const isBundle = await stat(join(path, MANIFEST_FILE)).then(
      () => true,
      () => false,
    );
    if (!isBundle) throw new InputError(`${command}: ${path} is a folder but not an nbrewind bundle (no ${MANIFEST_FILE})`);
    const bundle = await Bundle.open(path);
    return { notebookPath: join(dirname(path), bundle.manifest.source_notebook), bundleDir: path };
  }
  if (!s) throw new InputError(`${command}: ${path} does not exist`);
  if (extname(path) !== ".ipynb") throw new InputError(`${command}: ${path} is neither a notebook (.ipynb) nor a bundle folder`);
  return { notebookPath: path, bundleDir: resolve(bundleOption ?? defaultBundleDir(path)) };
}

/** A progress line at most every `everyMs`: long packs and unpacks say where they are without flooding a log. */
export function throttled(log: (line: string) => void, everyMs = 2000): (line: string, force?: boolean) => void {
  let last = 0;
  return (line, force = false) => {
    const now = Date.now();
    if (!force && now - last < everyMs) return;
    last = now;
    log(line);
  };
}
