/**
 * A case study's work folder: its notebook and the data its generator makes,
 * and the scripted edits applied to them. The bench and the smoke test both
 * build their folders here, so both run exactly the same notebook and data.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Notebook } from "../../src/notebook/types.js";
import type { CaseEdit, CaseStudy } from "./case.js";

export const CASES_DIR = dirname(fileURLToPath(import.meta.url));

export type Size = "full" | "quick";

/** The notebook's name inside every work folder. */
export const NOTEBOOK = "notebook.ipynb";

function generate(study: CaseStudy, dir: string, size: Size, alter: boolean, python: string): void {
  const args = [join(CASES_DIR, study.name, "make_data.py"), dir, ...(size === "quick" ? ["--quick"] : []), ...(alter ? ["--alter"] : [])];
  const r = spawnSync(python, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${study.name}/make_data.py ${args.slice(1).join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
}

/**
 * A fresh work folder for `study`: its notebook (edits `0..applied-1` already
 * made) and its data at `size`. Data generated once per size are copied from
 * `cache` (a folder the caller owns) rather than generated again.
 */
export function prepareFolder(study: CaseStudy, dir: string, size: Size, python: string, cache: string, applied = 0): void {
  const pristine = join(cache, `${study.name}-${size}`);
  if (!existsSync(join(pristine, "data"))) {
    mkdirSync(pristine, { recursive: true });
    generate(study, pristine, size, false, python);
  }
  mkdirSync(dir, { recursive: true });
  cpSync(join(pristine, "data"), join(dir, "data"), { recursive: true });
  cpSync(join(CASES_DIR, study.name, NOTEBOOK), join(dir, NOTEBOOK));
  for (const edit of study.edits.slice(0, applied)) applyEdit(study, edit, dir, size, python);
}

function cellSource(cell: Notebook["cells"][number]): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Make one scripted edit in `dir`: change the notebook's cell, or rewrite the input file the generator alters. */
export function applyEdit(study: CaseStudy, edit: CaseEdit, dir: string, size: Size, python: string): void {
  if (!edit.source) {
    generate(study, dir, size, true, python);
    return;
  }
  const file = join(dir, NOTEBOOK);
  const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
  const cell = nb.cells.find((c) => c.id === edit.source!.cell);
  if (!cell) throw new Error(`${study.name}: edit "${edit.why}": no cell with id ${edit.source.cell} in ${file}`);
  const text = cellSource(cell);
  if (text.split(edit.source.from).length !== 2) throw new Error(`${study.name}: edit "${edit.why}": ${JSON.stringify(edit.source.from)} must occur exactly once in cell ${edit.source.cell}`);
  cell.source = text.replace(edit.source.from, edit.source.to);
  writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
}

/** The file the case's last cell writes, or undefined when it was not written. */
export function readOutput(study: CaseStudy, dir: string): string | undefined {
  const path = join(dir, study.output);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}
