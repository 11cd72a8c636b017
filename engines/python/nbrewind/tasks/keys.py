"""Task keys: a task named by what determines its result, never by where or when it ran.

    task key = H(scheme, engine, function identity, argument keys)

* **function identity** covers the code (bytecode, constants, nested code, the
  names it uses), defaults, keyword defaults, closure cells, and the globals
  its code references, recursively for the functions it calls. Code from an
  installed distribution (or the standard library) is named by module,
  qualified name and the distribution's version instead: sound under a pinned
  environment, and cheap.
* **argument keys**: an upstream task contributes its own task key (the
  caller supplies them); a value is hashed by content, with fast paths for
  NumPy arrays and pandas objects; a path by its file's content (or, declared
  with ``set_file_mode("stat")``, by size and mtime).
* A value that cannot be hashed soundly raises ``Uncacheable(reason)``: the task
  is then dispatched uncached and the record says why. Never a guess. So does
  a user function that calls ``eval``, ``exec`` or ``globals()``: the globals
  it reads are not in its bytecode.
* **pins** (``pins.py``, from nbrewind.yaml or ``@pin``): a pinned task's
  function identity is H("pinned", qualified name, version) instead; its
  arguments are keyed as above. The code identity is still taken, for the
  record, so the client can say when the code changed under the pin.

Objects are hashed structurally through ``__reduce_ex__`` rather than by
pickle bytes: cloudpickle pickles classes defined in ``__main__`` with a
per-process random tracker id, so pickle bytes of such values would differ
between the audit kernel and the repeat kernel (sound, but never a hit).
Known limits, by construction misses and never wrong hits: sets of strings
hash in sorted-digest order (stable); objects whose pickled state embeds
process-specific ids get a new key in every kernel.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import importlib.metadata
import os
import pathlib
import struct
import sys
import types
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..unserialisable import why_unserialisable
from . import pins

# Bump when anything below changes how a key is computed: a bundle recorded
# under another scheme is refused, never silently missed or, worse, hit.
# 2: a Ray task's key covers its remote function's name and num_returns, and
# records are matched by occurrence (see runtime), no longer by key alone.
# 3: a user function's identity covers the globals its code loads, no longer every
# name in co_names (attribute names such as ``np.histogram`` included).
TASK_KEY_SCHEME = 3

_LEN = struct.Struct("<Q")
_PACK_LEN = _LEN.pack
_FILE_MODES = ("content", "stat")
_file_mode = "content"


class Uncacheable(Exception):
    """The value or function cannot be keyed soundly; ``reason`` says why, for the task record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def set_file_mode(mode: str) -> None:
    """How path arguments are keyed: "content" (sha256 of the bytes, the default) or
    "stat" (size, mtime and inode: cheaper, and declared by the user, who vouches for it)."""
    global _file_mode
    if mode not in _FILE_MODES:
        raise ValueError(f"file mode must be one of {_FILE_MODES}, got {mode!r}")
    _file_mode = mode


def file_mode() -> str:
    return _file_mode


def _h(tag: str, *parts: bytes | str) -> str:
    """sha256 over length-prefixed parts: no two part lists share an encoding."""
    buf: list[bytes] = []
    for part in (tag, *parts):
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        buf.append(_PACK_LEN(len(data)))
        buf.append(data)
    return hashlib.sha256(b"".join(buf)).hexdigest()  # one update: cheaper than two per part


# For adapters keying engine objects of their own (a TaskVine input file): the same encoding.
tagged_digest = _h


# ---------------------------------------------------------------- distributions

@functools.lru_cache(maxsize=1)
def _top_level_distributions() -> dict[str, list[str]]:
    # Reads every installed distribution's file list: seconds in a large environment.
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=None)
def _distributions_of(top: str) -> list[str] | None:
    """The distributions that install the top-level module ``top``. Most are named after
    their module (dask, distributed, numpy): that one distribution is checked (its
    top_level.txt, else its own file list) instead of scanning every installed one, which
    cost 2 s at the first keyed task of a kernel. Others (yaml from PyYAML, namespace
    packages) take the full scan, once."""
    try:
        dist = importlib.metadata.distribution(top)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        dist = None
    if dist is not None:
        declared = dist.read_text("top_level.txt")
        provides = top in declared.split() if declared else any(
            f.parts and (f.parts[0] == top or f.parts[0] == f"{top}.py") for f in dist.files or ()
        )
        if provides:
            return [dist.metadata["Name"]]
    return _top_level_distributions().get(top)


@functools.lru_cache(maxsize=None)
def _package_version(module: str) -> str | None:
    """"dist==version" for a module of an installed distribution, "python==X" for the
    standard library, None for the user's own code (``__main__``, a local .py file)."""
    top = module.split(".")[0]
    if not top or top == "__main__":
        return None
    if top in sys.stdlib_module_names or top == "builtins":
        return f"python=={sys.version}"
    dists = _distributions_of(top)
    if not dists:
        return None
    versions = []
    for dist in sorted(set(dists)):
        try:
            versions.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            return None
    return ",".join(versions)


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


# File digests by (path, size, mtime_ns, inode): a file is re-read only when it changed on disk.
_file_cache: dict[tuple[str, int, int, int], str] = {}


def _path_key(p: pathlib.PurePath) -> str:
    path = os.fspath(p)
    if not os.path.exists(path):
        return _h("path", type(p).__name__, path, "absent")
    if os.path.isdir(path):
        entries: list[str] = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                entries.append(os.path.relpath(full, path))
                entries.append(_one_file(full))
        return _h("dir", type(p).__name__, path, _file_mode, *entries)
    return _h("file", type(p).__name__, path, _file_mode, _one_file(path))


def _one_file(path: str) -> str:
    st = os.stat(path)
    if _file_mode == "stat":
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    cache_key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _file_cache.get(cache_key)
    if digest is None:
        digest = _file_digest(path)
        _file_cache[cache_key] = digest
    return digest


# ---------------------------------------------------------------- the keyer

_PRIMITIVES: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "",
    bool: lambda v: "1" if v else "0",
    int: str,
    float: lambda v: v.hex(),
    complex: lambda v: f"{v.real.hex()},{v.imag.hex()}",
    str: lambda v: v,
}
# Keys of small ints (an int's key is a function of its value alone: equal ints, equal keys).
_int_keys: dict[int, str] = {}
_INT_KEYS_MAX = 100_000
_INT_KEYS_RANGE = 1 << 31
_SKIP_CLASS_ATTRS = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"})


class Keyer:
    """Keys for one submission (one graph, one ``submit``): caches by object identity
    live only as long as the keyer, since a global may be rebound between submissions.

    ``ref_key(obj)`` lets the engine adapter answer for engine objects met inside
    values (a future passed inside a list): their upstream task key, or None.
    """

    def __init__(self, ref_key: Callable[[Any], str | None] | None = None) -> None:
        self._ref_key = ref_key
        # (kind, id) -> (the object, kept alive so the id is not reused; its key or the Uncacheable)
        self._cache: dict[tuple[str, int], tuple[Any, str | Uncacheable]] = {}
        self._active: set[tuple[str, int]] = set()
        # id(fn) -> (fn, kept alive; its part of a task key, its pin, its code under the pin)
        self._functions: dict[int, tuple[Any, str, pins.Pin | None, str | None]] = {}

    # -- public

    def task_key(self, engine: str, fn: Any, arg_keys: Iterable[str], kwarg_keys: dict[str, str]) -> str:
        kw = [part for name in sorted(kwarg_keys) for part in (name, kwarg_keys[name])]
        # The function's part of the key, once per function and keyer: nothing the user's code
        # could change (a global, a pin rule, the running cell) changes within one submission.
        known = self._functions.get(id(fn))
        if known is None or known[0] is not fn:
            known = self._function_part(fn)
            self._functions[id(fn)] = known
        _fn, identity, pinned, code = known
        key = _h("task", str(TASK_KEY_SCHEME), engine, identity, *arg_keys, "kw", *kw)
        if pinned is not None:
            pins.remember(key, pinned, code)
        return key

    def _function_part(self, fn: Any) -> tuple[Any, str, pins.Pin | None, str | None]:
        """(fn, what stands for it in a task key, its pin, its code identity under the pin)."""
        name = function_name(fn)
        pinned = pins.pin_for(fn, name)
        if pinned is None:
            return (fn, self.function_identity(fn), None, None)
        # A pin: its version stands for the code. The code identity is still taken, for the
        # record only, so a later run can say that the code changed under the pin.
        try:
            code: str | None = self.function_identity(fn)
        except Uncacheable:
            code = None
        return (fn, _h("pinned", name, pinned.version), pinned, code)

    def value_key(self, v: Any) -> str:
        return self._cached(v, self._value_key)

    def function_identity(self, fn: Any) -> str:
        if type(fn) is not types.FunctionType or self._active:
            # Inside another identity (a function it calls) a cycle may end at the outer one:
            # computed in that context, as before, never taken from or put into the cache.
            return self._cached(fn, self._function_identity)
        known = _identities.get(fn)
        if known is not None and _holds(known[1]):
            return known[0]
        identity = self._cached(fn, self._function_identity)
        checks = _witness(fn)
        if checks is not None:
            if len(_identities) >= _IDENTITIES_MAX:
                _identities.clear()
            _identities[fn] = (identity, checks)
        return identity

    # -- machinery

    def _cached(self, obj: Any, compute: Callable[[Any], str]) -> str:
        # Primitives are cheap and small ints/strings are shared objects: do not cache by id.
        t = type(obj)
        if t is int and -_INT_KEYS_RANGE < obj < _INT_KEYS_RANGE:
            # Loop indices and sizes: the same few ints are keyed task after task.
            known = _int_keys.get(obj)
            if known is None:
                if len(_int_keys) >= _INT_KEYS_MAX:
                    _int_keys.clear()
                known = _int_keys[obj] = _h("int", str(obj))
            return known
        prim = _PRIMITIVES.get(t)
        if prim is not None:
            return _h(t.__name__, prim(obj))
        oid = (compute.__name__, id(obj))
        hit = self._cache.get(oid)
        if hit is not None:
            if isinstance(hit[1], Uncacheable):
                raise hit[1]
            return hit[1]
        if oid in self._active:
            # A cycle: a recursive function (names itself through its globals) or a
            # self-referential container. Its identity is already being hashed higher
            # up; the back-edge contributes only what it is.
            if isinstance(obj, (types.FunctionType, type)):
                return _h("cycle", getattr(obj, "__qualname__", ""))
            raise Uncacheable(f"{_type_name(obj)}: a self-referential value")
        self._active.add(oid)
        try:
            key: str | Uncacheable = compute(obj)
        except Uncacheable as err:
            key = err
        except RecursionError:
            key = Uncacheable(f"{_type_name(obj)}: nested too deeply to hash")
        finally:
            self._active.discard(oid)
        self._cache[oid] = (obj, key)
        if isinstance(key, Uncacheable):
            raise key
        return key

    def _value_key(self, v: Any) -> str:
        if self._ref_key is not None:
            ref = self._ref_key(v)
            if ref is not None:
                return _h("ref", ref)
        t = type(v)
        if t in (bytes, bytearray, memoryview):
            return _h(t.__name__, bytes(v))
        if t in (list, tuple):
            return _h(t.__name__, *(self.value_key(x) for x in v))
        if t is dict:
            return _h("dict", *(p for k, x in v.items() for p in (self.value_key(k), self.value_key(x))))
        if t in (set, frozenset):
            return _h(t.__name__, *sorted(self.value_key(x) for x in v))
        if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial, type)):
            return _h("callable", self.function_identity(v))
        if isinstance(v, types.ModuleType):
            return _module_key(v)
        if isinstance(v, pathlib.PurePath):
            return _path_key(v)
        fast = self._array_or_frame(v)
        if fast is not None:
            return fast
        reason = why_unserialisable(v)
        if reason is not None:
            raise Uncacheable(reason)
        return self._by_reduce(v)

    def _array_or_frame(self, v: Any) -> str | None:
        mod = type(v).__module__.partition(".")[0]
        if mod == "numpy":
            np = sys.modules["numpy"]
            if type(v) is np.ndarray and not v.dtype.hasobject:
                flat = np.ascontiguousarray(v).reshape(-1).view(np.uint8)
                h = hashlib.sha256()
                h.update(repr((v.dtype.str, v.dtype.descr, v.shape)).encode())
                h.update(memoryview(flat))
                return _h("ndarray", h.hexdigest())
            if isinstance(v, np.generic) and not v.dtype.hasobject:
                return _h("npscalar", v.dtype.str, repr(v.dtype.descr), v.tobytes())
            return None
        if mod == "pandas":
            pd = sys.modules["pandas"]
            if type(v) not in (pd.DataFrame, pd.Series) and not isinstance(v, pd.Index):
                return None
            try:
                rows = pd.util.hash_pandas_object(v, index=not isinstance(v, pd.Index)).to_numpy()
            except TypeError:
                return None  # unhashable cells (lists, dicts): the generic path pickles them
            meta: list[str] = [type(v).__name__, self.value_key(rows)]
            if isinstance(v, pd.DataFrame):
                meta += [self.value_key(list(v.columns)), repr(list(map(str, v.dtypes))), repr(list(v.index.names))]
            elif isinstance(v, pd.Series):
                meta += [self.value_key(v.name), str(v.dtype), repr(list(v.index.names)), type(v.index).__name__]
            else:
                meta += [self.value_key(v.name), str(v.dtype)]
            meta.append(self.value_key(dict(getattr(v, "attrs", {}))))
            return _h("pandas", *meta)
        return None

    def _by_reduce(self, v: Any) -> str:
        """Structural hash through the pickle protocol: what pickle would store, keyed
        by content (classes by identity, not by cloudpickle's per-process class bytes)."""
        try:
            reduced = v.__reduce_ex__(5)
        except Exception as err:  # an object that refuses pickling refuses hashing too
            raise Uncacheable(f"{_type_name(v)}: cannot be pickled ({type(err).__name__}: {err})") from None
        if isinstance(reduced, str):
            # A global singleton (an enum member, a module-level constant object).
            return _h("global", type(v).__module__, reduced, _package_version(type(v).__module__) or "")
        if not isinstance(reduced, tuple) or len(reduced) < 2:
            raise Uncacheable(f"{_type_name(v)}: unusual __reduce_ex__ result")
        func, args, *rest = reduced
        parts = [self.function_identity(func), self.value_key(args)]
        state = rest[0] if rest else None
        parts.append(self.value_key(state))
        if len(rest) > 1 and rest[1] is not None:
            parts.append(self.value_key(list(rest[1])))
        if len(rest) > 2 and rest[2] is not None:
            parts.append(self.value_key(list(rest[2])))
        return _h("reduce", *parts)

    def _function_identity(self, fn: Any) -> str:
        if isinstance(fn, types.FunctionType):
            version = _package_version(fn.__module__ or "")
            if version is not None:
                return _h("fn-ref", fn.__module__, fn.__qualname__, version)
            return self._user_function(fn)
        if isinstance(fn, types.MethodType):
            return _h("method", self.function_identity(fn.__func__), self.value_key(fn.__self__))
        if isinstance(fn, functools.partial):
            kw = [p for k in sorted(fn.keywords) for p in (k, self.value_key(fn.keywords[k]))]
            return _h("partial", self.function_identity(fn.func), *(self.value_key(a) for a in fn.args), "kw", *kw)
        if isinstance(fn, type):
            return self._class_identity(fn)
        if isinstance(fn, (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType, types.MethodWrapperType)):
            owner = getattr(fn, "__self__", None)
            if owner is not None and not isinstance(owner, (types.ModuleType, type)):
                # A bound builtin method (``d.get``): its object is part of what it computes.
                return _h("bound-builtin", getattr(fn, "__qualname__", fn.__name__), self.value_key(owner))
            module = getattr(fn, "__module__", None) or getattr(owner, "__name__", None) or getattr(getattr(fn, "__objclass__", None), "__module__", "") or ""
            return _h("builtin", module, getattr(fn, "__qualname__", fn.__name__), _package_version(module) or f"python=={sys.version}")
        t = type(fn)
        if t.__module__ == "numpy" and t.__name__ == "ufunc":
            return _h("ufunc", fn.__name__, _package_version("numpy") or "")
        if callable(fn):
            # A callable object: its class (with __call__) and its state.
            return _h("callable-object", self._by_reduce(fn))
        raise Uncacheable(f"{_type_name(fn)}: not a callable")

    def _user_function(self, fn: types.FunctionType) -> str:
        code = fn.__code__
        parts = [_code_identity(code, self)]
        parts.append(self.value_key(fn.__defaults__))
        parts.append(self.value_key(dict(fn.__kwdefaults__ or {})))
        for cell in fn.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                parts.append("<empty cell>")
                continue
            parts.append(self.value_key(contents))
        glob = fn.__globals__
        builtins_ns = glob.get("__builtins__")
        names = _global_names(code)
        dynamic = sorted(n for n in names & _DYNAMIC_GLOBAL_READS if n not in glob)
        if dynamic:
            # eval("x"), exec(...) or globals()["x"] read globals no bytecode names: a key without
            # them could serve a result computed from an old x. Never a guess: run it every time.
            calls = ", ".join(f"{n}()" for n in dynamic)
            raise Uncacheable(f"function {fn.__qualname__} calls {calls}: the globals it reads cannot be known from its code")
        for name in sorted(names):
            if name in glob:
                parts += [name, self.value_key(glob[name])]
            elif isinstance(builtins_ns, dict) and name in builtins_ns or hasattr(builtins_ns, name):
                continue  # a builtin, fixed by the Python version recorded with the bundle
        return _h("fn", *parts)

    def _class_identity(self, cls: type) -> str:
        version = _package_version(cls.__module__ or "")
        if version is not None:
            return _h("class-ref", cls.__module__, cls.__qualname__, version)
        parts = [cls.__qualname__, *(self.function_identity(b) for b in cls.__bases__)]
        for name in sorted(vars(cls)):
            if name in _SKIP_CLASS_ATTRS:
                continue
            attr = vars(cls)[name]
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, property):
                parts += [name, *(self.value_key(f) for f in (attr.fget, attr.fset, attr.fdel))]
                continue
            parts += [name, self.value_key(attr)]
        return _h("class", *parts)


# ---------------------------------------------------------------- identities kept between submissions

# A user function's identity, kept across submissions (Parsl and Ray key every call on its
# own: hashing the same code again for each of 2,000 calls was most of their audit cost).
# Kept only with a witness: the checks that prove nothing its identity covers has changed
# since, each an identity comparison (the code object, the defaults, every closure cell and
# every global name the code reads, recursively through the user functions it calls). Only
# values that cannot change in place are allowed behind those names (numbers, strings,
# tuples of them, installed modules, functions and classes, user functions with their own
# checks); a function that reads a list, a dict, an array or a user class is hashed again
# at every submission, as before.
_IDENTITIES_MAX = 4096
_MISSING = object()
_identities: weakref.WeakKeyDictionary[Any, tuple[str, tuple[tuple[Any, ...], ...]]] = weakref.WeakKeyDictionary()
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes)


def _holds(checks: tuple[tuple[Any, ...], ...]) -> bool:
    for check in checks:
        kind = check[0]
        if kind == "attr":
            if getattr(check[1], check[2], _MISSING) is not check[3]:
                return False
        elif kind == "global":
            if check[1].get(check[2], _MISSING) is not check[3]:
                return False
        elif kind == "cell":
            try:
                contents = check[1].cell_contents
            except ValueError:
                contents = _MISSING
            if contents is not check[2]:
                return False
        elif kind == "kwdefaults":
            # The dict itself can be changed in place: its items, compared by identity.
            now = check[1].__kwdefaults__
            if now is not check[2]:
                return False
            if now is not None and (len(now) != len(check[3]) or any(n != m or now.get(n, _MISSING) is not v for (n, v), m in zip(check[3], now))):
                return False
    return True


def _witness(fn: types.FunctionType) -> tuple[tuple[Any, ...], ...] | None:
    """The checks that show ``fn``'s identity still holds, or None when no cheap check can."""
    checks: list[tuple[Any, ...]] = []
    seen: set[int] = set()

    def stable(v: Any, depth: int = 0) -> bool:
        t = type(v)
        if t in _IMMUTABLE:
            return True
        if depth > 4:
            return False
        if t is tuple or t is frozenset:
            return all(stable(x, depth + 1) for x in v)
        if t is types.FunctionType:
            return function(v)
        if t is types.ModuleType:
            return _package_version(v.__name__) is not None
        if t is types.BuiltinFunctionType:
            owner = getattr(v, "__self__", None)
            return owner is None or isinstance(owner, types.ModuleType)
        if isinstance(v, type):
            return _package_version(v.__module__ or "") is not None
        return False

    def function(f: types.FunctionType) -> bool:
        if id(f) in seen:
            return True
        seen.add(id(f))
        checks.append(("attr", f, "__module__", f.__module__))
        if _package_version(f.__module__ or "") is not None:
            return True  # named by module, qualified name and version
        code, defaults = f.__code__, f.__defaults__
        checks.append(("attr", f, "__code__", code))
        checks.append(("attr", f, "__defaults__", defaults))
        if defaults is not None and not stable(defaults):
            return False
        kw = f.__kwdefaults__
        checks.append(("kwdefaults", f, kw, tuple(kw.items()) if kw is not None else None))
        if kw is not None and not all(stable(v) for v in kw.values()):
            return False
        checks.append(("attr", f, "__closure__", f.__closure__))
        for cell in f.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                checks.append(("cell", cell, _MISSING))
                continue
            checks.append(("cell", cell, contents))
            if not stable(contents):
                return False
        glob = f.__globals__
        checks.append(("attr", f, "__globals__", glob))
        for name in sorted(_global_names(code)):
            value = glob.get(name, _MISSING)
            checks.append(("global", glob, name, value))
            if value is not _MISSING and not stable(value):
                return False
        return True

    return tuple(checks) if function(fn) else None


def function_name(fn: Any) -> str:
    """``module.qualname`` of a task's function, for records and explanations (not for keys)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    inner = getattr(fn, "__func__", fn)
    module = getattr(inner, "__module__", None) or type(inner).__module__
    qualname = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}.{qualname}"


def _type_name(v: Any) -> str:
    t = type(v)
    return f"{t.__module__}.{t.__qualname__}"


def _module_key(m: types.ModuleType) -> str:
    version = _package_version(m.__name__)
    if version is not None:
        return _h("module", m.__name__, version)
    file = getattr(m, "__file__", None)
    if file and os.path.isfile(file):
        # The user's own module: its source decides what its functions do.
        return _h("module", m.__name__, _one_file(file))
    raise Uncacheable(f"module {m.__name__}: neither installed nor backed by a source file")


def _code_identity(code: types.CodeType, keyer: Keyer) -> str:
    consts: list[str] = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(_code_identity(c, keyer))
        else:
            consts.append(keyer.value_key(c))
    # Not co_filename, co_firstlineno or the line table: moving a function keeps its key.
    return _h(
        "code",
        code.co_code,
        repr((code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)),
        repr(code.co_varnames),
        repr(code.co_freevars),
        repr(code.co_cellvars),
        repr(code.co_names),
        *consts,
    )


# Instructions whose name operand is not a global the code reads: an attribute of an object
# (``np.histogram``, ``xs.count``), a name imported from a module, a name stored or deleted.
# Every other instruction naming something in co_names counts as a read (LOAD_GLOBAL,
# LOAD_NAME in a class body, and any opcode a later Python adds): a global left out of a
# key is a wrong reuse, one too many only a needless dispatch. IMPORT_NAME counts too: a
# function importing a user module it also binds globally is keyed by that module's source.
_NOT_GLOBAL_READS = frozenset(
    {"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR", "STORE_ATTR", "DELETE_ATTR", "IMPORT_FROM", "STORE_NAME", "DELETE_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"}
)
_NAME_OPS = frozenset(dis.hasname)
# Builtins through which code reads globals by a computed name.
_DYNAMIC_GLOBAL_READS = frozenset({"eval", "exec", "globals"})


@functools.lru_cache(maxsize=4096)  # keyed by the code's value: equal code loads the same names
def _global_names(code: types.CodeType) -> frozenset[str]:
    """The names the code (and the code nested in it: functions, lambdas, comprehensions,
    class bodies) loads from its globals or builtins."""
    names: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opcode in _NAME_OPS and ins.opname not in _NOT_GLOBAL_READS:
            names.add(ins.argval)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return frozenset(names)
