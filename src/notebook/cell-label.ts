/**
 * How every message names a cell: one number and one label, the same in
 * progress lines, `plan`, `--explain`, the failure summary, `deps` and errors.
 *
 * The number is the cell's 1-based position among all the notebook's cells,
 * markdown included: what "Cell 4 of 19" in JupyterLab's and VS Code's status
 * bar counts, and what a user finds by counting cells from the top. It does
 * not change when the cell runs (execution counts do) and it is the same in
 * a plan and in the run that follows. Where a cell has no position (a cell
 * recorded earlier and deleted since), messages use its id.
 */

/** The number a user sees for the cell at `index` in `notebook.cells` (from 0). */
export function cellNumber(index: number): number {
  return index + 1;
}

/** `cell 4`: how messages refer to the cell at `index` in `notebook.cells`. */
export function cellName(index: number): string {
  return `cell ${cellNumber(index)}`;
}

const IMPORT = /^(import\s|from\s+\S+\s+import\b)/;

/**
 * A short label for a cell: its first line that says what the cell does, not
 * an import, a comment, a blank line, a bare string or a cell magic (`%%time`). Cells that
 * open with the same imports (every cell of a tutorial that starts with
 * `import parsl`) still get labels that tell them apart. A cell with nothing
 * else gets its first non-blank line.
 */
export function cellLabel(source: string, max = 60): string {
  const lines = source.split(/\r?\n/);
  let fallback: string | undefined;
  let depth = 0;
  let inImport = false;
  let inString: string | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    fallback ??= line;
    if (inString) {
      if (line.includes(inString)) inString = undefined;
      continue;
    }
    // A bare string (a docstring-like note at the top of the cell) says nothing the cell does.
    const quote = /^[rRbBuU]?("""|''')/.exec(line)?.[1];
    if (quote) {
      if (!line.slice(line.indexOf(quote) + 3).includes(quote)) inString = quote;
      continue;
    }
    if (inImport) {
      // The continuation of `from m import (a,\n b)` is part of the import.
      depth += bracketBalance(line);
      if (depth <= 0 && !line.endsWith("\\")) inImport = false;
      continue;
    }
    if (line.startsWith("#") || line.startsWith("%%")) continue;
    if (IMPORT.test(line)) {
      depth = bracketBalance(line);
      inImport = depth > 0 || line.endsWith("\\");
      continue;
    }
    return truncate(line, max);
  }
  return truncate(fallback ?? "", max);
}

function bracketBalance(line: string): number {
  let n = 0;
  for (const c of line) {
    if (c === "(") n++;
    else if (c === ")") n--;
  }
  return n;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}
