/**
 * `cache pin` / `cache unpin`: edit nbrewind.yaml as a person would, through
 * the yaml package's Document API, so comments, key order and layout of
 * everything else survive. The file is validated before and after the edit.
 */
import { readFile } from "node:fs/promises";
import type { YAMLMap, YAMLSeq } from "yaml";
import { writeFileAtomic } from "../common/atomic-file.js";
import { InputError } from "../common/errors.js";
import { yamlLib } from "../common/yaml-lib.js";
import { parseConfig } from "./load.js";

export interface PinSelector {
  function: string;
  cell?: string;
}

function sameSelector(item: unknown, sel: PinSelector): boolean {
  if (!yamlLib().isMap(item)) return false;
  const m = item as YAMLMap;
  return m.get("function") === sel.function && (m.get("cell") ?? undefined) === sel.cell;
}

/** Add a pin, or set the version of the pin with the same selector. Returns the new text and whether it was there. */
export function setPin(text: string, file: string, sel: PinSelector, version: string, keep: boolean | undefined): { text: string; updated: boolean } {
  parseConfig(text, file);
  const { isSeq, parseDocument } = yamlLib();
  const doc = parseDocument(text);
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  let pins = doc.get("pins") as YAMLSeq | undefined;
  if (!pins) {
    doc.set("pins", doc.createNode([]));
    pins = doc.get("pins") as YAMLSeq;
  }
  if (!isSeq(pins)) throw new InputError(`${file}: pins must be a list`);
  const existing = pins.items.find((item) => sameSelector(item, sel)) as YAMLMap | undefined;
  if (existing) {
    existing.set("version", version);
    if (keep !== undefined) existing.set("keep", keep);
  } else {
    pins.add(doc.createNode({ function: sel.function, ...(sel.cell ? { cell: sel.cell } : {}), version, ...(keep ? { keep: true } : {}) }));
  }
  const out = doc.toString();
  parseConfig(out, file);
  return { text: out, updated: existing !== undefined };
}

/** Remove the pins with this selector (every cell's, when no cell is given). */
export function removePin(text: string, file: string, sel: { function: string; cell?: string }): { text: string; removed: number } {
  parseConfig(text, file);
  const { isMap, isSeq, parseDocument } = yamlLib();
  const doc = parseDocument(text);
  const pins = doc.get("pins") as YAMLSeq | undefined;
  if (!pins || !isSeq(pins)) return { text, removed: 0 };
  const before = pins.items.length;
  pins.items = pins.items.filter((item) => !(sel.cell === undefined ? isMap(item) && (item as YAMLMap).get("function") === sel.function : sameSelector(item, sel)));
  const removed = before - pins.items.length;
  return { text: removed ? doc.toString() : text, removed };
}

export async function editConfigFile(file: string, edit: (text: string) => string): Promise<void> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw new InputError(`${file}: cannot read it (${err.message})`);
  });
  const out = edit(text);
  if (out !== text) await writeFileAtomic(file, out);
}
