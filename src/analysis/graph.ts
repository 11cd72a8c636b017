import { PREDEFINED } from "./builtins.js";
import { analyseCell, type CellFacts } from "./facts.js";
import { isKnownPure } from "./known-pure.js";

/**
 * The notebook's data-flow graph between code cells, in notebook order.
 *
 * A cell's inputs are the names it needs from earlier cells (`facts.needs`:
 * read, mutated or deleted before the cell bound them itself; mutating or
 * deleting `x` needs the `x` some earlier cell left), plus, for every function
 * or class it uses, the globals that function reads when called (resolved at
 * the calling cell). Each input name resolves backwards through the earlier
 * cells that produce it (bind, mutate or delete it, or are opaque) down to the
 * nearest cell that binds it on every path: a conditional binder
 * (`if c: x = 1`), a mutator or an opaque cell does not hide the ones before
 * it. An opaque cell also depends on every cell before it, and may bind
 * anything. Edges are kept direct: a producer that is reached through another
 * edge (the `x` a mutator received) is not linked again, so the forward
 * closure is the same with far fewer edges.
 */

export interface CellInput {
  /** nbformat cell id: the identity of the cell across edits. */
  id: string;
  source: string;
}

export interface AnalysedCell {
  id: string;
  /** Position among the code cells given to buildGraph, from 0. */
  index: number;
  facts: CellFacts;
  /** Names the cell needs from earlier cells, after expanding the functions it calls. */
  inputs: Set<string>;
  /** Names the cell leaves changed for later cells. */
  outputs: Set<string>;
  /** Inputs no earlier cell produces and the cell does not bind itself: builtins, or names that will fail. */
  unresolved: Set<string>;
}

export interface Edge {
  from: string;
  to: string;
  /** The names flowing along the edge, sorted; `*` when `to` is opaque and `from` produces nothing named. */
  names: string[];
}

/**
 * Builds a `DependencyGraph` one cell at a time, in notebook order, so that
 * the graph can grow while later cells are still being analysed (see
 * `analyseNotebook`). `new DependencyGraph(cells)` is the same thing in one go.
 */
export class GraphBuilder {
  /** @internal */ readonly cells: AnalysedCell[] = [];
  /** @internal */ readonly byId = new Map<string, AnalysedCell>();
  /**
   * @internal Per cell (by index): each input name and the indices of its
   * direct producers, latest first; a lone producer as its bare index (most
   * are: this saves an array per name per cell).
   */
  readonly producers: Map<string, number | number[]>[] = [];
  /** @internal Per receiving cell (by index): producer index -> names along the edge. */
  readonly edgeNames: (Map<number, string[]> | undefined)[] = [];
  private readonly history = new Map<string, number[]>();
  private readonly opaqueAt: number[] = [];
  private built = false;

  get size(): number {
    return this.cells.length;
  }

  /** Append the next cell of the notebook. */
  add(id: string, facts: CellFacts): void {
    if (this.built) throw new Error("GraphBuilder.add after build()");
    if (this.byId.has(id)) throw new Error(`duplicate cell id '${id}'`);
    const { history, opaqueAt } = this;
    const index = this.cells.length;
    const cell: AnalysedCell = { id, index, facts, inputs: new Set(), outputs: new Set(), unresolved: new Set() };
    const resolved = new Map<string, number | number[]>();
    this.producers.push(resolved);
    let row: Map<number, string[]> | undefined;
    const addEdge = (from: number, name: string) => {
      row ??= this.edgeNames[index] = new Map();
      const names = row.get(from);
      // Few names per edge: a list beats a set.
      if (!names) row.set(from, [name]);
      else if (!names.includes(name)) names.push(name);
    };
    // Only what the cell needs from before it: `a = 3; print(a)` reads no earlier `a`.
    const pending = [...facts.needs];
    const extraMutates = new Set<string>();
    while (pending.length) {
      const name = pending.pop()!;
      if (cell.inputs.has(name)) continue;
      cell.inputs.add(name);
      const found = this.resolve(name);
      resolved.set(name, found.length === 1 ? found[0]! : found);
      if (found.length === 0 && !facts.binds.has(name)) cell.unresolved.add(name);
      for (const i of found) {
        addEdge(i, name);
        // Calling (or otherwise using) a function reaches the globals it uses.
        const fn = this.cells[i]!.facts.functions.get(name);
        if (fn) {
          for (const r of fn.reads) pending.push(r);
          for (const m of fn.mutates) {
            pending.push(m);
            extraMutates.add(m);
          }
        }
      }
    }
    if (facts.opaque) {
      // Everything before the previous opaque cell is reached through it.
      const since = opaqueAt.length ? opaqueAt[opaqueAt.length - 1]! : 0;
      for (let i = since; i < index; i++) {
        const earlier = this.cells[i]!;
        if (earlier.outputs.size === 0) addEdge(i, "*");
        else {
          // All of a cell's outputs at once: no quadratic `includes` for a cell with many.
          row ??= this.edgeNames[index] = new Map();
          const names = row.get(i);
          if (!names) row.set(i, [...earlier.outputs]);
          else {
            const had = new Set(names);
            for (const name of earlier.outputs) if (!had.has(name)) names.push(name);
          }
        }
      }
    }
    for (const set of [facts.binds, this.effectiveMutates(facts), facts.deletes, extraMutates]) for (const name of set) cell.outputs.add(name);
    for (const name of cell.outputs) {
      const list = history.get(name);
      if (list) list.push(index);
      else history.set(name, [index]);
    }
    if (facts.opaque) opaqueAt.push(index);
    this.cells.push(cell);
    this.byId.set(id, cell);
  }

  /**
   * What the cell may change in place, once its calls are known: a call to a
   * function known not to mutate (known-pure.ts: `print(y)`, `len(v)`,
   * `np.sum(x)` with `np` imported as numpy) changes neither its arguments
   * nor the module it goes through.
   */
  private effectiveMutates(facts: CellFacts): Set<string> {
    if (facts.calls.length === 0) return facts.mutatesAlways;
    const out = new Set(facts.mutatesAlways);
    for (const call of facts.calls) {
      const bound = this.boundName(call.root);
      const qualified = bound === undefined ? undefined : bound + call.callee.slice(call.root.length);
      if (qualified === undefined || !isKnownPure(qualified, call.keywords)) for (const n of call.names) out.add(n);
    }
    return out;
  }

  /**
   * The qualified name of what `name` is bound to for the next cell: `numpy`
   * when the latest cell that binds it imported it there (`import numpy as
   * np`) on every path, and no opaque cell came after; `builtins.print` when
   * no cell binds `print`. Undefined when anything else may hold it.
   */
  private boundName(name: string): string | undefined {
    const list = this.history.get(name) ?? [];
    const lastOpaque = this.opaqueAt.length ? this.opaqueAt[this.opaqueAt.length - 1]! : -1;
    for (let k = list.length - 1; k >= 0; k--) {
      const cell = this.cells[list[k]!]!;
      if (list[k]! < lastOpaque) return undefined;
      if (cell.facts.deletes.has(name)) return undefined;
      // A cell that only changed it in place (`np.random.seed(0)`) leaves the module bound.
      if (!cell.facts.binds.has(name)) continue;
      return cell.facts.definiteBinds.has(name) ? cell.facts.imports.get(name) : undefined;
    }
    return lastOpaque < 0 && PREDEFINED.has(name) ? `builtins.${name}` : undefined;
  }

  /** The graph of the cells added so far. The builder cannot be added to afterwards. */
  build(): DependencyGraph {
    this.built = true;
    return new DependencyGraph(this);
  }

  /**
   * The earlier cells (latest first) a cell reading `name` must depend on
   * directly. Walking back from the latest producer, the walk stops at a cell
   * that binds `name` on every path, at one that itself needs `name` (a
   * mutator, `x = x + 1`: it depends on the earlier producers, so they are
   * reached through it) and at an opaque cell (it depends on everything
   * before it). Only a cell that may or may not bind `name` without reading
   * it (`if c: x = 1`, a loop target) lets the walk go further.
   */
  private resolve(name: string): number[] {
    const list = this.history.get(name) ?? [];
    const { opaqueAt } = this;
    const lastOpaque = opaqueAt.length ? opaqueAt[opaqueAt.length - 1]! : -1;
    const out: number[] = [];
    for (let k = list.length - 1; k >= 0; k--) {
      const i = list[k]!;
      if (i < lastOpaque) break;
      out.push(i);
      const facts = this.cells[i]!;
      if (facts.facts.definiteBinds.has(name) || facts.inputs.has(name) || facts.facts.opaque) return out;
    }
    if (lastOpaque >= 0 && !out.includes(lastOpaque)) out.push(lastOpaque);
    return out;
  }
}

export class DependencyGraph {
  readonly cells: AnalysedCell[];
  readonly edges: Edge[];
  private readonly byId: Map<string, AnalysedCell>;
  /** Per cell (by index): each input name and the indices of its direct producers, latest first. */
  private readonly producers: Map<string, number | number[]>[];
  private readonly forward = new Map<string, Set<string>>();

  constructor(cells: { id: string; facts: CellFacts }[] | GraphBuilder) {
    let builder: GraphBuilder;
    if (cells instanceof GraphBuilder) builder = cells;
    else {
      builder = new GraphBuilder();
      for (const { id, facts } of cells) builder.add(id, facts);
    }
    this.cells = builder.cells;
    this.byId = builder.byId;
    this.producers = builder.producers;
    this.edges = [];
    for (let to = 0; to < this.cells.length; to++) {
      const row = builder.edgeNames[to];
      if (!row) continue;
      const toId = this.cells[to]!.id;
      const froms = [...row.keys()].sort((a, b) => a - b);
      for (const from of froms) {
        const fromId = this.cells[from]!.id;
        this.edges.push({ from: fromId, to: toId, names: row.get(from)!.sort() });
        link(this.forward, fromId, toId);
      }
    }
  }

  cell(id: string): AnalysedCell | undefined {
    return this.byId.get(id);
  }

  /** The latest earlier cell that produces `name` as cell `cellId` reads it. */
  producerOf(cellId: string, name: string): string | undefined {
    return this.producersOf(cellId, name)[0];
  }

  /**
   * The earlier cells `cellId` depends on directly for `name`, latest first
   * (earlier producers are reached through these; see `resolve`).
   */
  producersOf(cellId: string, name: string): string[] {
    const cell = this.byId.get(cellId);
    const found = cell && this.producers[cell.index]!.get(name);
    if (found === undefined) return [];
    return typeof found === "number" ? [this.cells[found]!.id] : found.map((i) => this.cells[i]!.id);
  }

  /** Edges into a cell. */
  dependenciesOf(cellId: string): Edge[] {
    return this.edges.filter((e) => e.to === cellId);
  }

  /**
   * The changed cells and every cell downstream of them. With `previous` (the
   * graph of the notebook before the edit), cells that depended on a changed
   * cell there are included too: a cell that stopped binding `x` still
   * invalidates the cells that used to read its `x`.
   */
  invalidated(changedIds: Iterable<string>, previous?: DependencyGraph): Set<string> {
    const seeds = new Set(changedIds);
    if (previous) for (const id of previous.invalidated(seeds)) seeds.add(id);
    const out = new Set<string>();
    const queue = [...seeds].filter((id) => this.byId.has(id));
    for (const id of queue) out.add(id);
    while (queue.length) {
      const id = queue.pop()!;
      for (const next of this.forward.get(id) ?? []) {
        if (!out.has(next)) {
          out.add(next);
          queue.push(next);
        }
      }
    }
    return out;
  }
}

function link(map: Map<string, Set<string>>, from: string, to: string): void {
  let set = map.get(from);
  if (!set) map.set(from, (set = new Set()));
  set.add(to);
}

/** Analyse each cell and build the graph. `loadPythonParser()` must have resolved. */
export function buildGraph(cells: CellInput[]): DependencyGraph {
  return new DependencyGraph(cells.map((c) => ({ id: c.id, facts: analyseCell(c.source) })));
}
