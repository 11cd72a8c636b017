/**
 * The IPython dialect of a notebook cell, translated to plain Python for the
 * parser, one output line per input line so that positions stay meaningful.
 *
 * What each construct becomes (and why the analysis can then treat it as
 * Python):
 *   %%time / %%prun / %%capture [opts] [name]
 *                          → the body is analysed; %%capture binds its name
 *   %%timeit [opts] [setup] → setup and body analysed as the body of a
 *                          function (IPython compiles them into one: what
 *                          they assign stays local), `timedBody`
 *   %%bash, %%writefile, any other cell magic
 *                          → no Python at all; the cell is opaque
 *   %time / %prun STMT     → STMT (options dropped)
 *   %timeit STMT           → def __nbrewind_timeit__(): STMT   (local, as above;
 *                              the name is dropped from the facts)
 *   x = %time EXPR          → x = (EXPR)
 *   x = %other ...          → x = None, plus what %other implies
 *   %run / %load / %store and unknown line magics → opaque reason
 *   %matplotlib, %who, %pwd, ... (no effect on the namespace) → pass
 *   !cmd {expr} $name      → (expr, name,)   (IPython expands these from
 *                                              the calling scope)
 *   x = !cmd ...           → x = (...)        binds x
 *   obj? / ?obj / obj??    → obj              (help evaluates the name)
 *   /f a, b   ,f a b   ;f a b  (autocall)   → f(a, b) / f("a", "b") / f("a b")
 */

export interface Preprocessed {
  /** Plain Python, same number of lines as the input. */
  python: string;
  /** Why the cell cannot be analysed statically; empty when it can. */
  opaque: string[];
  /** Side effects outside the Python namespace (shell commands, magics), for reports. */
  effects: string[];
  /** Names bound by the dialect itself (%%capture NAME), outside the Python text. */
  binds: string[];
  /** 1-based line numbers whose text was rewritten (for error messages). */
  rewrittenLines: number[];
  /** Files whose content decides what the cell does (the script `%run` executes), as written. */
  files: string[];
  /** A %%timeit cell: `python` runs as the body of a function, not at module level. */
  timedBody?: boolean;
}

/** The function a `%timeit STMT` line becomes (see above); never a name the cell binds. */
export const TIMEIT_FUNCTION = "__nbrewind_timeit__";

/** Line magics whose argument is a Python statement that runs in the user namespace. */
const STATEMENT_MAGICS: Record<string, Set<string>> = {
  time: new Set(),
  timeit: new Set(["n", "r", "p"]),
  prun: new Set(["D", "l", "s", "T"]),
};

/** Cell magics whose body is Python run in the user namespace. */
const PYTHON_CELL_MAGICS = new Set(["time", "timeit", "prun", "capture"]);

/** Line magics that neither read nor change the user namespace or process state. */
const INERT_MAGICS = new Set([
  "matplotlib",
  "config",
  "who",
  "whos",
  "who_ls",
  "pwd",
  "lsmagic",
  "magic",
  "quickref",
  "history",
  "hist",
  "precision",
  "xmode",
  "psearch",
  "page",
  "pdoc",
  "pdef",
  "psource",
  "pfile",
  "notebook",
  "colors",
]);

/** Line magics the issue names as opaque: they execute or inject code we cannot see. */
const OPAQUE_MAGICS: Record<string, string> = {
  run: "%run executes another file in the namespace",
  load: "%load inserts code from elsewhere",
  store: "%store moves variables between sessions",
  load_ext: "%load_ext runs an extension's code",
  reload_ext: "%reload_ext runs an extension's code",
  autoreload: "%autoreload changes how modules are re-imported",
  aimport: "%aimport imports modules dynamically",
  env: "%env changes the process environment",
  set_env: "%set_env changes the process environment",
  cd: "%cd changes the working directory",
  pylab: "%pylab imports many names",
  reset: "%reset deletes variables",
  reset_selective: "%reset_selective deletes variables",
  xdel: "%xdel deletes a variable",
  pip: "%pip changes installed packages",
  conda: "%conda changes installed packages",
  macro: "%macro defines code from history",
  recall: "%recall re-runs history",
  rerun: "%rerun re-runs history",
  edit: "%edit runs edited code",
  debug: "%debug runs code under the debugger",
};

export function preprocessIPython(source: string): Preprocessed {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const out: Preprocessed = { python: "", opaque: [], effects: [], binds: [], rewrittenLines: [], files: [] };
  // Fast path: no line starts with an escape and none ends with `?` or holds `= %` / `= !`.
  if (!/^\s*[%!?/,;]|\?\s*$|=\s*[%!]/m.test(source)) {
    out.python = lines.join("\n");
    return out;
  }
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === "") first++;
  const head = lines[first];
  if (head !== undefined && head.startsWith("%%")) {
    const m = /^%%(\S*)\s*(.*)$/.exec(head)!;
    const name = m[1]!;
    const args = m[2]!;
    lines[first] = "";
    out.rewrittenLines.push(first + 1);
    if (!PYTHON_CELL_MAGICS.has(name)) {
      out.opaque.push(name ? `cell magic %%${name}: its body is not analysed as Python` : "an empty cell magic name");
      out.effects.push(`%%${name}`);
      out.python = lines.map(() => "").join("\n");
      return out;
    }
    out.effects.push(`%%${name}`);
    if (name === "timeit") {
      // The first line's statement, after the options, is setup code run in the same function.
      lines[first] = stripOptions(args, STATEMENT_MAGICS.timeit!);
      out.timedBody = true;
    }
    if (name === "capture") {
      const target = args
        .split(/\s+/)
        .filter((t) => t && !t.startsWith("-"))
        .pop();
      if (target && /^[A-Za-z_]\w*$/.test(target)) out.binds.push(target);
    }
  }
  translateLines(lines, first, out);
  out.python = lines.join("\n");
  return out;
}

/** Rewrite escaped lines in place; only lines that start a logical line count. */
function translateLines(lines: string[], from: number, out: Preprocessed): void {
  const scan = new LogicalLineScanner();
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    const startsLogical = scan.atLogicalStart();
    if (startsLogical) {
      // A magic or shell line may continue with a trailing backslash.
      let text = line;
      let last = i;
      const trimmed = line.trimStart();
      if (trimmed && "%!?/,;".includes(trimmed[0]!) || /^\s*[\w.]+\s*=\s*[%!]/.test(line) || /\?\s*$/.test(line)) {
        while (text.endsWith("\\") && last + 1 < lines.length) {
          last++;
          text = text.slice(0, -1) + " " + lines[last]!.trim();
        }
        const translated = translateLine(text, i + 1, out);
        if (translated !== undefined) {
          lines[i] = translated;
          for (let k = i + 1; k <= last; k++) lines[k] = "";
          for (let k = i; k <= last; k++) out.rewrittenLines.push(k + 1);
          i = last;
          scan.reset();
          continue;
        }
      }
    }
    scan.feed(line);
  }
}

const IDENT = /^[A-Za-z_][\w]*$/;

function translateLine(line: string, lineNo: number, out: Preprocessed): string | undefined {
  const indent = /^\s*/.exec(line)![0];
  const body = line.slice(indent.length);
  // x = %magic ...   /   x = !cmd ...
  const assign = /^([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*=\s*([%!])(.*)$/.exec(body);
  if (assign && !body.startsWith("%") && !body.startsWith("!")) {
    const target = assign[1]!;
    const rhs = assign[3]!;
    if (assign[2] === "!") {
      out.effects.push(`shell: ${rhs.trim()}`);
      return `${indent}${target} = ${interpolations(rhs)}`;
    }
    const expr = lineMagic(rhs, lineNo, out, true);
    return `${indent}${target} = ${expr ?? "None"}`;
  }
  if (body.startsWith("!")) {
    const cmd = body.replace(/^!!?/, "");
    out.effects.push(`shell: ${cmd.trim()}`);
    return `${indent}${interpolations(cmd)}`;
  }
  if (body.startsWith("%")) {
    if (body.startsWith("%%")) {
      out.opaque.push(`line ${lineNo}: cell magic %%${/^%%(\S*)/.exec(body)![1]} is only valid on the first line`);
      return `${indent}pass`;
    }
    return `${indent}${lineMagic(body.slice(1), lineNo, out, false) ?? "pass"}`;
  }
  // Help: ?obj, ??obj, obj?, obj??
  const help = /^(\?{1,2})?\s*([A-Za-z_*][\w.*]*)\s*(\?{1,2})?\s*$/.exec(body);
  if (help && (help[1] || help[3])) {
    const target = help[2]!;
    return `${indent}${helpRead(target)}`;
  }
  const helpMagic = /^%?(\w+)\?{1,2}\s*$/.exec(body);
  if (helpMagic) return `${indent}pass`;
  // Autocall escapes.
  const auto = /^([/,;])\s*([A-Za-z_][\w.]*)\s*(.*)$/.exec(body);
  if (auto) {
    const [, kind, fn, rest] = auto;
    out.effects.push(`autocall ${kind}${fn}`);
    if (kind === "/") return `${indent}${fn}(${rest})`;
    if (kind === ",") return `${indent}${fn}(${rest!.split(/\s+/).filter(Boolean).map((a) => JSON.stringify(a)).join(", ")})`;
    return `${indent}${fn}(${JSON.stringify(rest)})`;
  }
  return undefined;
}

/** A help request evaluates the object's root name; a wildcard search reads nothing. */
function helpRead(target: string): string {
  if (target.includes("*")) return "pass";
  const root = target.split(".")[0]!;
  return IDENT.test(root) ? root : "pass";
}

/**
 * One line magic (text after '%'). Returns a Python expression or statement
 * to put in its place, or undefined for `pass`/`None`.
 */
function lineMagic(text: string, lineNo: number, out: Preprocessed, asExpression: boolean): string | undefined {
  const m = /^(\w+)\s*(.*)$/.exec(text.trim());
  if (!m) {
    out.opaque.push(`line ${lineNo}: unreadable magic '%${text.trim()}'`);
    return undefined;
  }
  const name = m[1]!;
  const arg = m[2]!;
  out.effects.push(`%${name}`);
  const valued = STATEMENT_MAGICS[name];
  if (valued) {
    const stmt = stripOptions(arg, valued);
    if (!stmt.trim()) return undefined;
    if (asExpression) return `(${stmt})`;
    return name === "timeit" ? `def ${TIMEIT_FUNCTION}(): ${stmt}` : stmt;
  }
  if (name === "pinfo" || name === "pinfo2") return helpRead(arg.trim());
  if (INERT_MAGICS.has(name)) return undefined;
  if (name === "run") {
    // The script is an input: its content joins the cell's fingerprint (`-m module` names none we can read).
    const script = arg.split(/\s+/).find((t) => t && !t.startsWith("-"));
    if (script && !/(^|\s)-m(\s|$)/.test(arg)) out.files.push(script.replace(/^["']|["']$/g, ""));
  }
  const reason = OPAQUE_MAGICS[name];
  out.opaque.push(`line ${lineNo}: ${reason ?? `line magic %${name} has effects the analysis cannot see`}`);
  return undefined;
}

/** Drop leading -x options of a magic; `withValue` lists the ones that take a value. */
function stripOptions(arg: string, withValue: Set<string>): string {
  let rest = arg.trimStart();
  for (;;) {
    const opt = /^-(\w)(\S*)\s*/.exec(rest);
    if (!opt) return rest;
    rest = rest.slice(opt[0].length);
    if (withValue.has(opt[1]!) && !opt[2]) rest = rest.replace(/^\S+\s*/, "");
  }
}

/** `{expr}` and `$name` in a shell command, as a Python tuple expression. */
function interpolations(cmd: string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < cmd.length) {
    const c = cmd[i]!;
    if (c === "{") {
      if (cmd[i + 1] === "{") {
        i += 2;
        continue;
      }
      let depth = 1;
      let j = i + 1;
      while (j < cmd.length && depth > 0) {
        if (cmd[j] === "{") depth++;
        else if (cmd[j] === "}") depth--;
        j++;
      }
      if (depth === 0) {
        const expr = cmd.slice(i + 1, j - 1).trim();
        if (expr) parts.push(`(${expr})`);
      }
      i = j;
      continue;
    }
    if (c === "$") {
      if (cmd[i + 1] === "$") {
        i += 2;
        continue;
      }
      const id = /^[A-Za-z_]\w*/.exec(cmd.slice(i + 1));
      if (id) {
        parts.push(id[0]);
        i += 1 + id[0].length;
        continue;
      }
    }
    i++;
  }
  if (parts.length === 0) return "None";
  return `(${parts.join(", ")},)`;
}

/**
 * Tracks brackets, strings and backslash continuations across physical lines,
 * to know whether the next line starts a new logical line (IPython only
 * recognises escapes there).
 */
class LogicalLineScanner {
  private depth = 0;
  private inString: string | null = null;
  private continued = false;

  atLogicalStart(): boolean {
    return this.depth === 0 && this.inString === null && !this.continued;
  }

  reset(): void {
    this.depth = 0;
    this.inString = null;
    this.continued = false;
  }

  feed(line: string): void {
    this.continued = false;
    let i = 0;
    const n = line.length;
    while (i < n) {
      const c = line[i]!;
      if (this.inString !== null) {
        if (c === "\\") {
          i += 2;
          continue;
        }
        if (line.startsWith(this.inString, i)) {
          i += this.inString.length;
          this.inString = null;
          continue;
        }
        i++;
        continue;
      }
      if (c === "#") return;
      if (c === "'" || c === '"') {
        const triple = line.startsWith(c.repeat(3), i);
        this.inString = triple ? c.repeat(3) : c;
        i += triple ? 3 : 1;
        continue;
      }
      if (c === "(" || c === "[" || c === "{") this.depth++;
      else if ((c === ")" || c === "]" || c === "}") && this.depth > 0) this.depth--;
      else if (c === "\\" && i === n - 1) this.continued = true;
      i++;
    }
    // A single-quoted string cannot span lines without a backslash.
    if (this.inString !== null && this.inString.length === 1 && !line.endsWith("\\")) this.inString = null;
  }
}
