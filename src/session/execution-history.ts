import { randomUUID } from "node:crypto";
import { analyseCell, DependencyGraph, loadPythonParser, type AnalysedCell, type CellFacts } from "../analysis/index.js";
import { cellFiles, cellIdentity, sha256, sourceHash, type CellIdentity, type FileDigest } from "../planner/fingerprint.js";

/** What a fingerprint takes beyond the history: the files a cell runs, and the salt of a record that no longer stands (a pin changed). */
export interface IdentityInputs {
  fileDigest?: FileDigest;
  /** Given the plain fingerprint, a salt when its record's result no longer stands although the inputs did not change. */
  salt?: (fingerprint: string) => string | undefined;
}

/** One execution of a cell in a kernel, in the order the user ran them. */
export interface Execution {
  /** 0-based position in the history. */
  ordinal: number;
  /** The cell's identity across edits: the frontend's cell id, or one derived from the source. */
  key: string;
  source: string;
  /** False when it ran outside audit and repeat: nothing recorded it, so nothing downstream of it is reused. */
  tracked: boolean;
  facts?: CellFacts;
  identity?: CellIdentity;
}

/** A cell about to run, as the history resolves it: its identity and what it reads and may write. */
export interface ResolvedExecution {
  execution: Execution;
  identity: CellIdentity;
  analysed: AnalysedCell;
}

/**
 * The kernel's execution history as the data-flow analysis sees it. Users
 * run cells out of order, edit them and run them again, so a cell's
 * fingerprint comes from the executions that actually produced the values
 * it reads, in this kernel, not from the notebook's order: the history is the
 * "notebook" the planner's fingerprints are computed over (each execution a
 * cell of its own), and the fingerprint of an execution never changes once
 * made. An execution outside audit and repeat gets a fingerprint no record
 * has, so nothing that reads what it wrote is ever reused on stale inputs.
 */
export class ExecutionHistory {
  private readonly executions: Execution[] = [];
  private readonly untrackedSalt = randomUUID();

  get size(): number {
    return this.executions.length;
  }

  at(ordinal: number): Execution | undefined {
    return this.executions[ordinal];
  }

  /** An execution nothing recorded (mode off, or a cell that was not checkpointed): analysed lazily, only if a mode is turned on. */
  addUntracked(key: string, source: string): Execution {
    const execution: Execution = { ordinal: this.executions.length, key, source, tracked: false };
    this.executions.push(execution);
    return execution;
  }

  /** Append an execution and resolve it against everything that ran before it. */
  async add(key: string, source: string, inputs: IdentityInputs = {}): Promise<ResolvedExecution> {
    await loadPythonParser();
    const execution: Execution = { ordinal: this.executions.length, key, source, tracked: true };
    this.executions.push(execution);
    const graph = this.graph();
    const id = String(execution.ordinal);
    const producers = graph.dependenciesOf(id).map((edge) => {
      const producer = this.executions[Number(edge.from)]!;
      return { cellId: producer.key, fingerprint: this.identityOf(producer).fingerprint, names: edge.names };
    });
    // `%run prep.py` is read from the kernel's working folder, as the cell itself reads it.
    const files = cellFiles(graph.cell(id)?.facts.files ?? [], inputs.fileDigest);
    execution.identity = cellIdentity(key, source, producers, files, inputs.salt);
    return { execution, identity: execution.identity, analysed: graph.cell(id)! };
  }

  /** An earlier execution resolved again (to run it again: what it reads and writes). */
  resolve(ordinal: number): ResolvedExecution {
    const execution = this.executions[ordinal]!;
    const graph = this.graph();
    return { execution, identity: this.identityOf(execution), analysed: graph.cell(String(ordinal))! };
  }

  /** The graph over the whole history (built anew: it is small next to a cell's run, and executions only append). */
  private graph(): DependencyGraph {
    return new DependencyGraph(this.executions.map((e) => ({ id: String(e.ordinal), facts: (e.facts ??= analyseCell(e.source)) })));
  }

  private identityOf(execution: Execution): CellIdentity {
    if (execution.identity) return execution.identity;
    // Untracked: a fingerprint unique to this kernel and execution, so downstream cells never match a record.
    const own = sourceHash(execution.source);
    execution.identity = { id: execution.key, sourceHash: own, fingerprint: sha256(`untracked:${this.untrackedSalt}:${execution.ordinal}:${own}`), reads: [], files: [] };
    return execution.identity;
  }
}

/** A cell's key: the id the frontend sends (JupyterLab's `cellId`), else one derived from its source. */
export function cellKey(cellId: unknown, source: string): string {
  if (typeof cellId === "string" && cellId.trim()) return cellId;
  return `source-${sourceHash(source).slice(0, 16)}`;
}
