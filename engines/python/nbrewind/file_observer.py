"""Which files a cell (or a task) read and wrote, seen through Python's audit hooks.

``sys.addaudithook`` reports every ``open`` (builtins, ``io``, ``pathlib``,
``os.open``, and so every library that opens files from Python: pandas,
NumPy, matplotlib, ...) with its path and open flags, and ``os.rename`` /
``os.replace`` / ``os.remove``. The hook only collects paths into the current
*scope* (the running cell's, or the running task's on that thread: see
``task_scope``); everything costly happens once, at the end of the scope:
each file is stat'ed and hashed (sha256), and each file written inside the
notebook's folder is copied into the blob store so a reused cell can put it
back.

What is not seen: reads and writes by C code that bypasses Python's ``open``
(HDF5 through h5py, netCDF4's C library, a subprocess). Those are declared:
a cell pragma ``# nbrewind: reads data/*.h5`` or ``nbrewind.reads(...)``.

Left out: the bundle, the Python installation (prefixes, site-packages), the
system folders (``/proc``, ``/dev``, ``/sys``, ``/usr``, ``/etc``, ``/run``,
``/var/lib``), the user's cache folder (``~/.cache``), the shim's
own files, IPython's and Jupyter's own folders, files created and deleted in
the same scope, and the globs of ``NBREWIND_IGNORE_FILES`` (separated by
``os.pathsep``, relative to the notebook's folder or absolute).

A file opened only to append (``open(p, "a")``) is recorded as appended: an
output, never an input, and not put back when the cell is reused (a log
written by every cell would otherwise be rewound, or make every cell run).
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import re
import site
import stat
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from .blob_store import BlobStore
from .file_watch import FileWatch

# Files bigger than this are recorded by digest only (no blob): they cannot be put back.
DEFAULT_BLOB_LIMIT = 1 << 30
_CHUNK = 4 << 20
_SMALL = 1 << 20
_SYSTEM_DIRS = ("/proc", "/dev", "/sys", "/usr", "/etc", "/run", "/var/lib")
_S_ISREG = stat.S_ISREG
_S_ISLNK = stat.S_ISLNK
_DEFAULT_IGNORES = (".ipynb_checkpoints/*", "*/.ipynb_checkpoints/*", "__pycache__/*", "*/__pycache__/*", "*.pyc")

FileEntry = dict[str, Any]


@dataclass
class Scope:
    """What one cell or one task opened, as the hook saw it (absolute paths)."""

    # Every file opened to read (a set: a loop that reopens one file a million times stays small).
    reads: set[str] = field(default_factory=set)
    # path -> [existed before the scope first wrote it, only appended to]
    written: dict[str, list[bool]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)
    declared_writes: set[str] = field(default_factory=set)

    def note_open(self, path: str, flags: int) -> None:
        access = flags & os.O_ACCMODE
        if access != os.O_WRONLY:
            self.reads.add(path)
        if access == os.O_RDONLY:
            return
        append_only = bool(flags & os.O_APPEND) and access == os.O_WRONLY
        seen = self.written.get(path)
        if seen is None:
            self.written[path] = [os.path.lexists(path), append_only]
            self.removed.discard(path)
        elif not append_only:
            seen[1] = False

    def note_removed(self, path: str) -> None:
        seen = self.written.pop(path, None)
        if seen is not None and not seen[0]:
            return  # created and deleted inside the scope: a scratch file
        self.removed.add(path)

    def note_renamed(self, src: str, dst: str) -> None:
        self.note_removed(src)
        self.written[dst] = [os.path.lexists(dst), False]
        self.removed.discard(dst)


class FileObserver:
    """One per process (``process_observer``): the hook is installed once (audit hooks
    cannot be removed) and idles between scopes."""

    def __init__(self) -> None:
        # The scope of the task running on each thread (engine workers with several threads).
        self.local = threading.local()
        self.notebook_dir: str | None = None
        self.excluded: tuple[str, ...] = ()
        self.ignores: tuple[str, ...] = _DEFAULT_IGNORES
        self._ignore_re: re.Pattern[str] | None = None
        # (folder, relative) -> the prefix of its files' names, None when left out
        self._real_dirs: dict[tuple[str, bool], str | None | bool] = {}
        self.blob_limit = DEFAULT_BLOB_LIMIT
        self.cell: Scope | None = None
        # Where the hook puts a read path: the running cell's reads.add when no task runs,
        # _task_add while tasks run, None when nothing is observed (``_route``).
        self.route: list[Any] = [None]
        # How many task scopes are open in this process.
        self.task_scopes = 0
        self.count_lock = threading.Lock()
        # blobs folder -> its store, for the tasks of this process (the bundle is left out once known)
        self.stores: dict[str, BlobStore] = {}
        # path -> ((ino, size, mtime_ns, ctime_ns, dev), sha256): a file whose stat did not move is not hashed again
        self._digests: dict[str, tuple[tuple[int, int, int, int, int], str]] = {}
        # The same, as the planner knew the recorded files before this kernel read them (``seed_digests``).
        # Kept apart from _digests: a file is watched from its second recording here, not its first.
        self._seeds: dict[str, tuple[tuple[int, int, int, int, int], str]] = {}
        # The cells' reads that need no stat: files watched since their last stat, with no event since.
        self._watch = FileWatch()
        # Files this process opened to write: never trusted to the watches (a write through mmap raises no event).
        self._written_here: set[str] = set()
        # (watch generation, the paths, their entries): a cell reading the same files again, none changed.
        self._last_reads: tuple[int, set[str], list[FileEntry]] | None = None
        self._installed = False
        # Which audit hook observes this process: "native" (C), "python", or "" before install.
        self.hook = ""

    def __reduce__(self) -> tuple[type[FileObserver], tuple[()]]:
        # Shipped by value to an engine worker, it arrives empty: the worker's own is process_observer().
        return (FileObserver, ())

    # -- configuration

    def install(self, build_native: bool = False) -> None:
        """Observe this process (an engine worker): tasks are then observed through task_scope.
        The hook is the C one when this machine has it (``native_hook``; ``build_native``: the
        kernel compiles it when missing), else the Python one; both record the same files."""
        if not self._installed:
            if not self.excluded:
                self.excluded = tuple(sorted(d + "/" for d in _python_dirs() | set(_SYSTEM_DIRS)))
            native = _native_hook(build_native)
            if native is not None:
                native.install(self.route, self._hook)
                self.hook = "native"
            else:
                sys.addaudithook(_make_hook(self))
                self.hook = "python"
            self._installed = True

    def configure(self, notebook_dir: str, exclude: list[str], ignore: list[str], blob_limit: int | None) -> None:
        self.notebook_dir = os.path.realpath(notebook_dir)
        dirs = {os.path.realpath(d) for d in exclude}
        dirs.update(_python_dirs())
        # The kernel's own files: IPython's profile, Jupyter's runtime (connection files).
        dirs.add(os.path.realpath(os.environ.get("IPYTHONDIR") or os.path.expanduser("~/.ipython")))
        # Caches are not inputs (matplotlib's font list, numba's, ...).
        dirs.add(os.path.realpath(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")))
        try:
            from jupyter_core.paths import jupyter_runtime_dir

            dirs.add(os.path.realpath(jupyter_runtime_dir()))
        except Exception:
            pass
        dirs.update(_SYSTEM_DIRS)
        # A folder that holds the notebook's folder (a venv around a project) must not hide the notebook's files.
        nb = self.notebook_dir
        self.excluded = tuple(sorted(d.rstrip("/") + "/" for d in dirs if not (nb + "/").startswith(d.rstrip("/") + "/")))
        self._real_dirs.clear()
        self._watch.forget_everything()  # the records' names of the files it vouches for may change
        self._last_reads = None
        self.stores.clear()
        env = [g for g in os.environ.get("NBREWIND_IGNORE_FILES", "").split(os.pathsep) if g]
        self.ignores = (*_DEFAULT_IGNORES, *ignore, *env)
        self._ignore_re = None
        self.blob_limit = blob_limit if blob_limit is not None else int(os.environ.get("NBREWIND_FILE_BLOB_LIMIT", DEFAULT_BLOB_LIMIT))
        self.install(build_native=True)

    def seed_digests(self, seeds: dict[str, dict[str, str]]) -> None:
        """Digests the planner knows, by recorded name, as of a stat (``ino:size:mtime_ns:ctime_ns:dev``):
        a file read with exactly that stat is recorded without hashing it (a repeat's fresh kernel
        would otherwise hash every input again). Any write since moves the ctime, so the stat decides."""
        folder = self.notebook_dir or os.getcwd()
        found: dict[str, tuple[tuple[int, int, int, int, int], str]] = {}
        for name, seed in seeds.items():
            try:
                ino, size, mtime, ctime, dev = (int(x) for x in seed["stamp"].split(":"))
            except (KeyError, ValueError):
                continue
            found[name if os.path.isabs(name) else os.path.join(folder, name)] = ((ino, size, mtime, ctime, dev), seed["sha256"])
        self._seeds = found

    @property
    def active(self) -> bool:
        return self.notebook_dir is not None

    # -- the hook: as little as possible, it runs for every audited event of the process

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        """Bound once into a closure by ``_make_hook`` (the hot path); this is its slow half."""
        if event == "open":
            scope = self._scope()
            if scope is not None:
                self._note_open(scope, args[0], args[2])
        elif event == "os.rename" or event == "os.remove":
            scope = self._scope()
            if scope is None:
                return
            try:
                paths = [os.path.abspath(os.fsdecode(p)) for p in args[: 2 if event == "os.rename" else 1]]
            except TypeError:
                return
            if event == "os.rename":
                scope.note_renamed(paths[0], paths[1])
            else:
                scope.note_removed(paths[0])

    def _scope(self) -> Scope | None:
        return (self.local.__dict__.get("scope") if self.task_scopes else None) or self.cell

    def _task_add(self, path: str) -> None:
        """The hook's route while tasks run: the running thread's task, else the cell."""
        scope = self._scope()
        if scope is not None:
            scope.reads.add(path)

    def _route(self) -> None:
        """Point the hook's fast path where reads go now; called under ``count_lock``, as the
        count of task scopes and the running cell change."""
        self.route[0] = self._task_add if self.task_scopes else (self.cell.reads.add if self.cell is not None else None)

    @staticmethod
    def _note_open(scope: Scope, path: Any, flags: Any) -> None:
        if type(path) is not str:
            if isinstance(path, int) or path is None:
                return  # a descriptor: opened before, where it was seen
            try:
                path = os.fsdecode(path)
            except TypeError:
                return
        if path[:1] != "/":
            path = os.path.join(os.getcwd(), path)  # now: the cell may change folders later
        scope.note_open(path, flags if isinstance(flags, int) else os.O_RDONLY)

    # -- scopes

    def begin_cell(self, declared: list[str] | None = None) -> None:
        if not self.active or not observing():
            return
        scope = Scope()
        self._real_dirs.clear()
        for pattern in declared or ():
            scope.declared.add(pattern)
        with self.count_lock:
            self.cell = scope
            self._route()

    def end_cell(self, store: BlobStore) -> dict[str, Any] | None:
        with self.count_lock:
            scope, self.cell = self.cell, None
            self._route()
        if scope is None:
            return None
        return self.summarise(scope, store)

    def declare(self, paths: tuple[Any, ...], write: bool = False) -> None:
        """``nbrewind.reads(...)`` / ``writes(...)``: files (or globs) C code opened, unseen by the hook."""
        scope = getattr(self.local, "scope", None) or self.cell
        if scope is None:
            return
        for p in paths:
            text = os.fsdecode(os.fspath(p))
            absolute = text if os.path.isabs(text) else os.path.join(os.getcwd(), text)
            (scope.declared_writes if write else scope.declared).add(absolute)

    # -- the end of a scope: stat, hash, store

    def summarise(self, scope: Scope, store: BlobStore | None, absolute: bool = False) -> dict[str, Any]:
        """``absolute``: a task's files, named by their real path and all written ones stored;
        the kernel names them as records do (``relativise``)."""
        if not (scope.reads or scope.written or scope.removed or scope.declared or scope.declared_writes):
            return {"read": [], "written": []}  # most tasks open nothing: nothing to resolve or stat
        warnings: list[str] = []
        outside: list[str] = []
        written: list[FileEntry] = []
        declared = self._expand_declared(scope, warnings)
        for path in scope.declared_writes:
            scope.written.setdefault(path, [True, False])
        name_of = self._real_name if absolute else self._name
        for path, (existed, append_only) in sorted(scope.written.items()):
            name = name_of(path)
            if name is None:
                continue
            if os.path.isabs(name) and not absolute:
                outside.append(name)  # also a removal: never recorded, never replayed outside the folder
                continue
            if not os.path.lexists(path):
                if existed:
                    written.append({"path": name, "deleted": True})
                continue
            entry = self._written_entry(path, name, append_only, store, warnings)
            if entry is not None:
                written.append(entry)
        for path in sorted(scope.removed):
            name = name_of(path)
            if name is None or os.path.lexists(path):
                continue
            if os.path.isabs(name) and not absolute:
                outside.append(name)
            else:
                written.append({"path": name, "deleted": True})
        self._written_here.update(scope.written)
        # A file also written: its content at the end is of the scope's own making, an output.
        paths = scope.reads.union(declared).difference(scope.written)
        read = self._read_entries(sorted(paths), False, declared) if absolute else self._cell_read_entries(paths, declared)
        out: dict[str, Any] = {"read": read, "written": written}
        if outside:
            out["outside"] = outside
        if warnings:
            out["warnings"] = warnings
        return out

    def _expand_declared(self, scope: Scope, warnings: list[str]) -> set[str]:
        found: set[str] = set()
        for pattern in sorted(scope.declared):
            absolute = pattern if os.path.isabs(pattern) else os.path.join(self.notebook_dir or os.getcwd(), pattern)
            matches = [m for m in glob.glob(absolute, recursive=True) if os.path.isfile(m)]
            if not matches:
                warnings.append(f"declared read `{pattern}` matches no file")
            found.update(os.path.abspath(m) for m in matches)
        return found

    def _name(self, path: str) -> str | None:
        """The path as records keep it (relative to the notebook's folder, else absolute), or None when left out."""
        name = self._real_name(path, relative=True)
        return None if name is None or self._ignored(name) else name

    def _real_name(self, path: str, relative: bool = False) -> str | None:
        """The path with its folder's links resolved, or None when its folder is left out.
        Decided once per folder (thousands of files share a few, and resolving costs a
        syscall per component); the file name itself is kept: a link is recorded as the
        name that was opened."""
        folder, _, base = path.rpartition("/")
        prefix = self._folder_prefix(folder, relative)
        return None if prefix is None else prefix + base

    def _folder_prefix(self, folder: str, relative: bool) -> str | None:
        """What the names of a folder's files start with in records, or None when it is left out."""
        key = (folder, relative)
        prefix = self._real_dirs.get(key, False)
        if prefix is False:
            real = os.path.realpath(folder or "/").rstrip("/") + "/"
            nb = (self.notebook_dir or "") + "/"
            if real.startswith(self.excluded):
                prefix = None
            elif relative and real.startswith(nb):
                prefix = real[len(nb) :]
            else:
                prefix = real
            self._real_dirs[key] = prefix
        return prefix  # type: ignore[return-value]

    def _ignored(self, name: str) -> bool:
        return self._ignore_pattern().match(name) is not None

    def _ignore_pattern(self) -> re.Pattern[str]:
        if self._ignore_re is None:
            self._ignore_re = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in self.ignores))
        return self._ignore_re

    def relativise(self, files: dict[str, Any]) -> dict[str, Any]:
        """A task's files (real paths) as records name them: relative under the notebook's
        folder, left out as configured; written files outside the folder are reported apart."""
        read = []
        for r in files.get("read", []):
            name = self._name(r["path"])
            if name is not None:
                read.append({**r, "path": name})
        written = []
        outside = []
        for w in files.get("written", []):
            name = self._name(w["path"])
            if name is None:
                continue
            if os.path.isabs(name):
                outside.append(name)
            else:
                written.append({**w, "path": name})
        out: dict[str, Any] = {"read": read, "written": written}
        if outside:
            out["outside"] = outside
        if files.get("warnings"):
            out["warnings"] = list(files["warnings"])
        return out

    def _cell_read_entries(self, paths: set[str], declared: set[str]) -> list[FileEntry]:
        """A cell's reads, in path order. A file the watches vouch for (``FileWatch``: watched
        before its last stat, no event since) keeps the entry of that stat; only the others are
        stat'ed (and hashed when the stat moved). The same files read again, none changed:
        the same list."""
        watch = self._watch
        if not watch.usable():
            return self._read_entries(sorted(paths), True, declared)
        watch.drain()
        quiet = watch.quiet
        for path in self._written_here & quiet.keys():
            watch.forget(path)
        last = self._last_reads
        # The same files as the last list, every one of them vouched for then and no event since.
        if last is not None and last[0] == watch.generation and last[1] == paths:
            return last[2]
        fresh = paths - quiet.keys()
        if declared:
            fresh |= paths & declared  # their entries say they were declared
        order = sorted(paths)
        if fresh:
            new: dict[str, FileEntry] = {}
            self._read_entries(sorted(fresh), True, declared, new)
            new_get, quiet_get = new.get, quiet.get
            out = [e for e in (new_get(p) or quiet_get(p) for p in order) if e is not None]
        else:
            out = [quiet[p] for p in order]
        # Kept for next time only when the watches vouch for every file in it.
        self._last_reads = (watch.generation, paths, out) if not declared and quiet.keys() >= paths else None
        return out

    def _read_entries(self, paths: list[str], relative: bool, declared: set[str], found: dict[str, FileEntry] | None = None) -> list[FileEntry]:
        """The files read, as recorded (``declared``: the ones declared, not seen), leaving out what
        is left out, gone, or not a regular file (a folder, a pipe). One stat per distinct file,
        and a sha256 only when the stat is not one this process already hashed the file at. The
        loop is the cost of observing a cell that reads thousands of files: kept flat.
        ``found``: a cell's reads, also by path, each file that can be trusted to the watches
        watched before its stat (``FileWatch``)."""
        out: list[FileEntry] = []
        digests = self._digests
        seeds = self._seeds
        stat_ = os.stat
        isreg = _S_ISREG
        watch = self._watch if found is not None else None
        written_here = self._written_here
        # Names as _name / _real_name give them, with each folder decided once.
        ignored = self._ignore_pattern().match if relative else None
        prefixes: dict[str, str | None] = {}
        for path in paths:
            folder, _, base = path.rpartition("/")
            prefix = prefixes[folder] if folder in prefixes else prefixes.setdefault(folder, self._folder_prefix(folder, relative))
            if prefix is None:
                continue
            name = prefix + base
            if ignored is not None and ignored(name) is not None:
                continue
            # The watches first, then the stat they vouch for: a change in between is an event. From
            # the second time this process records the file (its digest is known): setting up a watch
            # costs about two stats, lost on a file read once (a kernel that runs each cell once).
            watched = watch is not None and path in digests and path not in written_here and watch.folder_trusted(folder) and watch.watch_file(path)
            try:
                st = os.lstat(path) if watched else stat_(path)
                if watched and _S_ISLNK(st.st_mode):
                    watched = False  # the watch is on the link, not on what it names
                    st = stat_(path)
            except OSError:
                continue
            if not isreg(st.st_mode):
                continue
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev)
            known = digests.get(path)
            if known is not None and known[0] == stamp:
                digest = known[1]
            else:
                seeded = seeds.get(path) if seeds else None
                if seeded is not None and seeded[0] == stamp:
                    digest = seeded[1]
                else:
                    try:
                        digest = _hash_file(path)
                    except OSError:
                        continue
                digests[path] = (stamp, digest)
            entry = {"path": name, "size": stamp[1], "mtime_ns": str(stamp[2]), "sha256": digest}
            if declared and path in declared:
                entry["declared"] = True
            elif watched and st.st_nlink == 1:
                watch.trust(path, folder, entry)  # type: ignore[union-attr]
            out.append(entry)
            if found is not None:
                found[path] = entry
        return out

    def _digest(self, path: str, st: os.stat_result) -> str | None:
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev)
        cached = self._digests.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            digest = _hash_file(path)
        except OSError:
            return None
        self._digests[path] = (stamp, digest)
        return digest

    def _written_entry(self, path: str, name: str, append_only: bool, store: BlobStore | None, warnings: list[str]) -> FileEntry | None:
        st = _regular_stat(path)
        if st is None:
            return None
        entry: FileEntry = {"path": name, "size": st.st_size, "mtime_ns": str(st.st_mtime_ns)}
        if append_only:
            entry["appended"] = True
        if st.st_size > self.blob_limit or store is None:
            digest = self._digest(path, st)
            if digest is None:
                return None
            if store is not None:
                warnings.append(f"`{name}` ({st.st_size} bytes) is over the {self.blob_limit}-byte limit: recorded by digest only, it cannot be put back")
            return {**entry, "sha256": digest, "blob": False}
        try:
            digest = _store_file(store, path, st.st_size)
        except OSError as err:
            warnings.append(f"`{name}` could not be stored ({type(err).__name__}: {err}): recorded by digest only")
            digest = self._digest(path, st)
            return None if digest is None else {**entry, "sha256": digest, "blob": False}
        self._digests[path] = ((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev), digest)
        return {**entry, "sha256": digest, "blob": True}


def _make_hook(obs: FileObserver) -> Any:
    """The audit hook. It runs for every audited event of the process, so its common case (a
    read-only open of an absolute path while a cell or a task runs) is a few local operations and
    one call, the route ``FileObserver._route`` points (a cell's ``set.add``); everything else goes
    to ``FileObserver._hook``. Paths are deduplicated, named and stat'ed once, at the end of the
    scope (``summarise``). Measured against a hook that does nothing (bench/README.md): the
    attribute lookups and ``type(flags)`` check of the previous form cost 0.2 µs an open more."""
    route = obs.route
    slow = obs._hook  # noqa: SLF001 - its other half
    accmode = os.O_ACCMODE

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            add = route[0]
            if add is None:
                return
            try:
                path, _, flags = args
                if type(path) is str and path[:1] == "/" and not flags & accmode:
                    add(path)
                    return
            except (TypeError, ValueError):
                pass  # not the (path, mode, flags) CPython gives: the slow half decides
            slow(event, args)
        elif event == "os.rename" or event == "os.remove":
            slow(event, args)

    return hook


def _native_hook(build: bool) -> Any:
    """The C hook's module, or None. Imported here: a worker given this module by value may
    not have the shim's package, and then keeps the Python hook."""
    try:
        from . import native_hook
    except ImportError:
        return None
    return native_hook.load(build)


def _python_dirs() -> set[str]:
    """The Python installation and the shim's own files: never the user's inputs or outputs."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    try:
        dirs.update(os.path.realpath(p) for p in site.getsitepackages())
    except AttributeError:
        pass
    dirs.add(os.path.realpath(site.getusersitepackages()))
    dirs.add(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return dirs


def _regular_stat(path: str) -> os.stat_result | None:
    """The stat of a regular file (following links), or None: gone, a folder, a pipe."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _hash_file(path: str) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        h = hashlib.sha256()
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _store_file(store: BlobStore, path: str, size: int) -> str:
    """Copy a written file into the store under its sha256."""
    if size <= _SMALL:
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        store.write(digest, [memoryview(data)])
        return digest
    return store.store_file(path)[0]


def observing() -> bool:
    """``NBREWIND_OBSERVE_FILES=0`` turns observation off (then no file decides reuse or comes back)."""
    return os.environ.get("NBREWIND_OBSERVE_FILES", "1") != "0"


def process_observer() -> FileObserver:
    """This process's observer. Kept on ``sys``, not in this module: a worker that gets this
    code by value (a fresh copy of the module's globals per task) must still find the one
    observer whose hook is installed, or every task would add a hook of its own."""
    found = getattr(sys, "_nbrewind_file_observer", None)
    if found is None:
        found = FileObserver()
        sys._nbrewind_file_observer = found  # type: ignore[attr-defined]
    return found


def observed_call(blobs_dir: str, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """Run one task, attributing the files its thread opens to it (several threads per
    worker each have their own scope); its written files are copied into the store.
    Returns (result, files by real path); raises what the task raised."""
    if not observing():
        return func(*args, **kwargs), None
    obs = process_observer()
    store = obs.stores.get(blobs_dir)
    if store is None:
        obs.install()
        bundle = os.path.dirname(os.path.realpath(blobs_dir)).rstrip("/") + "/"
        if bundle not in obs.excluded:
            obs.excluded = (*obs.excluded, bundle)
            obs._real_dirs.clear()  # noqa: SLF001 - folders decided before the bundle was known
        store = obs.stores[blobs_dir] = BlobStore(blobs_dir)
    scope = Scope()
    outer = getattr(obs.local, "scope", None)
    obs.local.scope = scope
    with obs.count_lock:  # several threads per worker: the count must never drop while a task runs
        obs.task_scopes += 1
        obs._route()  # noqa: SLF001
    try:
        try:
            result = func(*args, **kwargs)
        finally:
            # The bookkeeping's own opens (hashing what the task wrote) belong to nobody: without a
            # scope of its own on this thread they would fall to the running cell, as reads.
            obs.local.scope = Scope()
        try:
            files = obs.summarise(scope, store, absolute=True)
        except Exception as err:  # noqa: BLE001 - the bookkeeping failed: the task must not be memoized
            files = {"error": f"{type(err).__name__}: {err}"[:500]}
    finally:
        obs.local.scope = outer
        with obs.count_lock:
            obs.task_scopes -= 1
            obs._route()  # noqa: SLF001
    return result, files


observer = process_observer()


def reads(*paths: Any) -> None:
    """Declare files (or globs) the running cell or task reads where Python's ``open`` does not
    see it (HDF5 through h5py, netCDF4's C library): they then count as its inputs."""
    observer.declare(paths)


def writes(*paths: Any) -> None:
    """Declare files the running cell or task writes where Python's ``open`` does not see it."""
    observer.declare(paths, write=True)
