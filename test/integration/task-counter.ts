import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CellSpec } from "./cli-harness.js";
import { readJson } from "./cli-harness.js";

/**
 * An engine-side task counter that owes nothing to our own records: the
 * notebook's task functions call `note(name)` (defined by `preamble`), which
 * appends a line to a log file from inside the engine worker that runs the
 * task. The file's path reaches the kernel, and the engine's workers, through
 * the environment (`env`), which every process of a CLI run inherits.
 */
export class TaskCounter {
  readonly logFile: string;

  constructor(dir: string) {
    this.logFile = join(dir, "tasks-ran.log");
  }

  get env(): Record<string, string> {
    return { NBREWIND_TEST_TASKLOG: this.logFile };
  }

  /** Python lines defining `note(name)`, to put in a notebook cell. */
  static readonly preamble: string[] = [
    "import os",
    "COUNTER = os.environ['NBREWIND_TEST_TASKLOG']",
    "def note(name):",
    "    with open(COUNTER, 'a') as f:",
    "        f.write(name + '\\n')",
  ];

  reset(): void {
    rmSync(this.logFile, { force: true });
  }

  /** The names the tasks noted since the last reset, sorted (workers run in any order). */
  ran(): string[] {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").filter(Boolean).sort();
    } catch {
      return [];
    }
  }
}

export function editCell(cells: CellSpec[], id: string, source: string): CellSpec[] {
  return cells.map((c) => (c.id === id ? { ...c, source } : c));
}

export function cellOf(nbPath: string, id: string): any {
  return readJson(nbPath).cells.find((c: any) => c.id === id);
}

/** The cell records a bundle holds for one cell id (every recorded version). */
export function recordsOf(bundle: string, cellId: string): any[] {
  return readdirSync(join(bundle, "cells"))
    .map((f) => readJson(join(bundle, "cells", f)))
    .filter((r: any) => r.cell_id === cellId);
}
