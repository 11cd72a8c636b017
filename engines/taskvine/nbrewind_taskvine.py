"""nbrewind's TaskVine adapter: task-level memoization of ``PythonTask``, ``FunctionCall`` and shell ``Task``.

TaskVine (``ndcctools.taskvine``) has no graph and no futures on its native
API: the user builds task objects, ``Manager.submit`` s them, and collects them
back in a ``while not m.empty(): t = m.wait(...)`` loop. We patch the
``Manager`` class (so its subclasses too) at those seams:

* **submit** is the only place that still sees a ``PythonTask``'s function and
  arguments as the user passed them (``submit_finalize`` pickles and forgets
  them). The task is keyed there with the core's scheme: the function's
  identity (its code and, recursively, what it calls), the argument keys, and
  every declared input file by content, and the environment variables set on it
  (``set_env_var``, remembered as they are set). A shell ``Task`` is keyed the
  same way, with its command line in place of a function. Declared output files
  (local files in the notebook's folder) are part of the key by name. A hit is
  not sent to the manager: the task object is turned into a completed one (its
  class swapped for a subclass that answers ``successful()``, ``output``,
  ``std_output``, ``exit_code``, ``result``...) and queued, and its declared
  output files are written back from the store; a miss is submitted as is and
  remembered by its task id.
* **wait / wait_for_tag / wait_for_task_id** hand queued hits back first, as
  completed tasks with the recorded ``output``; a miss coming back is stored
  from this (the manager's) side with the files it declared as outputs (their
  content goes into the store as blobs), a failure noted, never cached (a shell
  command that exits non-zero, a ``FunctionCall`` whose function raised).
  ``empty()`` counts the queued hits, so the user's loop collects every task.

Not memoized, recorded as uncached with the reason: tasks reading a URL, a temp
file or the output file of a task that has not come back yet, tasks with temp
output or declaring an output that is not a local file in the notebook's
folder, and tasks given a software environment (``add_environment`` and its
kin). A shell command reading a file it did not declare is keyed without it:
TaskVine's own contract is that a task sees only its declared inputs.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import os
import sys
import threading
import time
import traceback
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

from nbrewind.engine_guard import guard
from nbrewind.file_observer import process_observer
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks.hooks import when_imported
from nbrewind.tasks.keys import TASK_KEY_SCHEME, Keyer, Uncacheable, tagged_digest
from nbrewind.tasks.worker import write_note

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
    # The local files the user declared as its outputs, stored with its result.
    outputs: list[str] = field(default_factory=list)


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
        outputs = _declared_outputs(task)  # before submit_finalize adds a PythonTask's own
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
            self._nbrewind_dispatched[task_id] = _Dispatched(rec, payload, time.monotonic(), outputs)
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
        inputs = _input_keys(manager, task)
        if inputs:
            kwarg_keys["(vine inputs)"] = tagged_digest("vine-inputs", *inputs)
        marked = getattr(task, "_nbrewind_uncacheable", None)
        if marked:
            raise Uncacheable(marked)
        env = getattr(task, "_nbrewind_env", None)
        if env:
            kwarg_keys["(vine env)"] = tagged_digest("vine-env", *(f"{k}={v!r}" for k, v in sorted(env.items())))
        outputs = _output_keys(task)
        if outputs:
            kwarg_keys["(vine outputs)"] = tagged_digest("vine-outputs", *outputs)
        if getattr(task, "_tmp_output_enabled", False):
            raise Uncacheable("its output stays on the worker (enable_temp_output)")
        if isinstance(fn, _ShellCommand):
            # No function: the command line stands for the code, the rest is keyed as for a function.
            key = tagged_digest("task", str(TASK_KEY_SCHEME), ENGINE, "shell", fn.command, *arg_keys, "kw", *(p for k in sorted(kwarg_keys) for p in (k, kwarg_keys[k])))
        else:
            key = keyer.task_key(ENGINE, fn, arg_keys, kwarg_keys)
    except Uncacheable as err:
        return "uncached", rt.record(ENGINE, fn or task, err, [], [], _engine_key(task)), err.reason
    occurrence = rt.submission(key)
    rec = rt.record(ENGINE, fn, key, [*arg_keys, *(kwarg_keys[k] for k in sorted(kwarg_keys))], [], _engine_key(task), occurrence)
    stored = rt.lookup(key, occurrence)
    if stored is not None:
        return "hit", rec, stored
    return "dispatched", rec, rt.new_dispatch()


class _ShellCommand(types.SimpleNamespace):
    """What a shell ``Task`` runs, standing for a function in its record (``function``: ``shell.<command>``)."""

    def __init__(self, command: str) -> None:
        super().__init__(command=command, __module__="shell", __qualname__=command[:120])


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
        event = getattr(task, "_event", None) or {}
        return fn, tuple(event.get("fn_args", ())), dict(event.get("fn_kwargs", {}))
    if "PythonTask" in names:
        fn_def = getattr(task, "_fn_def", None)
        if fn_def is None:
            raise Uncacheable("a PythonTask submitted again after it ran: its function is no longer known")
        fn, args, kwargs = fn_def
        return fn, tuple(args), dict(kwargs)
    if "_outputs_finalized" in task.__dict__ and task._outputs_finalized:
        raise Uncacheable("a shell Task submitted again after it ran: its declared outputs are already the manager's")
    return _ShellCommand(str(task.command)), (), {}


def _declared_outputs(task: Any) -> list[str]:
    """The local paths of the files the user declared as the task's outputs."""
    return [file.source() for file, _name, _flags in getattr(task, "_tracked_outputs", ())]


def _output_keys(task: Any) -> list[str]:
    """Each declared output: its remote name and where it lands, as the record names it (in the
    notebook's folder: a served task writes it back there, and only there)."""
    from ndcctools.taskvine import cvine

    keys: list[str] = []
    for file, remote_name, _flags in getattr(task, "_tracked_outputs", ()):
        if file.type() != cvine.VINE_FILE:
            raise Uncacheable(f"declares the output {remote_name!r} as a TaskVine file of a kind nbrewind does not restore (type {file.type()})")
        path = os.path.abspath(file.source())
        observer = process_observer()
        name = observer._name(path) if observer.notebook_dir else None  # noqa: SLF001 - the observer's naming of paths
        if name is None or os.path.isabs(name):
            raise Uncacheable(f"declares the output {path!r} outside the notebook's folder, where nbrewind never writes a file back")
        keys.append(tagged_digest("vine-output", remote_name, name))
    return keys


def _input_keys(manager: Any, task: Any) -> list[str]:
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
            keys.append(tagged_digest("vine-file", remote_name, _content_key(path)))
        elif kind == cvine.VINE_BUFFER:
            keys.append(tagged_digest("vine-buffer", remote_name, hashlib.sha256(bytes(file.contents() or b"")).hexdigest()))
        elif kind == cvine.VINE_URL:
            raise Uncacheable(f"reads the URL {file.source()!r} as {remote_name!r}: its content cannot be hashed from here")
        elif kind == cvine.VINE_TEMP:
            raise Uncacheable(f"reads a temp file ({remote_name!r}) that lives on the workers only")
        else:
            raise Uncacheable(f"reads {remote_name!r}, a TaskVine file of a kind nbrewind does not hash (type {kind})")
    return keys


def _content_key(path: str) -> str:
    """A declared input by content alone: the task sees it under its remote name, wherever it is
    here (a notebook replayed in another folder declares the same files under other paths)."""
    if not os.path.exists(path):
        return "absent"
    if not os.path.isdir(path):
        return _file_digest(path)
    entries: list[str] = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            entries += [os.path.relpath(full, path), _file_digest(full)]
    return tagged_digest("vine-dir", *entries)


def _file_digest(path: str) -> str:
    """Its sha256, by the file observer (which keeps digests while a file's stat holds)."""
    digest = process_observer()._digest(path, os.stat(path))  # noqa: SLF001 - the observer's digest cache
    if digest is None:
        raise Uncacheable(f"reads {path!r}, which could not be read to hash it")
    return digest


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
    if _is_shell(task):
        # What its run left besides its output files (put back by the runtime): stdout and exit code.
        task._nbrewind_stdout, task._nbrewind_exit_code = value["stdout"], value["exit_code"]
        value = value["stdout"]  # a shell task's output is its standard output
    task._output, task._output_loaded, task._saved_output = value, True, value


def _unmake_hit(task: Any) -> None:
    if "_nbrewind_hit_id" in task.__dict__:
        task.__class__ = task.__class__.__mro__[1]
        for name in ("_nbrewind_hit_id", "_nbrewind_stdout", "_nbrewind_exit_code"):
            task.__dict__.pop(name, None)
        task._output, task._output_loaded = None, False


_HIT_MEMBERS: dict[str, Any] = {
    "id": property(lambda self: self._nbrewind_hit_id),
    "completed": lambda self: True,
    "successful": lambda self: True,
    "result": property(lambda self: "success"),  # as Task.result words VINE_RESULT_SUCCESS
    "exit_code": property(lambda self: self.__dict__.get("_nbrewind_exit_code", 0)),
    "std_output": property(lambda self: self.__dict__.get("_nbrewind_stdout", "")),
    "output": property(lambda self: self._output),
}


def _is_shell(task: Any) -> bool:
    return not any(c.__name__ == "PythonTask" for c in type(task).__mro__)


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
        failure = _function_call_failure(task)
        if failure is not None:
            rt.fail_client_side(info.record, info.dispatch, RuntimeError(failure))
            return task
        value = {"stdout": task.std_output or "", "exit_code": task.exit_code} if _is_shell(task) else task.output
        if isinstance(value, BaseException):
            rt.fail_client_side(info.record, info.dispatch, value)
            return task
        files, unkept = _stored_outputs(rt, info.outputs)
        if unkept is not None:
            write_note(rt.blobs_dir, info.record["key"], {"dispatch": info.dispatch, "status": "unstored", "where": {"client": True}, "reason": unkept})
        else:
            rt.persist_client_side(info.record, info.dispatch, value, time.monotonic() - info.started, files)
    except Exception:  # noqa: BLE001 - storing failed: the task stays the user's, only not memoized
        traceback.print_exc()
    return task


def _function_call_failure(task: Any) -> str | None:
    """A FunctionCall whose function raised still completes successfully, its ``output`` the
    reason as a string: read the library's answer to tell it from a result."""
    if "FunctionCall" not in {c.__name__ for c in type(task).__mro__}:
        return None
    import cloudpickle

    answer = task._output_file.contents()
    if getattr(task, "_serialize_output", True):
        answer = cloudpickle.loads(answer)
    if isinstance(answer, dict) and not answer.get("Success", True):
        return f"the function raised in its library: {answer.get('Reason')}"[:2000]
    return None


def _stored_outputs(rt: task_runtime.TaskRuntime, paths: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """The declared output files, now fetched back to the manager, copied into the store:
    (files as a note gives them, None) or (None, why the task cannot be served later)."""
    if not paths:
        return None, None
    observer = process_observer()
    warnings: list[str] = []
    written = []
    for path in paths:
        real = os.path.realpath(path)
        entry = observer._written_entry(real, real, False, rt.store, warnings)  # noqa: SLF001 - the observer's way to describe and store a written file
        if entry is None:
            return None, f"its declared output {path!r} was not there when it came back"
        if not entry["blob"]:
            return None, f"its declared output {path!r} could not be kept in the store ({'; '.join(warnings)}): it could not be put back"
        written.append(entry)
    return {"read": [], "written": written}, None


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
