"""Oracle for src/analysis: per-cell facts computed by CPython itself.

Reads a JSON list of cell sources on stdin and writes a JSON list of facts,
one per cell, with the same field names as the TypeScript CellFacts.

How the facts are obtained, so that they do not come from our implementation:
  * IPython's own TransformerManager translates the IPython dialect into
    Python (magics become get_ipython().run_line_magic(...) calls, shell
    escapes get_ipython().system(...) / getoutput(...), help pinfo(...)).
    Those calls are then replaced by the Python they run: the statement given
    to %time/%timeit/%prun, the body of %%time/%%timeit/%%prun/%%capture,
    the {expr} and $name interpolations of a shell command, the object a
    help request names. Other magics are either inert or make the cell opaque.
  * ast.parse gives syntax errors (line, column) and the tree.
  * symtable gives the scopes: which block each name lives in. Binds are read
    straight from the symbol tables (module symbols that are assigned or
    imported, and symbols declared global in nested blocks that are assigned
    there); reads are every load of a name whose symbol resolves to the
    module namespace (or, in a class body, to the class namespace with the
    LOAD_NAME fallback to globals).
  * mutates/deletes are syntactic (ast) and resolved through symtable the
    same way; their rules are the ones documented in src/analysis/facts.ts.
"""

import ast
import json
import re
import symtable
import sys

from IPython.core.inputtransformer2 import TransformerManager

STATEMENT_MAGICS = {"time": set(), "timeit": {"n", "r", "p"}, "prun": {"D", "l", "s", "T"}}
PYTHON_CELL_MAGICS = {"time", "timeit", "prun", "capture"}
INERT_MAGICS = {
    "matplotlib", "config", "who", "whos", "who_ls", "pwd", "lsmagic", "magic", "quickref",
    "history", "hist", "precision", "xmode", "psearch", "page", "pdoc", "pdef", "psource",
    "pfile", "notebook", "colors",
}
OPAQUE_BUILTINS = {"exec", "eval", "globals", "locals", "vars", "get_ipython"}
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
TABLE_NAMES = {ast.Lambda: "lambda", ast.ListComp: "listcomp", ast.SetComp: "setcomp",
               ast.DictComp: "dictcomp", ast.GeneratorExp: "genexpr"}

TM = TransformerManager()
# IPython's timeit compiles the timed statement (and setup) into a function:
# what it assigns is local to it. The oracle analyses it inside such a def.
TIMEIT_FUNCTION = "__nbrewind_timeit__"


def timeit_def(code):
    lines = code.splitlines() or ["pass"]
    return ast.parse(f"def {TIMEIT_FUNCTION}():\n" + "\n".join(" " + l for l in lines) + "\n pass\n").body


def strip_options(arg, with_value):
    rest = arg.lstrip()
    while True:
        m = re.match(r"-(\w)(\S*)\s*", rest)
        if not m:
            return rest
        rest = rest[m.end():]
        if m.group(1) in with_value and not m.group(2):
            rest = re.sub(r"^\S+\s*", "", rest, count=1)


def interpolations(cmd):
    """Python expressions IPython expands in a shell command: {expr} and $name."""
    parts = []
    i = 0
    while i < len(cmd):
        c = cmd[i]
        if c == "{":
            if cmd[i + 1:i + 2] == "{":
                i += 2
                continue
            depth, j = 1, i + 1
            while j < len(cmd) and depth:
                depth += {"{": 1, "}": -1}.get(cmd[j], 0)
                j += 1
            if depth == 0 and cmd[i + 1:j - 1].strip():
                parts.append(ast.parse(cmd[i + 1:j - 1].strip(), mode="eval").body)
            i = j
            continue
        if c == "$":
            if cmd[i + 1:i + 2] == "$":
                i += 2
                continue
            m = re.match(r"[A-Za-z_]\w*", cmd[i + 1:])
            if m:
                parts.append(ast.Name(m.group(0), ast.Load()))
                i += 1 + len(m.group(0))
                continue
        i += 1
    return ast.Tuple(parts, ast.Load()) if parts else ast.Constant(None)


def ipython_call(node):
    """('line', name, arg) / ('shell', cmd) / ('cell', name, line, body) for get_ipython() calls."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    recv = node.func.value
    if not (isinstance(recv, ast.Call) and isinstance(recv.func, ast.Name) and recv.func.id == "get_ipython"):
        return None
    args = [a.value for a in node.args if isinstance(a, ast.Constant)]
    kind = node.func.attr
    if kind == "run_line_magic":
        return ("line", args[0], args[1])
    if kind in ("system", "getoutput"):
        return ("shell", args[0])
    if kind == "run_cell_magic":
        return ("cell", args[0], args[1], args[2])
    return None


class Rewriter(ast.NodeTransformer):
    """Replace IPython's runtime calls by the Python they execute."""

    def __init__(self):
        self.reasons = []
        self.extra_binds = []

    def magic_expr(self, name, arg):
        if name in STATEMENT_MAGICS:
            stmt = strip_options(arg, STATEMENT_MAGICS[name])
            return ast.parse(stmt.strip(), mode="eval").body if stmt.strip() else ast.Constant(None)
        if name in ("pinfo", "pinfo2"):
            root = arg.strip().split(".")[0]
            return ast.Name(root, ast.Load()) if re.fullmatch(r"[A-Za-z_]\w*", root) else ast.Constant(None)
        if name not in INERT_MAGICS:
            self.reasons.append(f"%{name}")
        return ast.Constant(None)

    def visit_Expr(self, node):
        call = ipython_call(node.value)
        if call and call[0] == "line" and call[1] in STATEMENT_MAGICS:
            stmt = strip_options(call[2], STATEMENT_MAGICS[call[1]])
            if call[1] == "timeit" and stmt.strip():
                return [self.visit(s) for s in timeit_def(stmt)]
            body = ast.parse(stmt).body if stmt.strip() else [ast.Pass()]
            return [self.visit(s) for s in body]
        return self.generic_visit(node)

    def visit_Call(self, node):
        call = ipython_call(node)
        if not call:
            return self.generic_visit(node)
        if call[0] == "line":
            return self.magic_expr(call[1], call[2])
        if call[0] == "shell":
            return interpolations(call[1])
        self.reasons.append(f"%%{call[1]} not first")
        return ast.Constant(None)


def translate(source):
    """IPython source -> (module ast, opaque reasons, extra binds) or raises SyntaxError."""
    python = TM.transform_cell(source)
    tree = compile(python, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    reasons, binds = [], []
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        call = ipython_call(tree.body[0].value)
        if call and call[0] == "cell":
            _, name, line, body = call
            if name not in PYTHON_CELL_MAGICS:
                return ast.Module([], []), [f"%%{name}"], []
            if name == "capture":
                toks = [t for t in line.split() if not t.startswith("-")]
                if toks and re.fullmatch(r"[A-Za-z_]\w*", toks[-1]):
                    binds.append(toks[-1])
            if name == "timeit":
                setup = strip_options(line, STATEMENT_MAGICS["timeit"])
                tree = ast.Module(timeit_def(setup + "\n" + body), [])
            else:
                tree = ast.parse(body)
    rw = Rewriter()
    tree = ast.fix_missing_locations(rw.visit(tree))
    return tree, reasons + rw.reasons, binds


def root(node, through_calls):
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif through_calls and isinstance(node, ast.Call):
            node = node.func
        else:
            return None


class Facts(ast.NodeVisitor):
    def __init__(self, table):
        self.table = table
        self.used_children = {}
        self.reads, self.mutates, self.deletes, self.opaque = set(), set(), set(), []
        # needs: loads (and dels) of module names at a point where the cell has
        # not yet bound or deleted the name on every path (see CellFacts.needs).
        self.needs, self.killed = set(), set()

    # -- scopes ---------------------------------------------------------
    def child_table(self, node):
        name = TABLE_NAMES.get(type(node)) or node.name
        used = self.used_children.setdefault(id(self.table), set())
        for i, t in enumerate(self.table.get_children()):
            if i not in used and t.get_name() == name and t.get_lineno() == node.lineno:
                used.add(i)
                return t
        raise RuntimeError(f"no symbol table for {name} at line {node.lineno}")

    def in_table(self, table, fn):
        saved, self.table = self.table, table
        try:
            fn()
        finally:
            self.table = saved

    def resolve(self, name):
        t = self.table
        if t.get_type() == "module":
            return "global"
        try:
            sym = t.lookup(name)
        except KeyError:
            return "global"
        if sym.is_global():
            return "global"
        if t.get_type() == "class" and sym.is_local():
            return "class-or-global"
        return "local"

    def read(self, name):
        if self.resolve(name) != "local":
            self.reads.add(name)
            if name not in self.killed:
                self.needs.add(name)
            if name in OPAQUE_BUILTINS:
                self.opaque.append(name)

    def mutate(self, node, through_calls):
        name = root(node, through_calls)
        if name and self.resolve(name) != "local":
            self.mutates.add(name)

    # -- visitors -------------------------------------------------------
    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.read(node.id)
        elif isinstance(node.ctx, ast.Del) and self.resolve(node.id) == "global":
            self.deletes.add(node.id)
            if node.id not in self.killed:
                self.needs.add(node.id)

    # -- statement order, for needs ---------------------------------------
    def run_block(self, stmts, entry=(), nested=True):
        """Statements in order; what a nested block binds counts only inside it."""
        saved = self.killed
        if nested:
            self.killed = set(saved)
        module = self.table.get_type() == "module"
        if module:
            self.killed |= set(entry)
        for s in stmts:
            self.visit(s)
            if module:
                self.killed |= bound_by(s)
        if nested:
            self.killed = saved

    def visit_Module(self, node):
        self.run_block(node.body, nested=False)

    def visit_If(self, node):
        self.visit(node.test)
        self.run_block(node.body)
        self.run_block(node.orelse)

    visit_While = visit_If

    def visit_For(self, node):
        self.store_target(node.target)
        self.visit(node.iter)
        self.visit(node.target)
        names = set()
        target_names(node.target, names)
        self.run_block(node.body, names)
        self.run_block(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        names = set()
        for item in node.items:
            self.visit(item)
            if item.optional_vars is not None:
                target_names(item.optional_vars, names)
        self.run_block(node.body, names)

    visit_AsyncWith = visit_With

    def visit_Try(self, node):
        self.run_block(node.body)
        for h in node.handlers:
            if h.type is not None:
                self.visit(h.type)
            self.run_block(h.body, [h.name] if h.name else [])
        self.run_block(node.orelse)
        self.run_block(node.finalbody)

    visit_TryStar = visit_Try

    def visit_Match(self, node):
        self.visit(node.subject)
        for case in node.cases:
            self.visit(case.pattern)
            if case.guard is not None:
                self.visit(case.guard)
            self.run_block(case.body)

    def store_target(self, t):
        if isinstance(t, (ast.Attribute, ast.Subscript)):
            self.mutate(t, True)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.store_target(e)
        elif isinstance(t, ast.Starred):
            self.store_target(t.value)

    def visit_Assign(self, node):
        for t in node.targets:
            self.store_target(t)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.store_target(node.target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
        self.store_target(node.target)
        self.generic_visit(node)

    def visit_withitem(self, node):
        if node.optional_vars is not None:
            self.store_target(node.optional_vars)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self.store_target(t)
        self.generic_visit(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Attribute):
            self.mutate(node.func.value, True)
        for a in node.args:
            self.mutate(a, False)
        for k in node.keywords:
            self.mutate(k.value, False)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if any(a.name == "*" for a in node.names):
            self.opaque.append("import *")

    def visit_MatchClass(self, node):
        self.visit(node.cls)
        for p in node.patterns + node.kwd_patterns:
            self.visit(p)

    def visit_MatchValue(self, node):
        self.visit(node.value)

    def visit_MatchMapping(self, node):
        for k in node.keys:
            self.visit(k)
        for p in node.patterns:
            self.visit(p)

    def visit_function(self, node):
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        self.visit_arguments_outside(node.args)
        if getattr(node, "returns", None) is not None:
            self.visit(node.returns)
        table = self.child_table(node)
        body = node.body if isinstance(node.body, list) else [node.body]
        self.in_table(table, lambda: [self.visit(s) for s in body])

    def visit_arguments_outside(self, args):
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.visit(a.annotation)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_function

    def visit_ClassDef(self, node):
        for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(d)
        table = self.child_table(node)
        self.in_table(table, lambda: [self.visit(s) for s in node.body])

    def visit_comprehension_node(self, node):
        gens = node.generators
        self.visit(gens[0].iter)
        table = self.child_table(node)

        def inside():
            for i, g in enumerate(gens):
                if i:
                    self.visit(g.iter)
                self.store_target(g.target)
                self.visit(g.target)
                for c in g.ifs:
                    self.visit(c)
            if isinstance(node, ast.DictComp):
                self.visit(node.key)
                self.visit(node.value)
            else:
                self.visit(node.elt)

        self.in_table(table, inside)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_node


def symtable_binds(table, stored):
    out = set()
    for sym in table.get_symbols():
        name = sym.get_name()
        if name not in stored:
            continue
        if table.get_type() == "module":
            if sym.is_assigned() or sym.is_imported():
                out.add(name)
        elif sym.is_global() and (sym.is_assigned() or sym.is_imported()):
            out.add(name)
    for child in table.get_children():
        out |= symtable_binds(child, stored)
    return out


def stored_names(tree):
    """Names with a binding occurrence other than `del x` or a bare annotation `x: T`."""
    out = set()
    bare = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and n.value is None}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and id(n) not in bare:
            out.add(n.id)
        elif isinstance(n, ast.alias):
            out.add(n.asname or n.name.split(".")[0])
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            out.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            out.add(n.rest)
    return out


def target_names(t, out):
    if isinstance(t, ast.Name):
        out.add(t.id)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            target_names(e, out)
    elif isinstance(t, ast.Starred):
        target_names(t.value, out)


def bound_by(s):
    """Names one statement binds (or deletes) whenever it completes, not counting its nested blocks."""
    out = set()
    if isinstance(s, ast.Assign):
        for t in s.targets:
            target_names(t, out)
    elif isinstance(s, ast.AugAssign) or (isinstance(s, ast.AnnAssign) and s.value is not None):
        target_names(s.target, out)
    elif isinstance(s, (ast.Import, ast.ImportFrom)):
        for a in s.names:
            if a.name != "*":
                out.add(a.asname or (a.name.split(".")[0] if isinstance(s, ast.Import) else a.name))
    elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        out.add(s.name)
    elif isinstance(s, (ast.With, ast.AsyncWith)):
        for item in s.items:
            if item.optional_vars is not None:
                target_names(item.optional_vars, out)
    elif isinstance(s, ast.Delete):
        for t in s.targets:
            target_names(t, out)
    return out


def definite(body):
    out = set()
    for s in body:
        if not isinstance(s, ast.Delete):
            out |= bound_by(s)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            out |= definite(s.body)
    return out


def cell_facts(source):
    try:
        tree, reasons, extra_binds = translate(source)
        python = ast.unparse(tree)
        tree = ast.parse(python)
        table = symtable.symtable(python, "<cell>", "exec")
    except SyntaxError as e:
        return {"syntaxError": {"line": e.lineno, "column": e.offset, "message": e.msg}, "opaque": True}
    facts = Facts(table)
    facts.visit(tree)
    binds = (symtable_binds(table, stored_names(tree)) | set(extra_binds)) - {TIMEIT_FUNCTION}
    definite_binds = ((definite(tree.body) & binds) | set(extra_binds)) - facts.deletes
    facts.needs.discard(TIMEIT_FUNCTION)
    return {
        "binds": sorted(binds),
        "definiteBinds": sorted(definite_binds),
        "reads": sorted(facts.reads),
        "mutates": sorted(facts.mutates),
        "deletes": sorted(facts.deletes),
        "needs": sorted(facts.needs),
        "opaque": bool(reasons or facts.opaque),
        "opaqueReasons": reasons + facts.opaque,
    }


def main():
    cells = json.load(sys.stdin)
    out = []
    for src in cells:
        try:
            out.append(cell_facts(src))
        except Exception as e:  # an oracle failure is reported, not hidden
            out.append({"oracleError": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
