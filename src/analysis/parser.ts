import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Language, Parser } from "web-tree-sitter";

/**
 * Loading of the Python grammar: tree-sitter-python compiled to WebAssembly,
 * run by web-tree-sitter. One parser per thread, created once and reused.
 *
 * The rest of the analysis never sees tree-sitter objects: `parseToTree`
 * walks the tree once with a cursor (every step is a call into WebAssembly,
 * so walking it twice would double the cost) and hands back plain objects for
 * the named nodes only.
 */

/** A named node of the syntax tree, as plain data. */
export interface SyntaxNode {
  type: string;
  /** The field this node fills in its parent (`left`, `body`, ...), if any. */
  field: string | null;
  children: SyntaxNode[];
  /** Source text; kept for identifiers only (the rest is not needed). */
  text: string;
  /** 1-based position, kept only for the few node types that report errors. */
  line?: number;
  column?: number;
}

export interface ParsedCell {
  root: SyntaxNode;
  /** The first syntax error tree-sitter recovered from, 1-based line and column. */
  error?: { line: number; column: number; message: string };
}

/**
 * The C entry points of web-tree-sitter's tree cursor. Each one reads the
 * cursor from the runtime's transfer buffer and writes it back there, so a
 * walk that calls them directly keeps the cursor in WebAssembly memory for
 * its whole length: no JavaScript copy of the cursor per step (what the
 * public `TreeCursor` methods do, four `getValue`/`setValue` calls each way),
 * and no text copies (identifiers are sliced from the source by index).
 * These are not part of the public API: `loadPythonParser` checks that they
 * exist and that a walk through them yields exactly what the public API
 * yields on a sample, and otherwise falls back to the public cursor.
 */
interface RawCursor {
  _ts_tree_cursor_goto_first_child_wasm(tree: number): number;
  _ts_tree_cursor_goto_next_sibling_wasm(tree: number): number;
  _ts_tree_cursor_goto_parent_wasm(tree: number): number;
  _ts_tree_cursor_current_node_type_id_wasm(tree: number): number;
  _ts_tree_cursor_current_field_id_wasm(tree: number): number;
  _ts_tree_cursor_start_index_wasm(tree: number): number;
  _ts_tree_cursor_end_index_wasm(tree: number): number;
  _ts_tree_cursor_delete_wasm(tree: number): void;
}

const RAW_FUNCTIONS = [
  "_ts_tree_cursor_goto_first_child_wasm",
  "_ts_tree_cursor_goto_next_sibling_wasm",
  "_ts_tree_cursor_goto_parent_wasm",
  "_ts_tree_cursor_current_node_type_id_wasm",
  "_ts_tree_cursor_current_field_id_wasm",
  "_ts_tree_cursor_start_index_wasm",
  "_ts_tree_cursor_end_index_wasm",
  "_ts_tree_cursor_delete_wasm",
] as const;

interface Loaded {
  parser: Parser;
  types: string[];
  named: boolean[];
  fields: (string | null)[];
  /** Node type ids: what the walk tests per node, as flags indexed by id. */
  fielded: boolean[];
  leaf: boolean[];
  positioned: boolean[];
  identifier: boolean[];
  string: boolean[];
  /** The runtime's C functions, when they passed the start-up check. */
  raw: RawCursor | undefined;
}

let loading: Promise<Loaded> | undefined;
let loaded: Loaded | undefined;

/** Parents whose children the analysis tells apart by field name. */
const FIELDED_PARENTS = new Set([
  "assignment",
  "augmented_assignment",
  "attribute",
  "call",
  "keyword_argument",
  "subscript",
  "for_statement",
  "for_in_clause",
  "function_definition",
  "class_definition",
  "decorated_definition",
  "lambda",
  "default_parameter",
  "typed_default_parameter",
  "typed_parameter",
  "named_expression",
  "with_statement",
  "with_item",
  "as_pattern",
  "except_clause",
  "except_group_clause",
  "match_statement",
  "case_clause",
  "dict_pattern",
  "import_statement",
  "import_from_statement",
  "future_import_statement",
  "aliased_import",
  "type_alias_statement",
  "list_comprehension",
  "set_comprehension",
  "dictionary_comprehension",
  "generator_expression",
]);
const NON_ASCII = /[^ -~\t\n\r]/;
/**
 * Nodes that may carry a syntax error tree-sitter accepts and CPython rejects:
 * Python 2 statements, and blocks left empty by a missing indent.
 */
const POSITIONED = new Set(["print_statement", "exec_statement", "block"]);
/** Named nodes whose inside the analysis never needs. */
const LEAVES = new Set(["comment", "string_content", "escape_sequence", "escape_interpolation", "integer", "float", "string_start", "string_end", "type_conversion"]);

const require = createRequire(import.meta.url);

/** Paths of the two WebAssembly files, resolved through node_modules. */
export function grammarFiles(): { runtime: string; python: string } {
  return {
    runtime: join(dirname(require.resolve("web-tree-sitter")), "tree-sitter.wasm"),
    python: join(dirname(require.resolve("tree-sitter-python/package.json")), "tree-sitter-python.wasm"),
  };
}

/** A sample that exercises every path of the walk, for the start-up check of the fast walk. */
const SELF_CHECK = [
  "import a.b as c, d",
  "from m import (x as y, z)",
  "@dec(k=v)",
  "def f(p, q: int = 1, *a, **kw) -> 'T':",
  "    global g",
  "    return [i for i in p if i] + {k: w for k, w in kw.items()}",
  "class C(B, metaclass=M):",
  "    x = lambda u, v=1: u + v",
  "for (i, j) in z: print(f\"{i!r:>{j}} {{}} \\n\", 'ﬁle', rb'\\x')",
  "with open(p) as fh, ctx(): s += fh.read()[1:2]",
  "try:",
  "    pass",
  "except (E, F) as e:",
  "    del q[0], r",
  "match cmd:",
  "    case Point(x=0, y=yy) | [1, *rest] if (n := len(rest)):",
  "        pass",
  "print 'py2'",
  "if x:",
  "y = 1 +",
].join("\n");

/** Initialise the WebAssembly runtime and the grammar once per thread. */
export function loadPythonParser(): Promise<void> {
  loading ??= (async () => {
    const files = grammarFiles();
    // Emscripten fills this object with the runtime's exports.
    const runtime: Record<string, unknown> = { locateFile: () => files.runtime };
    await Parser.init(runtime);
    const language = await Language.load(files.python);
    const parser = new Parser();
    parser.setLanguage(language);
    const types: string[] = [];
    const named: boolean[] = [];
    for (let id = 0; id < language.nodeTypeCount; id++) {
      types.push(language.nodeTypeForId(id) ?? "");
      named.push(language.nodeTypeIsNamed(id));
    }
    const flags = (set: Set<string> | string) => types.map((t, id) => named[id]! && (typeof set === "string" ? t === set : set.has(t)));
    const raw = RAW_FUNCTIONS.every((f) => typeof runtime[f] === "function") ? (runtime as unknown as RawCursor) : undefined;
    const candidate: Loaded = {
      parser,
      types,
      named,
      fields: language.fields,
      fielded: flags(FIELDED_PARENTS),
      leaf: flags(LEAVES),
      positioned: flags(POSITIONED),
      identifier: flags("identifier"),
      string: flags("string"),
      raw,
    };
    if (raw) {
      const fast = JSON.stringify(parseWith(candidate, SELF_CHECK, true));
      const slow = JSON.stringify(parseWith(candidate, SELF_CHECK, false));
      if (fast !== slow) candidate.raw = undefined;
    }
    loaded = candidate;
    return loaded;
  })();
  return loading.then(() => undefined);
}

export function parserReady(): boolean {
  return loaded !== undefined;
}

/** True when the fast walk is in use (the runtime's C cursor functions passed the start-up check). */
export function fastWalk(): boolean {
  return loaded?.raw !== undefined;
}

/**
 * Parse a cell. `loadPythonParser()` must have resolved first. `publicApi`
 * forces the walk through web-tree-sitter's public cursor (the reference the
 * fast walk is tested against).
 */
export function parseToTree(source: string, options: { publicApi?: boolean } = {}): ParsedCell {
  if (!loaded) throw new Error("loadPythonParser() has not finished");
  return parseWith(loaded, source, loaded.raw !== undefined && !options.publicApi);
}

const NO_CHILDREN = Object.freeze([]) as unknown as SyntaxNode[];

type TSTree = NonNullable<ReturnType<Parser["parse"]>>;

function parseWith(state: Loaded, source: string, fast: boolean): ParsedCell {
  const tree = state.parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  try {
    const root = fast ? rawWalk(state, tree, source) : publicWalk(state, tree, source);
    const result: ParsedCell = { root };
    if (tree.rootNode.hasError) result.error = firstError(tree.rootNode);
    return result;
  } finally {
    tree.delete();
  }
}

/**
 * The walk through the runtime's C functions (see `RawCursor`). Same output
 * as `publicWalk`, which is the reference.
 */
function rawWalk(state: Loaded, tree: TSTree, source: string): SyntaxNode {
  const { types, named, fields, fielded, leaf, positioned, identifier, string } = state;
  const c = state.raw!;
  const t = (tree as unknown as { 0: number })[0];
  // Creates the cursor in the transfer buffer (the JavaScript copy it returns
  // is not used); from here on only cursor calls touch that buffer.
  tree.walk();
  const root: SyntaxNode = { type: "module", field: null, children: [], text: "" };
  const stack: SyntaxNode[] = [root];
  // Whether each node on `stack` is a parent whose children's fields are read.
  const fieldedStack: boolean[] = [false];
  const pushed: boolean[] = [];
  // Line counting for the few positioned nodes: starts only grow along the walk.
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  try {
    let more = c._ts_tree_cursor_goto_first_child_wasm(t) !== 0;
    if (more) pushed.push(false);
    while (more) {
      const typeId = c._ts_tree_cursor_current_node_type_id_wasm(t);
      let node: SyntaxNode | undefined;
      let descend = false;
      if (named[typeId]) {
        descend = true;
        const parent = stack[stack.length - 1]!;
        const fieldId = fieldedStack[fieldedStack.length - 1] ? c._ts_tree_cursor_current_field_id_wasm(t) : 0;
        // Most named nodes are leaves: they share one (frozen) empty array until they get a child.
        node = { type: types[typeId]!, field: fieldId ? (fields[fieldId] ?? null) : null, children: NO_CHILDREN, text: "" };
        if (identifier[typeId]) {
          const text = source.slice(c._ts_tree_cursor_start_index_wasm(t), c._ts_tree_cursor_end_index_wasm(t));
          node.text = NON_ASCII.test(text) ? text.normalize("NFKC") : text;
          descend = false;
        } else if (leaf[typeId]) {
          descend = false;
        } else if (string[typeId]) {
          // Only an f-string has names inside, and only between braces.
          const start = c._ts_tree_cursor_start_index_wasm(t);
          const end = c._ts_tree_cursor_end_index_wasm(t);
          const brace = source.indexOf("{", start);
          if (brace < 0 || brace >= end) descend = false;
        } else if (positioned[typeId]) {
          const start = c._ts_tree_cursor_start_index_wasm(t);
          for (let nl = source.indexOf("\n", scanned); nl >= 0 && nl < start; nl = source.indexOf("\n", nl + 1)) {
            line++;
            lineStart = nl + 1;
          }
          scanned = Math.max(scanned, start);
          node.line = line;
          node.column = start - lineStart + 1;
        }
        parent.children.push(node);
      }
      if (descend && c._ts_tree_cursor_goto_first_child_wasm(t)) {
        pushed.push(node !== undefined);
        if (node) {
          node.children = [];
          stack.push(node);
          fieldedStack.push(fielded[typeId]!);
        }
        continue;
      }
      for (;;) {
        if (c._ts_tree_cursor_goto_next_sibling_wasm(t)) break;
        if (!c._ts_tree_cursor_goto_parent_wasm(t) || pushed.length <= 1) {
          more = false;
          break;
        }
        if (pushed.pop()) {
          stack.pop();
          fieldedStack.pop();
        }
      }
    }
  } finally {
    // The live cursor is the one in the transfer buffer (its stack may have moved): free that one.
    c._ts_tree_cursor_delete_wasm(t);
  }
  return root;
}
/** The walk through the public `TreeCursor` API: the reference for `rawWalk`, and its fallback. */
function publicWalk(state: Loaded, tree: TSTree, source: string): SyntaxNode {
  const { types, named, fields, fielded, leaf, positioned, identifier, string } = state;
  const cursor = tree.walk();
  try {
    const root: SyntaxNode = { type: "module", field: null, children: [], text: "" };
    // Named ancestors of the cursor, and for each cursor level whether
    // descending into it pushed onto that stack.
    const stack: SyntaxNode[] = [root];
    const fieldedStack: boolean[] = [false];
    const pushed: boolean[] = [];
    let more = cursor.gotoFirstChild();
    if (more) pushed.push(false);
    while (more) {
      const typeId = cursor.nodeTypeId;
      let node: SyntaxNode | undefined;
      // Anonymous nodes are tokens: nothing below them.
      let descend = false;
      if (named[typeId]) {
        descend = true;
        const parent = stack[stack.length - 1]!;
        // Every cursor call crosses into WebAssembly: ask for the field only where it is used.
        const fieldId = fieldedStack[fieldedStack.length - 1] ? cursor.currentFieldId : 0;
        node = { type: types[typeId]!, field: fieldId ? (fields[fieldId] ?? null) : null, children: [], text: "" };
        if (identifier[typeId]) {
          const text = cursor.nodeText;
          // Python folds identifiers to NFKC: `ﬁle` and `file` are one name.
          node.text = NON_ASCII.test(text) ? text.normalize("NFKC") : text;
          descend = false;
        } else if (leaf[typeId]) {
          descend = false;
        } else if (string[typeId]) {
          const brace = source.indexOf("{", cursor.startIndex);
          if (brace < 0 || brace >= cursor.endIndex) descend = false;
        } else if (positioned[typeId]) {
          const at = cursor.startPosition;
          node.line = at.row + 1;
          node.column = at.column + 1;
        }
        parent.children.push(node);
      }
      if (descend && cursor.gotoFirstChild()) {
        pushed.push(node !== undefined);
        if (node) {
          stack.push(node);
          fieldedStack.push(fielded[typeId]!);
        }
        continue;
      }
      for (;;) {
        if (cursor.gotoNextSibling()) break;
        if (!cursor.gotoParent() || pushed.length <= 1) {
          more = false;
          break;
        }
        if (pushed.pop()) {
          stack.pop();
          fieldedStack.pop();
        }
      }
    }
    return root;
  } finally {
    cursor.delete();
  }
}

type TSNode = NonNullable<ReturnType<Parser["parse"]>>["rootNode"];

function firstError(node: TSNode): { line: number; column: number; message: string } {
  const found = findError(node);
  if (!found) return { line: 1, column: 1, message: "invalid syntax" };
  const { startPosition } = found;
  const message = found.isMissing ? `invalid syntax: expected '${found.type}'` : "invalid syntax";
  return { line: startPosition.row + 1, column: startPosition.column + 1, message };
}

function findError(node: TSNode): TSNode | undefined {
  if (node.isError || node.isMissing) return node;
  for (const child of node.children) {
    if (child && (child.hasError || child.isMissing)) {
      const hit = findError(child);
      if (hit) return hit;
    }
  }
  return undefined;
}
