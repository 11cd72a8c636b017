/**
 * Running a case's notebook: papermill (the plain run, and the peers, which
 * are driven through papermill as a user of theirs would run a notebook), and
 * small rewrites of a notebook that a peer needs (a cell inserted, a cell's
 * source changed).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import type { Notebook } from "../../src/notebook/types.js";
import { cleanEnv, runTimed, type Timed } from "../lib/harness.js";

export interface Step {
  ok: boolean;
  seconds: number;
  /** User + system CPU of the process and every child it waited for (kernel, engine workers in-process). */
  cpuSeconds?: number;
  failure?: string;
}

/** A timed run as a Step: ok when it exited 0, else the last words of its stderr. */
export function stepOf(r: Timed): Step {
  const tail = r.stderr.trim().split("\n").filter((l) => l.trim()).slice(-4).join(" | ").slice(0, 500);
  return { ok: r.code === 0, seconds: r.wallMs / 1000, ...(r.cpuMs !== undefined ? { cpuSeconds: r.cpuMs / 1000 } : {}), ...(r.code === 0 ? {} : { failure: `exit ${r.code}: ${tail}` }) };
}

/**
 * `python -m papermill IN OUT -k KERNEL` in `dir`, timed with CPU. The
 * managed env's bin folder (`managedPython`'s) goes first on PATH, as the
 * embedded server puts it for nbrewind's kernels: Parsl's HTEX starts its
 * interchange and workers through PATH.
 */
export function papermill(python: string, managedPython: string, kernel: string, dir: string, input: string, output: string, env: Record<string, string> = {}): Promise<Timed> {
  const base = cleanEnv();
  const path = [...new Set([dirname(python), dirname(managedPython)])].join(delimiter);
  return runTimed(python, ["-m", "papermill", input, output, "-k", kernel, "--no-progress-bar", "--cwd", dir], { ...base, PATH: `${path}${delimiter}${base.PATH ?? ""}`, ...env }, dir, { cpu: true });
}

export function readNotebook(path: string): Notebook {
  return JSON.parse(readFileSync(path, "utf8")) as Notebook;
}

export function writeNotebook(path: string, nb: Notebook): void {
  writeFileSync(path, JSON.stringify(nb, null, 1) + "\n");
}

export function source(cell: Notebook["cells"][number]): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

export function codeCell(id: string, text: string): Notebook["cells"][number] {
  return { id, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: text } as unknown as Notebook["cells"][number];
}

/** Bytes under a path (a file or a folder, recursively). */
export function sizeOf(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((n, f) => n + sizeOf(join(path, f)), 0);
}
