"""nbrewind's TaskVine adapter: task-level memoization of ``PythonTask`` and ``FunctionCall``.

TaskVine (``ndcctools.taskvine``) has no graph and no futures on its native
API: the user builds task objects, ``Manager.submit`` s them, and collects them
back in a ``while not m.empty(): t = m.wait(...)`` loop. We patch the
``Manager`` class (so its subclasses too) at those seams:

* **submit** is the only place that still sees a ``PythonTask``'s function and
  arguments as the user passed them (``submit_finalize`` pickles and forgets
  them). The task is keyed there with the core's scheme: the function's
  identity (its code and, recursively, what it calls), the argument keys, and
  every declared input file by content, and the environment variables set on it
  (``set_env_var``, remembered as they are set). A hit is not sent to the manager: the
  task object is turned into a completed one (its class swapped for a subclass
  that answers ``successful()``, ``output``, ``result``...) and queued; a miss
  is submitted as is and remembered by its task id.
* **wait / wait_for_tag / wait_for_task_id** hand queued hits back first, as
  completed tasks with the recorded ``output``; a miss coming back is stored
  from this (the manager's) side, a failure noted, never cached. ``empty()``
  counts the queued hits, so the user's loop collects every task.

Not memoized yet, recorded as uncached with the reason: plain ``Task``
(shell commands), tasks declaring output files of their own, tasks reading a
URL, a temp file or the output file of a task that has not come back yet,
tasks with temp output, and tasks given a software environment
(``add_environment`` and its kin).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import pathlib
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from typing import Any

from nbrewind.engine_guard import guard
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks.hooks import when_imported
from nbrewind.tasks.keys import Keyer, Uncacheable, tagged_digest

ENGINE = "taskvine"
GUARD = guard(ENGINE)
_installed = False
_lock = threading.RLock()
# Every Manager created in this kernel, to shut down the ones the user left running.
_managers: weakref.WeakSet[Any] = weakref.WeakSet()
# Ids of served hits: far above the C task ids TaskVine hands out (1, 2, ...).
_hit_ids = itertools.count(1 << 40)


def install() -> None:
    """Patch TaskVine now if it is imported, else as soon as it is. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    when_imported("ndcctools.taskvine.manager", GUARD.install(_patch_manager))
    atexit.register(shutdown)


@dataclass
class _Dispatched:
    record: dict[str, Any]
    dispatch: str
    started: float


def _patch_manager(module: Any) -> None:
    Manager = module.Manager
    if getattr(Manager.submit, "_nbrewind", False):
        return
    original_init = Manager.__init__
    original_submit = Manager.submit
    original_wait_for_tag = Manager.wait_for_tag
    original_wait_for_task_id = Manager.wait_for_task_id
    original_empty = Manager.empty
    original_create_library = Manager.create_library_from_functions

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._nbrewind_hits = []  # hit tasks not yet handed back by wait
        self._nbrewind_dispatched = {}  # task id -> what the run recorded for it
        self._nbrewind_libraries = {}  # library name -> {function name: function}
        self._nbrewind_writers = {}  # local path -> id of the task that declared it as an output
        self._nbrewind_handle = _Cleanup(self)
        _managers.add(self)
        rt = task_runtime.active()
        if rt is not None:
            rt.engine_started(ENGINE, self._nbrewind_handle)

    @functools.wraps(original_create_library)
    def create_library_from_functions(self: Any, library_name: str, *function_list: Any, **kwargs: Any) -> Any:
        # A FunctionCall names its function only: remember which function the name stands for.
        libraries = getattr(self, "_nbrewind_libraries", None)
        if libraries is not None:
            libraries[library_name] = {getattr(f, "__name__", ""): f for f in function_list}
        return original_create_library(self, library_name, *function_list, **kwargs)

    @functools.wraps(original_submit)
    def submit(self: Any, task: Any) -> Any:
        _unmake_hit(task)  # a served hit submitted again is a task like any other
        rt = task_runtime.active()
        if rt is None or not GUARD.on or not hasattr(self, "_nbrewind_hits") or type(task).__name__ == "LibraryTask":
            return original_submit(self, task)
        rt.engine_used(ENGINE)
        decided = None
        with GUARD.attempt("keying a TaskVine task", rt):
            decided = _decide(rt, self, task)
        if decided is None:
            return original_submit(self, task)
        status, rec, payload = decided
        if status == "hit":
            value = rt.load(payload, rec["key"])
            task.manager = self
            hit_id = next(_hit_ids)
            _make_hit(task, value, hit_id)
            rt.hit(rec, payload)
            self._nbrewind_hits.append(task)
            return hit_id
        task_id = original_submit(self, task)
        for file, _name, _flags in getattr(task, "_tracked_outputs", ()):
            path = file.source()
            if path:
                self._nbrewind_writers[path] = task_id
        if status == "dispatched":
            self._nbrewind_dispatched[task_id] = _Dispatched(rec, payload, time.monotonic())
            rt.dispatched(rec, payload)
        else:
            rt.uncached(rec, payload)
        return task_id

    @functools.wraps(original_wait_for_tag)
    def wait_for_tag(self: Any, tag: Any, timeout: Any = "wait_forever") -> Any:
        hits = getattr(self, "_nbrewind_hits", None)
        if hits:
            for i, task in enumerate(hits):
                if tag is None or task.tag == tag:
                    return hits.pop(i)
        task = original_wait_for_tag(self, tag, timeout)
        return _completed(self, task)

    @functools.wraps(original_wait_for_task_id)
    def wait_for_task_id(self: Any, task_id: Any, timeout: Any = "wait_forever") -> Any:
        hits = getattr(self, "_nbrewind_hits", None)
        if hits:
            for i, task in enumerate(hits):
                if task.id == task_id:
                    return hits.pop(i)
        return _completed(self, original_wait_for_task_id(self, task_id, timeout))

    @functools.wraps(original_empty)
    def empty(self: Any) -> Any:
        return original_empty(self) and not getattr(self, "_nbrewind_hits", None)

    _patch_env_var(sys.modules[Manager.__module__.rsplit(".", 1)[0] + ".task"].Task)
    submit._nbrewind = True  # type: ignore[attr-defined]
    Manager.__init__ = __init__
    Manager.submit = submit
    Manager.wait_for_tag = wait_for_tag
    Manager.wait_for_task_id = wait_for_task_id
    Manager.empty = empty
    Manager.create_library_from_functions = create_library_from_functions


def _patch_env_var(Task: Any) -> None:
    """``set_env_var`` hands the variable straight to C: remember it, a task's environment is part of its key."""
    original = Task.set_env_var

    @functools.wraps(original)
    def set_env_var(self: Any, name: str, value: Any = None) -> Any:
        env = self.__dict__.setdefault("_nbrewind_env", {})
        env[name] = value
        return original(self, name, value)

    Task.set_env_var = set_env_var

    # These hand a software environment straight to C: not hashed yet, so the task is not memoized.
    for name in ("add_environment", "add_execution_context", "add_starch_package", "add_poncho_package"):
        method = getattr(Task, name, None)
        if method is not None:
            setattr(Task, name, _marking_uncacheable(method, f"it runs in an environment given by {name}, which nbrewind does not hash"))


def _marking_uncacheable(method: Any, reason: str) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.__dict__["_nbrewind_uncacheable"] = reason
        return method(self, *args, **kwargs)

    return wrapper


# ------------------------------------------------------------------ keys


def _decide(rt: task_runtime.TaskRuntime, manager: Any, task: Any) -> tuple[str, dict[str, Any], Any]:
    """("hit", record, stored) | ("dispatched", record, dispatch id) | ("uncached", record, reason)."""
    fn: Any = None
    try:
        fn, args, kwargs = _call_of(manager, task)
        keyer = Keyer()
        arg_keys = [keyer.value_key(a) for a in args]
        kwarg_keys = {k: keyer.value_key(v) for k, v in kwargs.items()}
        inputs = _input_keys(manager, task, keyer)
        if inputs:
            kwarg_keys["(vine inputs)"] = tagged_digest("vine-inputs", *inputs)
        marked = getattr(task, "_nbrewind_uncacheable", None)
        if marked:
            raise Uncacheable(marked)
        env = getattr(task, "_nbrewind_env", None)
        if env:
            kwarg_keys["(vine env)"] = tagged_digest("vine-env", *(f"{k}={v!r}" for k, v in sorted(env.items())))
        if getattr(task, "_tracked_outputs", None):
            raise Uncacheable("it declares output files of its own, which nbrewind does not restore for TaskVine yet")
        if getattr(task, "_tmp_output_enabled", False):
            raise Uncacheable("its output stays on the worker (enable_temp_output)")
        key = keyer.task_key(ENGINE, fn, arg_keys, kwarg_keys)
    except Uncacheable as err:
        return "uncached", rt.record(ENGINE, fn or task, err, [], [], _engine_key(task)), err.reason
    occurrence = rt.submission(key)
    rec = rt.record(ENGINE, fn, key, [*arg_keys, *(kwarg_keys[k] for k in sorted(kwarg_keys))], [], _engine_key(task), occurrence)
    stored = rt.lookup(key, occurrence)
    if stored is not None:
        return "hit", rec, stored
    return "dispatched", rec, rt.new_dispatch()


def _call_of(manager: Any, task: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The function a task runs and its arguments, as the user passed them."""
    kind = type(task).__mro__
    names = {c.__name__ for c in kind}
    if "FunctionCall" in names:
        library = task.get_library_required()
        name = task.command
        fn = getattr(manager, "_nbrewind_libraries", {}).get(library, {}).get(name)
        if fn is None:
            raise Uncacheable(f"calls {name!r} in library {library!r}, whose functions nbrewind did not see created")
        event = getattr(task, "_event", {})
        return fn, tuple(event.get("fn_args", ())), dict(event.get("fn_kwargs", {}))
    if "PythonTask" in names:
        fn_def = getattr(task, "_fn_def", None)
        if fn_def is None:
            raise Uncacheable("a PythonTask submitted again after it ran: its function is no longer known")
        fn, args, kwargs = fn_def
        return fn, tuple(args), dict(kwargs)
    raise Uncacheable("a shell Task: nbrewind does not memoize TaskVine command tasks yet")


def _input_keys(manager: Any, task: Any, keyer: Keyer) -> list[str]:
    """Each declared input: its remote name and its content (a folder: every file in it)."""
    from ndcctools.taskvine import cvine

    if not hasattr(task, "_tracked_inputs") or not hasattr(task, "_tracked_outputs"):
        # Older TaskVine hands inputs and outputs straight to C: we could not see them.
        raise Uncacheable("this TaskVine version does not show a task's declared input and output files to Python")
    keys: list[str] = []
    for file, remote_name in task._tracked_inputs:
        kind = file.type()
        if kind == cvine.VINE_FILE:
            path = file.source()
            writer = manager._nbrewind_writers.get(path)
            if writer is not None and writer in manager._task_table:
                # Its content now is not what the task will read: another task is still writing it.
                raise Uncacheable(f"reads {path!r}, an output of task {writer}, which has not come back yet")
            keys.append(tagged_digest("vine-file", remote_name, keyer.value_key(pathlib.Path(path))))
        elif kind == cvine.VINE_BUFFER:
            keys.append(tagged_digest("vine-buffer", remote_name, hashlib.sha256(bytes(file.contents() or b"")).hexdigest()))
        elif kind == cvine.VINE_URL:
            raise Uncacheable(f"reads the URL {file.source()!r} as {remote_name!r}: its content cannot be hashed from here")
        elif kind == cvine.VINE_TEMP:
            raise Uncacheable(f"reads a temp file ({remote_name!r}) that lives on the workers only")
        else:
            raise Uncacheable(f"reads {remote_name!r}, a TaskVine file of a kind nbrewind does not hash (type {kind})")
    return keys


def _engine_key(task: Any) -> str:
    return f"{type(task).__name__}:{getattr(task, 'tag', None) or ''}"


# ------------------------------------------------------------------ hits and completions

_hit_classes: dict[type, type] = {}


def _make_hit(task: Any, value: Any, hit_id: int) -> None:
    """Turn a task that was never dispatched into one that looks completed to the user's loop."""
    cls = type(task)
    with _lock:
        hit_cls = _hit_classes.get(cls)
        if hit_cls is None:
            hit_cls = _hit_classes[cls] = type(cls.__name__, (cls,), dict(_HIT_MEMBERS, __module__=cls.__module__, __qualname__=cls.__qualname__))
    task.__class__ = hit_cls
    task._nbrewind_hit_id = hit_id
    task._output, task._output_loaded, task._saved_output = value, True, value


def _unmake_hit(task: Any) -> None:
    if "_nbrewind_hit_id" in task.__dict__:
        task.__class__ = task.__class__.__mro__[1]
        del task._nbrewind_hit_id
        task._output, task._output_loaded = None, False


_HIT_MEMBERS: dict[str, Any] = {
    "id": property(lambda self: self._nbrewind_hit_id),
    "completed": lambda self: True,
    "successful": lambda self: True,
    "result": property(lambda self: 0),  # VINE_RESULT_SUCCESS
    "exit_code": property(lambda self: 0),
    "std_output": property(lambda self: ""),
    "output": property(lambda self: self._output),
}


def _completed(manager: Any, task: Any) -> Any:
    """A task the manager returned: store a dispatched task's result from here."""
    if task is None:
        return None
    table = getattr(manager, "_nbrewind_dispatched", None)
    info = table.pop(task.id, None) if table is not None else None
    rt = task_runtime.active()
    if info is None or rt is None:
        return task
    try:
        if not task.successful():
            rt.fail_client_side(info.record, info.dispatch, RuntimeError(f"TaskVine task {task.id} failed (result {task.result}, exit code {task.exit_code})"))
            return task
        value = task.output
        if isinstance(value, BaseException):
            rt.fail_client_side(info.record, info.dispatch, value)
        else:
            rt.persist_client_side(info.record, info.dispatch, value, time.monotonic() - info.started)
    except Exception:  # noqa: BLE001 - storing failed: the task stays the user's, only not memoized
        traceback.print_exc()
    return task


# ------------------------------------------------------------------ shutdown


class _Cleanup:
    """The handle the core closes at the end of a run: the manager stops its workers and port."""

    def __init__(self, manager: Any) -> None:
        self._manager = weakref.ref(manager)

    def close(self) -> None:
        manager = self._manager()
        if manager is not None and getattr(manager, "_taskvine", None):
            manager._free()


def shutdown() -> None:
    for manager in list(_managers):
        try:
            _Cleanup(manager).close()
        except Exception:
            traceback.print_exc()
