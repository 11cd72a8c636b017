import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../../src/common/package-root.js";
import type { Cell, CodeCell, Notebook } from "../../../src/notebook/types.js";

export function fixture(name: string): string {
  return join(packageRoot(), "test", "fixtures", "notebooks", name);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "nbrewind-notebook-test-"));
}

export function code(id: string, source: string, tags?: string[]): CodeCell {
  return { id, cell_type: "code", metadata: tags ? { tags } : {}, execution_count: null, outputs: [], source };
}

export function notebook(cells: Cell[]): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: "python3", display_name: "Python 3" } }, cells };
}

/** The error thrown by `fn`, for asserting on message and details. */
export async function errorOf(fn: () => unknown): Promise<Error & { details?: string[]; exitCode?: number }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { details?: string[] };
  }
  throw new Error("expected an error, got none");
}
