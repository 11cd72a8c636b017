/**
 * Python's scopes, as CPython's symtable builds them: module, function
 * (def and lambda), class and comprehension blocks, each with the names it
 * binds, declares global or nonlocal, and uses. `resolve` answers where a
 * name used in a block lives, with the compiler's rules:
 *
 *  - a name bound in a function (or comprehension) is local to it unless
 *    declared `global` / `nonlocal`;
 *  - a free name is looked up in enclosing function blocks, skipping class
 *    blocks (methods do not see class attributes), and is global otherwise;
 *  - in a class body a bound name is looked up with LOAD_NAME: class
 *    namespace first, then globals. A use of it may therefore read the
 *    global of that name (`class A: x = x`), which we count as a read.
 */

/** A call the analysis may find known not to mutate (analysis/known-pure.ts). */
export interface PendingCall {
  /** The callee as written: `np.linalg.norm`. */
  callee: string;
  root: string;
  keywords: string[];
  /** Root names of the receiver and the arguments: what the call would count as mutated. */
  names: string[];
  /** The cell had bound `root` itself on every path to the call. */
  rootBoundBefore: boolean;
}

export type ScopeKind = "module" | "function" | "class" | "comprehension";

/** Where a use resolves: the module namespace, or somewhere that is not it. */
export type Resolution = "global" | "class-or-global" | "local" | "free";

export class Scope {
  readonly children: Scope[] = [];
  /** Every name the block binds (assignment, parameter, import, def, del, ...). */
  readonly local = new Set<string>();
  /** Bound by something other than `del` or a bare annotation. */
  readonly stored = new Set<string>();
  readonly declaredGlobal = new Set<string>();
  readonly declaredNonlocal = new Set<string>();
  readonly used = new Set<string>();
  readonly mutated = new Set<string>();
  readonly deleted = new Set<string>();
  /** Used (or deleted) at a point where the cell may not yet have bound the module name itself. */
  readonly usedUpstream = new Set<string>();
  readonly deletedUpstream = new Set<string>();
  /** Calls through a dotted name (`print(x)`, `np.sum(x)`) whose mutations depend on what the callee is. */
  readonly calls: PendingCall[] = [];

  constructor(
    readonly kind: ScopeKind,
    readonly parent: Scope | null,
    /** The module-level def/class (or `name = lambda`) this block belongs to, if any. */
    readonly owner: string | null,
  ) {
    parent?.children.push(this);
  }

  bind(name: string): void {
    this.local.add(name);
    this.stored.add(name);
  }

  resolve(name: string): Resolution {
    if (this.kind === "module") return "global";
    if (this.declaredGlobal.has(name)) return "global";
    if (this.declaredNonlocal.has(name)) return "free";
    if (this.local.has(name)) return this.kind === "class" ? "class-or-global" : "local";
    for (let p = this.parent; p && p.kind !== "module"; p = p.parent) {
      if (p.kind === "class") continue;
      if (p.declaredGlobal.has(name)) return "global";
      if (p.local.has(name) || p.declaredNonlocal.has(name)) return "free";
    }
    return "global";
  }

  /** True when a use of `name` here may read the module namespace. */
  readsGlobal(name: string): boolean {
    const r = this.resolve(name);
    return r === "global" || r === "class-or-global";
  }

  /** True when binding `name` here binds it in the module namespace. */
  bindsGlobal(name: string): boolean {
    return this.resolve(name) === "global";
  }

  /** The nearest block that is not a comprehension (where a walrus binds). */
  walrusTarget(): Scope {
    if (this.kind !== "comprehension" || !this.parent) return this;
    return this.parent.walrusTarget();
  }
}
