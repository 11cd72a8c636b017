/**
 * Calls known not to change their arguments (nor the module they are called
 * through). The analysis otherwise counts every argument of a call, and the
 * object a method is called on, as possibly changed in place (`f(x)` may do
 * `x.append`), which makes `print(y)` or `np.sum(x)` a producer of `y`/`x`
 * for every later cell: false dependencies, and runs a repeat did not need.
 *
 * Entries are fully qualified names. A call is matched only when its callee
 * provably is that function: a builtin name no cell rebinds, or an attribute
 * path through a name whose only binding is an import (`import numpy as np`
 * makes `np.sum` `numpy.sum`), in the same cell or, unshadowed, in an
 * earlier one (see graph.ts). Anything else keeps the conservative rule.
 *
 * What "pure" assumes, stated so it can be checked: the function does not
 * change its arguments, and neither do the dunder methods it calls on them
 * (`__len__`, `__str__`, `__iter__` of a container). Two known ways an
 * argument can still change, handled per entry:
 *   - a keyword that hands the call something to write into or to run
 *     (`print(x, file=f)` writes to `f`; `out=` of NumPy; `key=` runs a
 *     callable on each element): with one of an entry's `impureKeywords`,
 *     the call counts as changing its arguments;
 *   - an iterator passed to a function that iterates it (`sorted(gen)`) is
 *     consumed. Notebook globals are rarely bare iterators, and the run-time
 *     check does not cover them; this is the one accepted gap.
 * Higher-order calls whose callable runs on the elements (`map`, `filter`)
 * are deliberately absent.
 */
export interface PureEntry {
  /** Keywords that make the call change something after all. */
  impureKeywords?: string[];
}

const KEY = { impureKeywords: ["key"] };
const OUT = { impureKeywords: ["out"] };

const BUILTINS: Record<string, PureEntry> = Object.fromEntries(
  [
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "callable", "chr", "complex", "dict", "dir",
    "divmod", "enumerate", "float", "format", "frozenset", "getattr", "hasattr", "hash", "hex", "id",
    "int", "isinstance", "issubclass", "iter", "len", "list", "oct", "ord", "pow", "range", "repr",
    "reversed", "round", "set", "slice", "str", "sum", "tuple", "type", "zip", "display",
  ].map((n) => [`builtins.${n}`, {}]),
);

const TABLE: Record<string, PureEntry> = {
  ...BUILTINS,
  "builtins.print": { impureKeywords: ["file"] },
  "builtins.sorted": KEY,
  "builtins.min": KEY,
  "builtins.max": KEY,
  ...fromNames("math", ["sqrt", "exp", "log", "log10", "floor", "ceil", "isclose", "fsum", "prod", "isnan", "isfinite"], {}),
  ...fromNames("numpy", ["sum", "mean", "std", "var", "min", "max", "amin", "amax", "argmin", "argmax", "median", "percentile", "quantile", "cumsum", "diff", "round", "abs", "sqrt", "exp", "log", "dot", "matmul", "clip", "where", "unique", "histogram", "any", "all", "isnan", "isfinite", "isclose", "allclose", "array_equal", "shape", "ndim", "size", "array", "asarray", "concatenate", "stack", "vstack", "hstack", "zeros_like", "ones_like", "copy"], OUT),
  ...fromNames("numpy.linalg", ["norm", "det", "inv", "eig", "svd"], {}),
  ...fromNames("pandas", ["concat", "merge", "isna", "notna", "DataFrame", "Series", "to_datetime"], {}),
  ...fromNames("os.path", ["join", "exists", "basename", "dirname", "abspath", "isfile", "isdir", "splitext", "getsize"], {}),
  ...fromNames("json", ["dumps"], {}),
  ...fromNames("copy", ["copy", "deepcopy"], {}),
};

function fromNames(module: string, names: string[], entry: PureEntry): Record<string, PureEntry> {
  return Object.fromEntries(names.map((n) => [`${module}.${n}`, entry]));
}

/** True when a call to `qualified` with these keyword arguments is known not to change what it is given. */
export function isKnownPure(qualified: string, keywords: readonly string[]): boolean {
  const entry = TABLE[qualified];
  if (!entry) return false;
  return !keywords.some((k) => entry.impureKeywords?.includes(k));
}

/** Every qualified name in the table, for documentation and tests. */
export function knownPureNames(): string[] {
  return Object.keys(TABLE).sort();
}
