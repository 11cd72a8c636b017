/**
 * Reading one JSON file of a bundle: every failure becomes an InputError (a
 * bad bundle is bad input) naming the file, never a crash or a guess.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../common/errors.js";
import { assertValid, type BundleSchema } from "./schemas.js";

/** `rel` is the file's name inside the bundle; messages show `dir/rel`. */
export async function readJson(dir: string, rel: string): Promise<unknown> {
  const shown = join(dir, rel);
  let text: string;
  try {
    text = await readFile(shown, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InputError(`invalid bundle: ${shown} is missing`);
    throw new InputError(`cannot read ${shown}: ${(err as Error).message}`);
  }
  return parseJsonText(text, shown);
}

export function parseJsonText(text: string, shown: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`invalid bundle file ${shown}: not valid JSON (${(err as Error).message})`);
  }
}

export async function readValidated<T>(dir: string, rel: string, schema: BundleSchema): Promise<T> {
  return assertValid<T>(schema, await readJson(dir, rel), join(dir, rel));
}
