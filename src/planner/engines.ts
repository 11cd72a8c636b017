import type { DependencyGraph } from "../analysis/index.js";
import type { EngineBoundWrite } from "../common/engine-bound.js";
import type { CellPlan } from "./plan.js";
import type { RecordedCell } from "./recorded.js";

/**
 * Engines in the plan. An engine (a Dask cluster, a Parsl DataFlowKernel, a
 * Ray session) is global state the namespace does not show, so three rules
 * complete the value-by-value simulation of plan.ts:
 *
 * 1. A running cell that submitted work to an engine when it was recorded
 *    needs the cell that started that engine to run first.
 * 2. A running cell whose engine use is not known (new or edited) gets the
 *    recorded set-up cell of every engine it could use: one whose module or
 *    objects it names (directly or through the functions it calls).
 * 3. When a set-up cell runs again, the cells after it that acted on the
 *    engine object it made (`client.cluster.scale(10)`, a worker plugin, an
 *    uploaded file) run again too, in order: the new engine must be set up as
 *    the recorded one was.
 *
 * Values bound to an engine (futures, persisted collections, object refs)
 * are never restored: their producer runs again (see `engineBoundNeed`).
 */

export type Promote = (cell: CellPlan, reason: string) => void;

export interface EngineContext {
  cells: CellPlan[];
  graph: DependencyGraph;
  sources: Map<string, string>;
  label: (id: string) => string;
}

/** The engine families, by the label the shim reports ("dask:distributed" -> dask), and their top-level modules. */
const ENGINE_MODULES: Record<string, string[]> = { dask: ["dask", "distributed"], parsl: ["parsl"], ray: ["ray"] };

function family(engineLabel: string): string {
  return engineLabel.split(":")[0]!;
}

function familyOfModule(module: string): string | undefined {
  const top = module.split(".")[0]!;
  return Object.keys(ENGINE_MODULES).find((f) => ENGINE_MODULES[f]!.includes(top));
}

/** Returns true when it promoted a cell (the caller simulates again). */
export function promoteEngineCells(ctx: EngineContext, promote: Promote): boolean {
  return promoteRecordedUsers(ctx, promote) || promoteForUnknownUse(ctx, promote) || promoteEngineActions(ctx, promote);
}

/** Why a reused cell runs again: a running cell needs an engine-bound value it made. */
export function engineBoundNeed(write: EngineBoundWrite, producer: CellPlan, consumer: string): string {
  const tasks = servable(producer.record ?? producer.previous);
  const served = tasks > 0 ? `, its ${tasks} recorded task(s) served from the bundle` : "";
  return `\`${write.name}\` (needed by ${consumer}): ${write.reason}; it is never restored as data, so this cell runs again${served}`;
}

function servable(record: RecordedCell | undefined): number {
  return (record?.tasks ?? []).filter((t) => t.key !== null && (t.status === "hit" || t.status === "dispatched")).length;
}

function recorded(cell: CellPlan): RecordedCell | undefined {
  return cell.record ?? cell.previous;
}

function started(cell: CellPlan): string[] {
  return recorded(cell)?.engines?.started ?? [];
}

/** The nearest cell before `index` that the recorded run saw starting an engine for which `match` holds. */
function setupBefore(cells: CellPlan[], index: number, match: (engine: string) => boolean): { cell: CellPlan; engine: string } | undefined {
  for (let j = index - 1; j >= 0; j--) {
    const engine = started(cells[j]!).find(match);
    if (engine) return { cell: cells[j]!, engine };
  }
  return undefined;
}

/** Rule 1. */
function promoteRecordedUsers(ctx: EngineContext, promote: Promote): boolean {
  for (const [i, cell] of ctx.cells.entries()) {
    if (cell.decision !== "run") continue;
    for (const engine of recorded(cell)?.engines?.used ?? []) {
      const setup = setupBefore(ctx.cells, i, (e) => e === engine);
      if (setup?.cell.decision !== "reuse") continue;
      promote(setup.cell, `starts the ${engine} engine that ${ctx.label(cell.id)} submits tasks to (observed when they were recorded)`);
      return true;
    }
  }
  return false;
}

/** A cell's engine use is known when a record of this very source says what it submitted. */
function engineUseKnown(cell: CellPlan): boolean {
  if (cell.record) return true;
  return cell.previous !== undefined && cell.previous.source_hash === cell.identity.sourceHash;
}

/** Rule 2. */
function promoteForUnknownUse(ctx: EngineContext, promote: Promote): boolean {
  for (const [i, cell] of ctx.cells.entries()) {
    if (cell.decision !== "run" || engineUseKnown(cell)) continue;
    const families = new Set(ctx.cells.slice(0, i).flatMap((c) => started(c).map(family)));
    for (const f of [...families].sort()) {
      const setup = setupBefore(ctx.cells, i, (e) => family(e) === f);
      if (setup?.cell.decision !== "reuse") continue;
      const why = couldUse(ctx, cell, f, setup.cell);
      if (!why) continue;
      const what = cell.previous ? "is edited" : "is new";
      promote(setup.cell, `starts the ${setup.engine} engine that ${ctx.label(cell.id)} may use: it ${what}, so what it submits is not recorded, and ${why}`);
      return true;
    }
  }
  return false;
}

/**
 * Why `cell` could use the engine family `f` that `setup` starts, or undefined
 * when nothing it names reaches it: it imports from the engine, or reads a
 * name the set-up cell bound, a name imported from the engine, or a name made
 * by a cell that submitted work to it (an app, a remote function), unless
 * that cell recorded the name as plain data (`plainDataFrom`).
 */
function couldUse(ctx: EngineContext, cell: CellPlan, f: string, setup: CellPlan): string | undefined {
  if (cell.opaque) return "it is opaque to the analysis";
  const own = engineImports(ctx.sources.get(cell.id) ?? "");
  for (const [name, fam] of own) if (fam === f) return `it imports \`${name}\` from ${f}`;
  const setupBinds = ctx.graph.cell(setup.id)?.outputs ?? new Set<string>();
  // The most telling link first: a name the producer binds (an app it defines) over one it merely touches.
  let best: { rank: number; why: string } | undefined;
  const consider = (rank: number, why: string) => {
    if (!best || rank < best.rank) best = { rank, why };
  };
  for (const name of cell.inputs) {
    for (const producer of ctx.graph.producersOf(cell.id, name)) {
      if (producer === setup.id && setupBinds.has(name)) consider(0, `it uses \`${name}\` from ${ctx.label(setup.id)}`);
      if (engineImports(ctx.sources.get(producer) ?? "").get(name) === f) consider(1, `it uses \`${name}\`, imported from ${f} in ${ctx.label(producer)}`);
      const made = ctx.cells.find((c) => c.id === producer);
      if (made && (recorded(made)?.engines?.used ?? []).some((e) => family(e) === f) && !plainDataFrom(made, name, f)) {
        const binds = ctx.graph.cell(producer)?.facts.binds.has(name) ?? false;
        consider(binds ? 2 : 3, `it uses \`${name}\` from ${ctx.label(producer)}, which submitted ${f} tasks when recorded`);
      }
    }
  }
  return best?.why;
}

/**
 * Whether `name`, as the reused cell `made` recorded it, is data holding no
 * object of the engine family `f`: the results a cell gathered from its tasks
 * (numbers, arrays, frames), not a lazy collection, an app or a remote
 * function. A cell reading it cannot submit work to `f` through it, so it is
 * no reason to start the engine. Unknown (a record from an older shim, or a
 * producer that runs again and may make something else this time): it is.
 */
function plainDataFrom(made: CellPlan, name: string, f: string): boolean {
  if (made.decision !== "reuse" || !made.record) return false;
  const w = made.record.writes.find((x) => x.name === name);
  return w !== undefined && (w.status === "stored" || w.status === "unchanged") && w.reaches_engines !== undefined && !w.reaches_engines.includes(f);
}

/** Rule 3. */
function promoteEngineActions(ctx: EngineContext, promote: Promote): boolean {
  for (const [i, setup] of ctx.cells.entries()) {
    const engines = started(setup);
    if (setup.decision !== "run" || engines.length === 0) continue;
    const handles = engineHandles(ctx, setup);
    if (handles.size === 0) continue;
    for (let j = i + 1; j < ctx.cells.length; j++) {
      const later = ctx.cells[j]!;
      if (started(later).some((e) => engines.includes(e))) break; // a new engine from here on
      if (later.decision !== "reuse") continue;
      const facts = ctx.graph.cell(later.id)?.facts;
      const acted = [...(facts?.mutates ?? [])].filter((n) => handles.has(n) && !reboundBetween(ctx, n, i, j));
      // A cell that submitted tasks through the handle is a consumer, not a set-up step:
      // it runs again only when a running cell needs what it made.
      if (acted.length === 0 || (recorded(later)?.engines?.used ?? []).some((e) => engines.includes(e)) || (recorded(later)?.tasks?.length ?? 0) > 0) continue;
      promote(later, `acts on \`${acted.sort().join("`, `")}\`, the engine object ${ctx.label(setup.id)} creates again: it runs again after it, so the new engine is set up as the recorded one was`);
      return true;
    }
  }
  return false;
}

/** Whether a cell strictly between positions `from` and `to` binds `name` again (then `to` acts on another object). */
function reboundBetween(ctx: EngineContext, name: string, from: number, to: number): boolean {
  return ctx.cells.slice(from + 1, to).some((c) => ctx.graph.cell(c.id)?.facts.binds.has(name));
}

/** Names the set-up cell bound to live engine objects (recorded as unserialisable handles, such as a Client). */
function engineHandles(ctx: EngineContext, setup: CellPlan): Set<string> {
  const binds = ctx.graph.cell(setup.id)?.outputs ?? new Set<string>();
  const record = recorded(setup);
  const handles = new Set<string>();
  for (const w of record?.writes ?? []) if (binds.has(w.name) && w.status === "unserialisable") handles.add(w.name);
  return handles;
}

/**
 * Names a cell binds by importing from an engine's modules, with the engine
 * family: `import dask.array as da` -> da: dask, `from parsl.app.app import
 * python_app` -> python_app: parsl. Only import statements are read; the
 * rest of the cell is the analysis's business.
 */
export function engineImports(source: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = source.replace(/\(\s*([^)]*?)\s*\)/gs, (_, inner: string) => inner.replace(/\s*\n\s*/g, " "));
  for (const line of text.split("\n")) {
    const from = /^\s*from\s+([\w.]+)\s+import\s+(.+?)\s*(#.*)?$/.exec(line);
    if (from) {
      const f = familyOfModule(from[1]!);
      if (!f) continue;
      for (const part of from[2]!.split(",")) {
        const m = /^\s*(\w+)(?:\s+as\s+(\w+))?\s*$/.exec(part);
        if (m) out.set(m[2] ?? m[1]!, f);
      }
      continue;
    }
    const imp = /^\s*import\s+(.+?)\s*(#.*)?$/.exec(line);
    if (!imp) continue;
    for (const part of imp[1]!.split(",")) {
      const m = /^\s*([\w.]+)(?:\s+as\s+(\w+))?\s*$/.exec(part);
      const f = m && familyOfModule(m[1]!);
      if (m && f) out.set(m[2] ?? m[1]!.split(".")[0]!, f);
    }
  }
  return out;
}
