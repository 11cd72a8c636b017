import { preprocessIPython, TIMEIT_FUNCTION } from "./ipython.js";
import { isKnownPure } from "./known-pure.js";
import { parseToTree, type SyntaxNode } from "./parser.js";
import { Scope, type PendingCall } from "./scope.js";

/**
 * What one code cell does to the notebook's global namespace.
 *
 * Every set holds top-level (module) names. Where Python is dynamic the facts
 * err towards more, never fewer:
 *  - `reads` counts every use that may reach the module namespace, wherever it
 *    is: top level, function and lambda bodies (they read globals when called,
 *    so the defining cell depends on them), class bodies, decorators, defaults,
 *    comprehensions. A name read after the cell itself bound it still counts.
 *  - `mutates` counts the root name of any attribute or item store
 *    (`x.a.b = 1`, `x[i] += 1`, `del x[i]`), of any method call (`x.append(1)`,
 *    `np.random.seed(0)`), and of any argument passed to a call (`f(x)`,
 *    `shuffle(x.items)`), since the callee may change it in place.
 *  - `binds` counts assignments, imports, def/class, loop/with/except/match
 *    targets, walrus targets (also from comprehensions) and `global` stores in
 *    functions; `definiteBinds` is the part bound on every path through the
 *    cell (straight-line top-level statements), used by the graph to know
 *    where a name's history stops.
 */
export interface CellFacts {
  binds: Set<string>;
  definiteBinds: Set<string>;
  reads: Set<string>;
  mutates: Set<string>;
  deletes: Set<string>;
  /**
   * The names the cell needs as an earlier cell left them: reads (and
   * deletes) that can happen before the cell itself has bound or deleted the
   * name on every path to them. `a = 3; print(a)` needs nothing; `print(a);
   * a = 3` needs `a`. A binding kills the earlier value for the rest of the
   * block it is in (a straight line of statements): one inside an `if`, a loop
   * or a `try` counts only after it in that same block; a loop target is
   * bound inside the loop body, a `with ... as` target after `__enter__`, an
   * `except ... as` name inside its handler. Function and class bodies see
   * the names bound before their `def`/`class` (they run after it).
   */
  needs: Set<string>;
  /** False, or why the cell must be assumed to read and bind anything. */
  opaque: false | { reason: string; reasons: string[] };
  syntaxError?: { line: number; column: number; message: string };
  /**
   * For each function or class the cell defines at top level (and each
   * `name = lambda ...`), the globals its body reads and mutates when it is
   * called: a cell that calls it later depends on them too.
   */
  functions: Map<string, { reads: Set<string>; mutates: Set<string> }>;
  /** Effects outside the namespace: shell commands, magics. For reports. */
  effects: string[];
  /**
   * The part of `mutates` that holds whatever the cell's callees are. The
   * rest comes from `calls`, which the graph checks against the table of
   * calls known not to mutate (known-pure.ts) once it knows what each
   * callee's root name is bound to.
   */
  mutatesAlways: Set<string>;
  /** Module-level calls through a name bound before the cell (`print(x)`, `np.sum(x)`): see `mutatesAlways`. */
  calls: { callee: string; root: string; keywords: string[]; names: string[] }[];
  /** Names whose only binding in the cell is one import, with the module path they are bound to (`np` → `numpy`). */
  imports: Map<string, string>;
  /** Files whose content decides what the cell does, as written in it: the script of a `%run`. */
  files: string[];
}

/** Builtins whose use lets code read or write any variable. */
const OPAQUE_BUILTINS: Record<string, string> = {
  exec: "calls exec()",
  eval: "calls eval()",
  globals: "uses globals()",
  locals: "uses locals()",
  vars: "uses vars()",
  get_ipython: "uses get_ipython(), which can run arbitrary code",
};

const TARGET_GROUPS = new Set(["pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "expression_list", "parenthesized_expression", "as_pattern_target", "list_splat_pattern", "list_splat"]);

/**
 * Analyse one cell's source (IPython dialect included). Never throws: a cell
 * that does not parse gets `syntaxError` and is opaque.
 */
export function analyseCell(source: string): CellFacts {
  try {
    return analyse(source);
  } catch (err) {
    return {
      binds: new Set(),
      definiteBinds: new Set(),
      reads: new Set(),
      mutates: new Set(),
      deletes: new Set(),
      needs: new Set(),
      opaque: { reason: `analysis failed: ${(err as Error).message}`, reasons: [`analysis failed: ${(err as Error).message}`] },
      functions: new Map(),
      effects: [],
      mutatesAlways: new Set(),
      calls: [],
      imports: new Map(),
      files: [],
    };
  }
}

function analyse(source: string): CellFacts {
  const pre = preprocessIPython(source);
  const parsed = parseToTree(pre.python);
  const walker = new Walker();
  if (pre.timedBody) walker.functionBody(parsed.root);
  else walker.block(parsed.root);
  const reasons = [...pre.opaque, ...walker.reasons];
  let syntaxError = parsed.error;
  if (!syntaxError && walker.py2) syntaxError = walker.py2;
  if (syntaxError) reasons.unshift(`syntax error at line ${syntaxError.line}:${syntaxError.column}: ${syntaxError.message}`);
  const facts: CellFacts = {
    binds: new Set(pre.binds),
    definiteBinds: new Set(pre.binds),
    reads: new Set(),
    mutates: new Set(),
    deletes: new Set(),
    needs: new Set(),
    opaque: false,
    functions: new Map(),
    effects: pre.effects,
    mutatesAlways: new Set(),
    calls: [],
    imports: new Map(),
    files: pre.files,
  };
  if (syntaxError) facts.syntaxError = syntaxError;
  const pending: { scope: Scope; call: PendingCall }[] = [];
  collect(walker.module, facts, reasons, pending);
  for (const [name, path] of walker.importPaths) if (path !== null && walker.moduleBinds.get(name) === 1 && !walker.nestedGlobalBinds.has(name)) facts.imports.set(name, path);
  settleCalls(pending, facts);
  for (const name of topLevelDefinite(parsed.root)) if (facts.binds.has(name)) facts.definiteBinds.add(name);
  for (const name of facts.deletes) facts.definiteBinds.delete(name);
  for (const set of [facts.binds, facts.definiteBinds, facts.needs, facts.reads]) set.delete(TIMEIT_FUNCTION);
  facts.functions.delete(TIMEIT_FUNCTION);
  if (reasons.length) facts.opaque = { reason: reasons.join("; "), reasons };
  return facts;
}

/**
 * Calls whose callee may be known not to mutate: decided here when the cell
 * itself imported the root name before the call, left to the graph when the
 * root comes from an earlier cell (or is a builtin), conservative otherwise.
 */
function settleCalls(pending: { scope: Scope; call: PendingCall }[], facts: CellFacts): void {
  for (const { scope, call } of pending) {
    const names = call.names.filter((n) => scope.readsGlobal(n));
    if (names.length === 0) continue;
    for (const n of names) facts.mutates.add(n);
    const rest = call.callee.slice(call.root.length);
    if (!scope.readsGlobal(call.root)) {
      for (const n of names) facts.mutatesAlways.add(n);
    } else if (!facts.binds.has(call.root)) {
      facts.calls.push({ callee: call.callee, root: call.root, keywords: call.keywords, names });
    } else {
      const module = call.rootBoundBefore ? facts.imports.get(call.root) : undefined;
      if (module === undefined || !isKnownPure(module + rest, call.keywords)) for (const n of names) facts.mutatesAlways.add(n);
    }
  }
}

/** Turn the scope tree into module-level facts. */
function collect(scope: Scope, facts: CellFacts, reasons: string[], pending: { scope: Scope; call: PendingCall }[]): void {
  // A module-level class body runs when the class is defined, not when it is used.
  const definingBody = scope.kind === "class" && scope.parent?.kind === "module";
  const fn = scope.owner === null || definingBody ? undefined : functionEntry(facts, scope.owner);
  for (const name of scope.used) {
    if (!scope.readsGlobal(name)) continue;
    const why = OPAQUE_BUILTINS[name];
    if (why && !reasons.includes(why)) reasons.push(why);
    facts.reads.add(name);
    fn?.reads.add(name);
  }
  for (const name of scope.mutated) {
    if (!scope.readsGlobal(name)) continue;
    facts.mutates.add(name);
    facts.mutatesAlways.add(name);
    fn?.mutates.add(name);
  }
  for (const call of scope.calls) pending.push({ scope, call });
  for (const name of scope.deleted) {
    if (scope.bindsGlobal(name)) facts.deletes.add(name);
  }
  for (const name of scope.usedUpstream) if (scope.readsGlobal(name)) facts.needs.add(name);
  for (const name of scope.deletedUpstream) if (scope.bindsGlobal(name)) facts.needs.add(name);
  for (const name of scope.stored) {
    if (scope.bindsGlobal(name)) facts.binds.add(name);
  }
  for (const child of scope.children) collect(child, facts, reasons, pending);
}

function functionEntry(facts: CellFacts, name: string): { reads: Set<string>; mutates: Set<string> } {
  let entry = facts.functions.get(name);
  if (!entry) facts.functions.set(name, (entry = { reads: new Set(), mutates: new Set() }));
  return entry;
}

/** Names bound on every path: straight-line top-level statements (and `with` bodies). */
function topLevelDefinite(block: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (const stmt of block.children) {
    for (const name of boundBy(stmt)) out.add(name);
    if (stmt.type === "with_statement") for (const name of topLevelDefinite(field(stmt, "body") ?? EMPTY)) out.add(name);
  }
  return out;
}

/** The names `node`'s identifiers bind when `node` is an assignment target. */
function targetNames(node: SyntaxNode | undefined, out: string[] = []): string[] {
  if (!node) return out;
  if (node.type === "identifier") out.push(node.text);
  else if (TARGET_GROUPS.has(node.type)) for (const c of node.children) targetNames(c, out);
  return out;
}

/**
 * The names one statement binds whenever it completes, not counting what its
 * nested blocks bind: assignments, imports, def/class, `with ... as` targets.
 */
function boundBy(stmt: SyntaxNode): string[] {
  const out: string[] = [];
  switch (stmt.type) {
    case "expression_statement":
      for (const e of stmt.children) {
        if (e.type === "assignment") {
          let a: SyntaxNode | undefined = e;
          while (a && a.type === "assignment") {
            const right = field(a, "right");
            if (right) targetNames(field(a, "left"), out);
            a = right;
          }
        } else if (e.type === "augmented_assignment") targetNames(field(e, "left"), out);
      }
      break;
    case "import_statement":
    case "import_from_statement":
    case "future_import_statement":
      for (const c of stmt.children) if (c.field === "name") out.push(importedName(c, stmt.type === "import_statement"));
      break;
    case "function_definition":
    case "class_definition":
      out.push(field(stmt, "name")?.text ?? "");
      break;
    case "decorated_definition":
      out.push(field(field(stmt, "definition"), "name")?.text ?? "");
      break;
    case "with_statement":
      for (const clause of stmt.children) {
        if (clause.type !== "with_clause") continue;
        for (const item of clause.children) {
          const value = field(item, "value");
          if (value?.type === "as_pattern") targetNames(field(value, "alias"), out);
        }
      }
      break;
    default:
      break;
  }
  return out;
}

const EMPTY: SyntaxNode = { type: "block", field: null, children: [], text: "" };

function field(node: SyntaxNode | undefined, name: string): SyntaxNode | undefined {
  if (!node) return undefined;
  for (const c of node.children) if (c.field === name) return c;
  return undefined;
}

/** `import a.b.c` binds `a`; `import a.b as c` and `from m import x as c` bind `c`. */
function importedName(node: SyntaxNode, plainImport: boolean): string {
  if (node.type === "aliased_import") return field(node, "alias")?.text ?? "";
  if (node.type === "dotted_name") {
    const parts = node.children.filter((c) => c.type === "identifier");
    return (plainImport ? parts[0] : parts[parts.length - 1])?.text ?? "";
  }
  return node.text;
}

/** `a.b.c` for a callee that is a plain chain of names, else undefined. */
function dottedName(node: SyntaxNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === "identifier") return node.text;
  if (node.type !== "attribute") return undefined;
  const object = dottedName(field(node, "object"));
  const attr = field(node, "attribute")?.text;
  return object && attr ? `${object}.${attr}` : undefined;
}

/** The module path an imported name is bound to: `numpy` for `import numpy as np`, `os.path.join` for `from os.path import join`; null for relative imports. */
function importedPath(node: SyntaxNode, stmt: SyntaxNode): string | null {
  const target = node.type === "aliased_import" ? node.children.find((c) => c.type === "dotted_name") : node;
  const dotted = dottedText(target);
  if (stmt.type === "import_statement") return node.type === "aliased_import" ? dotted : dotted.split(".")[0]!;
  const module = field(stmt, "module_name");
  if (!module || module.type !== "dotted_name") return null;
  return `${dottedText(module)}.${dotted}`;
}

/** `a.b.c` from a dotted_name node (inner nodes carry no text of their own). */
function dottedText(node: SyntaxNode | undefined): string {
  if (!node) return "";
  if (node.type === "identifier") return node.text;
  return node.children
    .filter((c) => c.type === "identifier")
    .map((c) => c.text)
    .join(".");
}

/** The name an expression's value hangs from: `x` for `x.a[0].f()`. */
function rootName(node: SyntaxNode | undefined, throughCalls: boolean): string | undefined {
  while (node) {
    switch (node.type) {
      case "identifier":
        return node.text;
      case "attribute":
        node = field(node, "object");
        break;
      case "subscript":
        node = field(node, "value");
        break;
      case "call":
        if (!throughCalls) return undefined;
        node = field(node, "function");
        break;
      case "parenthesized_expression":
      case "list_splat":
      case "dictionary_splat":
        node = node.children[0];
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** One pass over the tree building the scope tree. */
class Walker {
  readonly module = new Scope("module", null, null);
  private scope = this.module;
  readonly reasons = new Set<string>();
  /** The first error CPython reports and tree-sitter does not (Python 2 statements, missing indent). */
  py2: { line: number; column: number; message: string } | undefined;

  /**
   * Module names whose value from before the cell is gone at this point of
   * the walk: bound or deleted by a statement that has completed on every
   * path here. Only grows along a straight line of statements; a nested
   * block works on a copy (see `block`).
   */
  private killed = new Set<string>();

  /** The module's statements, then nested blocks with what they bind on entry (a loop target, an `except` name). */
  block(node: SyntaxNode, boundOnEntry: string[] = []): void {
    if (node.type === "block" && !node.children.some((c) => c.type !== "comment")) {
      // tree-sitter accepts `def f():` followed by an unindented line.
      const line = (node.line ?? 0) + (node.column !== undefined && node.column > 1 ? 1 : 0);
      this.py2 ??= { line, column: 1, message: "expected an indented block" };
    }
    const nested = node.type !== "module";
    const saved = this.killed;
    // What a nested block binds counts inside it only: it may not run, or stop half-way.
    if (nested) this.killed = new Set(saved);
    this.kill(boundOnEntry);
    for (const stmt of node.children) {
      this.statement(stmt);
      this.kill(boundBy(stmt));
      if (stmt.type === "delete_statement") this.kill(stmt.children.flatMap((c) => targetNames(c)));
    }
    if (nested) this.killed = saved;
  }

  /** Names the module namespace now holds the cell's own value for (a function's own bindings are its locals). */
  private kill(names: string[]): void {
    if (this.scope.kind !== "module") return;
    for (const name of names) this.killed.add(name);
  }

  private use(name: string): void {
    this.scope.used.add(name);
    if (!this.killed.has(name)) this.scope.usedUpstream.add(name);
  }

  /** Module names bound by an import, with the module path (null when a name is imported twice, differently). */
  readonly importPaths = new Map<string, string | null>();
  /** How many binding sites each module name has in the cell. */
  readonly moduleBinds = new Map<string, number>();
  /** A %%timeit cell: its statements are the body of a function IPython compiles (what they bind is local). */
  functionBody(root: SyntaxNode): void {
    const scope = new Scope("function", this.module, null);
    this.inScope(scope, () => this.block(root));
  }

  /** Module names a function binds through `global`. */
  readonly nestedGlobalBinds = new Set<string>();

  private bind(name: string): void {
    this.scope.bind(name);
    if (this.scope.kind === "module") this.moduleBinds.set(name, (this.moduleBinds.get(name) ?? 0) + 1);
    else if (this.scope.declaredGlobal.has(name)) this.nestedGlobalBinds.add(name);
  }

  private mutate(node: SyntaxNode | undefined, throughCalls: boolean): void {
    const root = rootName(node, throughCalls);
    if (root) this.scope.mutated.add(root);
  }

  private inScope<T>(scope: Scope, fn: () => T): T {
    const saved = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = saved;
    }
  }

  private newScope(kind: "function" | "class" | "comprehension", owner: string | null): Scope {
    const inherited = this.scope.kind === "module" ? owner : this.scope.owner;
    return new Scope(kind, this.scope, inherited);
  }

  statement(node: SyntaxNode): void {
    switch (node.type) {
      case "expression_statement":
        for (const e of node.children) this.expression(e);
        return;
      case "function_definition":
        this.functionDef(node);
        return;
      case "class_definition":
        this.classDef(node);
        return;
      case "decorated_definition":
        for (const c of node.children) {
          if (c.type === "decorator") for (const e of c.children) this.expression(e);
          else this.statement(c);
        }
        return;
      case "import_statement":
      case "import_from_statement":
      case "future_import_statement":
        for (const c of node.children) {
          if (c.field !== "name") {
            if (c.type === "wildcard_import") this.reasons.add("from ... import * binds names the analysis cannot see");
            continue;
          }
          const name = importedName(c, node.type === "import_statement");
          this.bind(name);
          if (this.scope.kind === "module") {
            const path = importedPath(c, node);
            const seen = this.importPaths.get(name);
            this.importPaths.set(name, seen === undefined || seen === path ? path : null);
          }
        }
        return;
      case "global_statement":
        for (const c of node.children) if (c.type === "identifier") this.scope.declaredGlobal.add(c.text);
        return;
      case "nonlocal_statement":
        for (const c of node.children) if (c.type === "identifier") this.scope.declaredNonlocal.add(c.text);
        return;
      case "delete_statement":
        for (const c of node.children) this.deleteTarget(c);
        return;
      case "for_statement":
        this.expression(field(node, "right"));
        this.target(field(node, "left"));
        for (const c of node.children) {
          if (c.field === "body" && c.type === "block") this.block(c, targetNames(field(node, "left")));
          else if (c.field === "body" || c.field === "alternative") this.statementLike(c);
        }
        return;
      case "with_statement":
        for (const c of node.children) {
          if (c.type === "with_clause") {
            for (const item of c.children) for (const v of item.children) this.asPattern(v);
          } else if (c.type === "block") this.block(c, boundBy(node));
          else this.statementLike(c);
        }
        return;
      case "try_statement":
        for (const c of node.children) {
          if (c.type === "except_clause" || c.type === "except_group_clause") {
            const bound: string[] = [];
            for (const part of c.children) {
              if (part.field === "alias") bound.push(...targetNames(part));
              else if (part.type === "as_pattern") bound.push(...targetNames(field(part, "alias")));
            }
            for (const part of c.children) {
              if (part.type === "block") this.block(part, bound);
              else if (part.field === "alias") this.target(part);
              else this.asPattern(part);
            }
          } else this.statementLike(c);
        }
        return;
      case "match_statement":
        for (const c of node.children) {
          if (c.field === "subject") this.expression(c);
          else if (c.type === "block") {
            for (const clause of c.children) {
              if (clause.type !== "case_clause") continue;
              for (const part of clause.children) {
                if (part.field === "guard") this.expression(part);
                else if (part.type === "block") this.block(part);
                else this.pattern(part);
              }
            }
          } else this.expression(c);
        }
        return;
      case "type_alias_statement": {
        const left = field(node, "left");
        const name = left && findFirst(left, "identifier");
        if (name) this.bind(name.text);
        this.expression(field(node, "right"));
        return;
      }
      case "print_statement":
      case "exec_statement":
        this.py2 ??= {
          line: node.line ?? 1,
          column: node.column ?? 1,
          message: node.type === "print_statement" ? "Missing parentheses in call to 'print'" : "Missing parentheses in call to 'exec'",
        };
        if (node.type === "exec_statement") this.use("exec");
        for (const c of node.children) this.expression(c);
        return;
      default:
        for (const c of node.children) this.statementLike(c);
    }
  }

  /** Blocks, clauses and anything else: statements inside, expressions otherwise. */
  private statementLike(node: SyntaxNode): void {
    switch (node.type) {
      case "block":
      case "module":
        this.block(node);
        return;
      case "else_clause":
      case "finally_clause":
      case "elif_clause":
      case "if_statement":
      case "while_statement":
      case "ERROR":
        for (const c of node.children) this.statementLike(c);
        return;
      default:
        if (STATEMENTS.has(node.type)) this.statement(node);
        else this.expression(node);
    }
  }

  /** `expr as target` (with items, except clauses) or a plain expression. */
  private asPattern(node: SyntaxNode): void {
    if (node.type === "as_pattern") {
      for (const c of node.children) {
        if (c.field === "alias") this.target(c);
        else this.expression(c);
      }
    } else this.expression(node);
  }

  private functionDef(node: SyntaxNode): void {
    const name = field(node, "name")?.text ?? "";
    const params: string[] = [];
    for (const c of node.children) {
      if (c.field === "parameters") this.parameters(c, params);
      else if (c.field === "return_type" || c.field === "type_parameters") this.expression(c);
    }
    this.bind(name);
    const scope = this.newScope("function", name);
    for (const p of params) scope.bind(p);
    const body = field(node, "body");
    if (body) this.inScope(scope, () => this.block(body));
  }

  private classDef(node: SyntaxNode): void {
    const name = field(node, "name")?.text ?? "";
    for (const c of node.children) if (c.field === "superclasses" || c.field === "type_parameters") this.expression(c);
    this.bind(name);
    const scope = this.newScope("class", name);
    const body = field(node, "body");
    if (body) this.inScope(scope, () => this.block(body));
  }

  /** Collect parameter names; visit defaults and annotations in the current scope. */
  private parameters(node: SyntaxNode, names: string[]): void {
    for (const p of node.children) {
      switch (p.type) {
        case "identifier":
          names.push(p.text);
          break;
        case "default_parameter":
        case "typed_default_parameter":
        case "typed_parameter":
          for (const c of p.children) {
            if (c.field === "value" || c.field === "type") this.expression(c);
            else if (c.type === "identifier") names.push(c.text);
            else this.parameters({ ...c, children: [c] }, names);
          }
          break;
        case "list_splat_pattern":
        case "dictionary_splat_pattern":
        case "tuple_pattern":
          this.parameters(p, names);
          break;
        default:
          break;
      }
    }
  }

  private comprehension(node: SyntaxNode): void {
    const clauses = node.children.filter((c) => c.type === "for_in_clause" || c.type === "if_clause");
    const first = clauses[0];
    // The first iterable is evaluated in the enclosing scope.
    if (first?.type === "for_in_clause") this.expression(field(first, "right"));
    const scope = this.newScope("comprehension", null);
    this.inScope(scope, () => {
      for (const clause of clauses) {
        if (clause.type === "for_in_clause") {
          if (clause !== first) this.expression(field(clause, "right"));
          this.target(field(clause, "left"));
        } else for (const c of clause.children) this.expression(c);
      }
      for (const c of node.children) if (c.field === "body") this.expression(c);
    });
  }

  private lambda(node: SyntaxNode, owner: string | null): void {
    const params: string[] = [];
    const p = field(node, "parameters");
    if (p) this.parameters(p, params);
    const scope = this.newScope("function", owner);
    for (const name of params) scope.bind(name);
    this.inScope(scope, () => this.expression(field(node, "body")));
  }

  /** A walrus binds in the nearest enclosing non-comprehension block. */
  private walrus(name: string): void {
    const target = this.scope.walrusTarget();
    if (target === this.scope) {
      this.bind(name);
      return;
    }
    target.bind(name);
    const global = target.kind === "module" || target.declaredGlobal.has(name);
    for (let s: Scope | null = this.scope; s && s !== target; s = s.parent) {
      if (global) {
        s.declaredGlobal.add(name);
        s.stored.add(name);
      } else s.declaredNonlocal.add(name);
    }
  }

  expression(node: SyntaxNode | undefined): void {
    if (!node) return;
    switch (node.type) {
      case "identifier":
        this.use(node.text);
        return;
      case "attribute":
        this.expression(field(node, "object"));
        return;
      case "keyword_argument":
        this.expression(field(node, "value"));
        return;
      case "call":
        this.call(node);
        return;
      case "assignment":
        this.assignment(node);
        return;
      case "augmented_assignment": {
        this.expression(field(node, "right"));
        const left = field(node, "left");
        if (left?.type === "identifier") {
          this.use(left.text);
          this.bind(left.text);
        } else {
          this.expression(left);
          this.mutate(left, true);
        }
        return;
      }
      case "named_expression": {
        this.expression(field(node, "value"));
        const name = field(node, "name");
        if (name) this.walrus(name.text);
        return;
      }
      case "lambda":
        this.lambda(node, null);
        return;
      case "list_comprehension":
      case "set_comprehension":
      case "dictionary_comprehension":
      case "generator_expression":
        this.comprehension(node);
        return;
      case "as_pattern":
        this.asPattern(node);
        return;
      default:
        for (const c of node.children) this.expression(c);
    }
  }

  /**
   * A call: every argument, and the object a method is called on, may be
   * changed in place. Module-level calls through a plain dotted name are kept
   * apart (scope.calls): whether they do depends on what the name is bound to.
   */
  private call(node: SyntaxNode): void {
    const fn = field(node, "function");
    this.expression(fn);
    const callee = dottedName(fn);
    const args = field(node, "arguments");
    const roots: (string | undefined)[] = [];
    const keywords: string[] = [];
    let splat = false;
    if (fn?.type === "attribute") roots.push(rootName(field(fn, "object"), true));
    if (args) {
      if (args.type === "generator_expression") this.expression(args);
      else
        for (const a of args.children) {
          this.expression(a);
          if (a.type === "keyword_argument") keywords.push(field(a, "name")?.text ?? "");
          if (a.type === "dictionary_splat") splat = true;
          roots.push(rootName(a.type === "keyword_argument" ? field(a, "value") : a, false));
        }
    }
    const names = roots.filter((r): r is string => r !== undefined);
    if (callee && !splat && this.scope.owner === null) {
      const root = callee.split(".")[0]!;
      this.scope.calls.push({ callee, root, keywords, names, rootBoundBefore: this.killed.has(root) });
    } else for (const n of names) this.scope.mutated.add(n);
  }

  private assignment(node: SyntaxNode): void {
    const left = field(node, "left");
    const right = field(node, "right");
    const type = field(node, "type");
    this.expression(type);
    if (!right) {
      // A bare annotation binds nothing but makes the name local to the block.
      if (left?.type === "identifier") this.scope.local.add(left.text);
      else this.expression(left);
      return;
    }
    if (right.type === "lambda" && left?.type === "identifier" && this.scope.kind === "module") this.lambda(right, left.text);
    else this.expression(right);
    this.target(left);
  }

  /** A store target: names are bound, attribute and item targets mutate their root. */
  private target(node: SyntaxNode | undefined): void {
    if (!node) return;
    if (node.type === "identifier") this.bind(node.text);
    else if (TARGET_GROUPS.has(node.type)) for (const c of node.children) this.target(c);
    else if (node.type === "attribute" || node.type === "subscript") {
      this.expression(node);
      this.mutate(node, true);
    } else this.expression(node);
  }

  private deleteTarget(node: SyntaxNode): void {
    if (node.type === "identifier") {
      this.scope.local.add(node.text);
      this.scope.deleted.add(node.text);
      if (!this.killed.has(node.text)) this.scope.deletedUpstream.add(node.text);
    } else if (TARGET_GROUPS.has(node.type)) for (const c of node.children) this.deleteTarget(c);
    else if (node.type === "attribute" || node.type === "subscript") {
      this.expression(node);
      this.mutate(node, true);
    } else this.expression(node);
  }

  /** Match-statement patterns: captures bind, dotted value patterns read. */
  private pattern(node: SyntaxNode): void {
    switch (node.type) {
      case "dotted_name": {
        const parts = node.children;
        if (parts.length === 1) {
          if (parts[0]!.text !== "_") this.bind(parts[0]!.text);
        } else if (parts[0]) this.use(parts[0].text);
        return;
      }
      case "identifier":
        if (node.text !== "_") this.bind(node.text);
        return;
      case "class_pattern": {
        const [cls, ...args] = node.children;
        if (cls) this.use(cls.children[0]?.text ?? cls.text);
        for (const a of args) this.pattern(a);
        return;
      }
      case "keyword_pattern":
        for (const c of node.children.slice(1)) this.pattern(c);
        return;
      case "dict_pattern":
        for (const c of node.children) {
          if (c.field === "key") {
            if (c.type === "dotted_name") this.use(c.children[0]?.text ?? "");
          } else this.pattern(c);
        }
        return;
      case "string":
      case "integer":
      case "float":
      case "complex_pattern":
      case "none":
      case "true":
      case "false":
        return;
      default:
        for (const c of node.children) this.pattern(c);
    }
  }
}

const STATEMENTS = new Set([
  "expression_statement",
  "function_definition",
  "class_definition",
  "decorated_definition",
  "import_statement",
  "import_from_statement",
  "future_import_statement",
  "global_statement",
  "nonlocal_statement",
  "delete_statement",
  "for_statement",
  "with_statement",
  "try_statement",
  "match_statement",
  "type_alias_statement",
  "print_statement",
  "exec_statement",
  "if_statement",
  "while_statement",
  "return_statement",
  "raise_statement",
  "assert_statement",
  "pass_statement",
  "break_statement",
  "continue_statement",
]);

function findFirst(node: SyntaxNode, type: string): SyntaxNode | undefined {
  if (node.type === type) return node;
  for (const c of node.children) {
    const hit = findFirst(c, type);
    if (hit) return hit;
  }
  return undefined;
}
