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

interface Loaded {
  parser: Parser;
  types: string[];
  named: boolean[];
  fields: (string | null)[];
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

/** Initialise the WebAssembly runtime and the grammar once per thread. */
export function loadPythonParser(): Promise<void> {
  loading ??= (async () => {
    const files = grammarFiles();
    await Parser.init({ locateFile: () => files.runtime });
    const language = await Language.load(files.python);
    const parser = new Parser();
    parser.setLanguage(language);
    const types: string[] = [];
    const named: boolean[] = [];
    for (let id = 0; id < language.nodeTypeCount; id++) {
      types.push(language.nodeTypeForId(id) ?? "");
      named.push(language.nodeTypeIsNamed(id));
    }
    loaded = { parser, types, named, fields: language.fields };
    return loaded;
  })();
  return loading.then(() => undefined);
}

export function parserReady(): boolean {
  return loaded !== undefined;
}

/** Parse a cell. `loadPythonParser()` must have resolved first. */
export function parseToTree(source: string): ParsedCell {
  if (!loaded) throw new Error("loadPythonParser() has not finished");
  const { parser, types, named, fields } = loaded;
  const tree = parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  try {
    const cursor = tree.walk();
    const root: SyntaxNode = { type: "module", field: null, children: [], text: "" };
    // Named ancestors of the cursor, and for each cursor level whether
    // descending into it pushed onto that stack.
    const stack: SyntaxNode[] = [root];
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
        const type = types[typeId]!;
        const parent = stack[stack.length - 1]!;
        // Every cursor call crosses into WebAssembly: ask for the field only where it is used.
        const fieldId = FIELDED_PARENTS.has(parent.type) ? cursor.currentFieldId : 0;
        node = { type, field: fieldId ? (fields[fieldId] ?? null) : null, children: [], text: "" };
        if (type === "identifier") {
          const text = cursor.nodeText;
          // Python folds identifiers to NFKC: `ﬁle` and `file` are one name.
          node.text = NON_ASCII.test(text) ? text.normalize("NFKC") : text;
          descend = false;
        } else if (LEAVES.has(type)) {
          descend = false;
        } else if (POSITIONED.has(type)) {
          const at = cursor.startPosition;
          node.line = at.row + 1;
          node.column = at.column + 1;
        }
        parent.children.push(node);
      }
      if (descend && cursor.gotoFirstChild()) {
        pushed.push(node !== undefined);
        if (node) stack.push(node);
        continue;
      }
      for (;;) {
        if (cursor.gotoNextSibling()) break;
        if (!cursor.gotoParent() || pushed.length <= 1) {
          more = false;
          break;
        }
        if (pushed.pop()) stack.pop();
      }
    }
    cursor.delete();
    const result: ParsedCell = { root };
    if (tree.rootNode.hasError) result.error = firstError(tree.rootNode);
    return result;
  } finally {
    tree.delete();
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
