import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../../src/common/package-root.js";

/** One corpus cell: `# %% title` lines in test/fixtures/analysis/*.py start a cell. */
export interface CorpusCell {
  file: string;
  title: string;
  source: string;
}

export function corpusDir(): string {
  return join(packageRoot(), "test", "fixtures", "analysis");
}

export function loadCorpus(): CorpusCell[] {
  const cells: CorpusCell[] = [];
  for (const file of readdirSync(corpusDir()).filter((f) => f.endsWith(".py")).sort()) {
    let current: CorpusCell | undefined;
    const lines: string[] = [];
    const flush = () => {
      if (current) {
        while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
        current.source = lines.join("\n") + "\n";
        cells.push(current);
      }
      lines.length = 0;
    };
    for (const line of readFileSync(join(corpusDir(), file), "utf8").split("\n")) {
      if (line.startsWith("# %%")) {
        flush();
        current = { file, title: line.slice(4).trim(), source: "" };
      } else if (current) lines.push(line);
    }
    flush();
  }
  return cells;
}

/** What the oracle says about a cell (see test/oracle/python_facts.py). */
export interface OracleFacts {
  binds?: string[];
  definiteBinds?: string[];
  reads?: string[];
  mutates?: string[];
  deletes?: string[];
  needs?: string[];
  opaque: boolean;
  opaqueReasons?: string[];
  syntaxError?: { line: number; column: number; message: string };
  oracleError?: string;
}

export function runOracle(python: string, sources: string[]): OracleFacts[] {
  const script = join(packageRoot(), "test", "oracle", "python_facts.py");
  const run = spawnSync(python, [script], { input: JSON.stringify(sources), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`oracle failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as OracleFacts[];
}
