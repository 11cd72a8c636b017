"""nbrewind's Parsl adapter: task-level memoization of every app invocation.

Every ``python_app``, ``bash_app`` and ``join_app`` call ends in
``DataFlowKernel.submit`` (parsl 2026.10), and every launch of a task asks
the DFK's pluggable ``Memoizer`` (``check_memo``) before it reaches an
executor; every completion tells it the outcome (``update_memo_result`` /
``update_memo_exception``). We use both seams:

* **submit** (wrapped on the class) is the only place that still sees the
  arguments as the user passed them: an ``AppFuture`` or ``DataFuture``
  argument is a future there, not yet its value, so it contributes its
  producer's *task key* (Merkle), and a ``File`` is still a file (hashed by
  content; ``outputs=`` files by path). The task is keyed and recorded there
  (hit / dispatched / uncached); a miss is submitted with its function wrapped
  to persist its result where it runs.
* **the memoizer** (ours, installed on each DFK, delegating to the one the
  user configured) answers a hit with a completed future at launch: Parsl then
  completes the task itself as ``memo_done``, exactly as for its own cache,
  so the ``AppFuture``, its ``outputs`` ``DataFuture`` s, dependants,
  ``wait_for_current_tasks`` and monitoring all behave as usual, and nothing
  is dispatched. Declared output files are restored before the future
  completes. On completion it records failures (never cached) and persists
  results on the client side when the worker could not (a join app, a worker
  that does not see the store).

A ``submit`` wrapper alone could not answer a hit with a Parsl-native task;
a memoizer alone sees arguments only after futures were replaced by values
(so no Merkle keys, and a hit would wait for its upstream tasks to *run*).
"""

from __future__ import annotations

import atexit
import datetime
import functools
import hashlib
import os
import pathlib
import shutil
import sys
import threading
import time
import traceback
import uuid
import weakref
from concurrent.futures import Future
from typing import Any

from nbrewind.engine_guard import guard
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks.hooks import when_imported
from nbrewind.tasks.keys import Keyer, Uncacheable, function_name
from nbrewind.tasks.shipping import Shipped
from nbrewind.tasks.worker import where_here

import nbrewind_parsl_loader as loader
import nbrewind_parsl_worker as pw

ENGINE = "parsl"
# Off outside engine_support.json's range, or once a patch or a key computation failed.
GUARD = guard(ENGINE)
_installed = False
# Serialises submits: the task id a submission will get is read before Parsl assigns it.
_submit_lock = threading.RLock()
# Every DFK loaded in this kernel, to clean up the ones the user left running.
_dfks: weakref.WeakSet[Any] = weakref.WeakSet()
# kwargs that steer where/how a task runs, never what it computes.
_NOT_KEYED = frozenset({"parsl_resource_specification"})


def install() -> None:
    """Patch Parsl now if it is imported, else as soon as it is. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    when_imported("parsl.dataflow.dflow", GUARD.install(_patch_dflow))
    atexit.register(shutdown)


# ------------------------------------------------------------------ shipping


# By value always, this adapter's worker module with the core's: HTEX workers started
# by a provider do not have this folder (or nbrewind) on their path. Not in the tasks:
# written into the store once (_runner_file), loaded there by the loader they carry.
_RUNNER = Shipped(pw.run_persisting, by_value=(pw,))
_LOADER = Shipped(loader.run, by_value=(loader,), core=False)
# id(app function) -> (function, its persisting wrapper): one wrapper per function, so
# Parsl's serializer cache (keyed by the callable) serialises it once, not per task.
_wrappers: dict[tuple[int, bool], tuple[Any, Any]] = {}
_WRAPPERS_MAX = 10_000


def _persisting(func: Any, in_process: bool) -> Any:
    """``func`` wrapped to persist its result where it runs: the runner itself on Parsl's
    thread pool (this process), else the loader that fetches the runner from the store."""
    hit = _wrappers.get((id(func), in_process))
    if hit is not None and hit[0] is func:
        return hit[1]
    wrapper = functools.partial(_RUNNER if in_process else _LOADER, func)
    wrapper.__name__ = getattr(func, "__name__", "app")  # type: ignore[attr-defined]  # the DFK names tasks by it
    if len(_wrappers) >= _WRAPPERS_MAX:
        _wrappers.clear()
    _wrappers[(id(func), in_process)] = (func, wrapper)
    return wrapper


# ------------------------------------------------------------------ interception


class _TaskInfo:
    """What the submit wrapper decided for one invocation (a plain class with slots: one is
    built per submission, on the path every task takes)."""

    __slots__ = ("key", "status", "func", "slots", "name_fn", "name", "arg_keys", "upstream", "dispatch", "occurrence", "stored")

    def __init__(self, key: str | Uncacheable, status: str, func: Any, slots: tuple[str, ...], name_fn: Any, name: str) -> None:
        self.key = key  # its task key, or why it has none
        self.status = status  # "hit" | "dispatched" | "uncached"
        self.func = func  # what the user's app submitted (before our wrapper)
        self.slots = slots  # declared files: "outputs/<i>", "stdout", "stderr"
        self.name_fn = name_fn  # what the record names
        self.name = name  # its name there
        self.arg_keys: list[str] = []
        self.upstream: list[str] = []
        self.dispatch = ""
        self.occurrence: task_runtime.Occurrence | None = None
        self.stored: task_runtime.Stored | None = None


def _patch_dflow(dflow: Any) -> None:
    _ensure_engine_scripts_on_path()
    DFK = dflow.DataFlowKernel
    if getattr(DFK.submit, "_nbrewind", False):
        return
    original_submit = DFK.submit
    original_init = DFK.__init__

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # After the DFK started the user's memoizer: ours answers first and delegates.
        self.memoizer = _Memoizer(self.memoizer)
        self._nbrewind_tasks = {}
        self._nbrewind_handle = _Cleanup(self)  # the runtime holds it weakly: it lives as long as the DFK
        _dfks.add(self)
        rt = task_runtime.active()
        if rt is not None:
            rt.engine_started(ENGINE, self._nbrewind_handle)

    @functools.wraps(original_submit)
    def submit(self: Any, func: Any, app_args: Any, executors: Any = "all", cache: bool = False, ignore_for_cache: Any = None, app_kwargs: Any = None, join: bool = False) -> Any:
        rt = task_runtime.active()
        if app_kwargs is None:
            app_kwargs = {}
        if rt is None or not GUARD.on or not isinstance(getattr(self, "memoizer", None), _Memoizer):
            return original_submit(self, func, app_args=app_args, executors=executors, cache=cache, ignore_for_cache=ignore_for_cache, app_kwargs=app_kwargs, join=join)
        rt.engine_used(ENGINE)
        info = GUARD.call("keying a Parsl app invocation", rt, _decide, rt, func, app_args, app_kwargs, ignore_for_cache, join)
        if info is None:
            return original_submit(self, func, app_args=app_args, executors=executors, cache=cache, ignore_for_cache=ignore_for_cache, app_kwargs=app_kwargs, join=join)
        if info.status == "hit" and _completes_at_once(self, info, app_args, app_kwargs, join):
            try:
                value = _serve(rt, info, app_kwargs)
            except Exception as err:  # noqa: BLE001 - a damaged or missing blob: run it after all
                print(f"nbrewind: a parsl task's memoized result cannot be used ({err}); running it", file=sys.stderr)
                info.status, info.dispatch = "dispatched", rt.new_dispatch()
            else:
                return _completed(self, rt, info, func, app_args, app_kwargs, executors, cache, ignore_for_cache, value)
        submitted_func, submitted_kwargs = func, app_kwargs
        if info.status == "dispatched" and not join:
            label, in_process = _executor_of(self, executors)
            # The runner's file is for worker processes (the loader); the thread pool needs none.
            runner = ("", "") if in_process else _runner_file(rt)
            spec = (rt.blobs_dir, info.key, info.dispatch, *_reach_marker(rt), label, info.slots, *runner)
            submitted_func, submitted_kwargs = _persisting(func, in_process), {**app_kwargs, pw.SPEC_KWARG: spec}
        with _submit_lock:
            tid = self.task_count
            self._nbrewind_tasks[tid] = info
            try:
                fut = original_submit(self, submitted_func, app_args=app_args, executors=executors, cache=cache, ignore_for_cache=ignore_for_cache, app_kwargs=submitted_kwargs, join=join)
            except BaseException:
                self._nbrewind_tasks.pop(tid, None)
                raise
        fut._nbrewind_key = info.key if isinstance(info.key, str) else None
        _report(rt, info, tid)
        return fut

    submit._nbrewind = True  # type: ignore[attr-defined]
    DFK.__init__ = __init__
    DFK.submit = submit


def _completes_at_once(dfk: Any, info: _TaskInfo, args: Any, kwargs: dict[str, Any], join: bool) -> bool:
    """Whether a hit can be answered without the DFK's launch: nothing but a value to hand
    back. Not when it declares files (restored through its DataFutures), names stdout or
    stderr, is a join app, monitoring watches the DFK, or an input is a ``File`` (staging)
    or a future not yet done well (Parsl would make the task wait for it, or fail it with
    its dependency: the DFK's own path keeps that)."""
    if info.slots or join or "stdout" in kwargs or "stderr" in kwargs or dfk.cleanup_called:
        return False
    if getattr(dfk, "monitoring", None) is not None:
        return False

    def settled(v: Any, depth: int = 0) -> bool:
        if isinstance(v, Future):
            return v.done() and v.exception() is None
        if type(v).__name__ == "File" and type(v).__module__ == "parsl.data_provider.files":
            return False
        if depth < 3 and isinstance(v, (list, tuple)):
            return all(settled(x, depth + 1) for x in v)
        if depth < 3 and isinstance(v, dict):
            return all(settled(x, depth + 1) for x in v.values())
        return True

    return all(settled(a) for a in args) and all(settled(v) for v in kwargs.values())


def _completed(dfk: Any, rt: task_runtime.TaskRuntime, info: _TaskInfo, func: Any, args: Any, kwargs: dict[str, Any], executors: Any, cache: bool, ignore_for_cache: Any, value: Any) -> Any:
    """A hit as an ``AppFuture`` completed with its recorded value, as Parsl completes a task
    its own memoizer answers (``memo_done``), but without the DFK's launch: the DFK only
    numbers it and counts it. ``.result()``, ``.tid``, callbacks and apps that take it as an
    argument behave as for any completed task."""
    from parsl.dataflow.futures import AppFuture
    from parsl.dataflow.states import States

    with _submit_lock:
        tid = dfk.task_count
        dfk.task_count += 1
    now = datetime.datetime.now()
    labels = [label for label in dfk.executors if label != "_parsl_internal"]
    executor = executors[0] if isinstance(executors, list) and executors else labels[0] if labels else "_parsl_internal"
    record: dict[str, Any] = {
        "args": args, "depends": [], "dfk": dfk, "executor": executor, "func": func,
        "func_name": getattr(func, "__name__", "app"), "kwargs": kwargs, "memoize": cache, "hashsum": None,
        "exec_fu": None, "fail_count": 0, "fail_cost": 0, "fail_history": [], "from_memo": True,
        "ignore_for_cache": list(ignore_for_cache or ()), "join": False, "joins": None, "try_id": 0, "id": tid,
        "task_launch_lock": threading.Lock(), "time_invoked": now, "time_returned": now,
        "try_time_launched": now, "try_time_returned": now,
        "resource_specification": kwargs.get("parsl_resource_specification", {}), "status": States.memo_done,
    }
    with dfk.task_state_counts_lock:
        dfk.task_state_counts[States.memo_done] += 1
    fut = AppFuture(record)  # type: ignore[arg-type]
    record["app_fu"] = fut
    fut._nbrewind_key = info.key
    fut.set_result(value)
    _report(rt, info, tid)
    return fut


def _ensure_engine_scripts_on_path() -> None:
    """HTEX starts ``interchange.py`` and ``process_worker_pool.py`` through PATH. A kernel
    started from an environment that was not activated lacks that environment's scripts
    directory: append it (after the user's entries, never shadowing them)."""
    scripts = os.path.dirname(sys.executable)
    if shutil.which("process_worker_pool.py") is None and os.path.isfile(os.path.join(scripts, "process_worker_pool.py")):
        os.environ["PATH"] = os.pathsep.join(p for p in (os.environ.get("PATH", ""), scripts) if p)


def _executor_of(dfk: Any, executors: Any) -> tuple[str, bool]:
    """The label of the executor a task goes to ("any" when several may take it), and whether
    it runs tasks in this process (Parsl's thread pool)."""
    if isinstance(executors, list) and len(executors) == 1:
        return str(executors[0]), _in_process(dfk.executors.get(executors[0]))
    # Asked per task: kept on the DFK for as long as its executors are the same ones.
    known = getattr(dfk, "_nbrewind_label", None)
    if known is not None and known[0] == len(dfk.executors):
        return known[1], known[2]
    labels = [label for label in dfk.executors if label != "_parsl_internal"]
    label = labels[0] if len(labels) == 1 else "any"
    in_process = all(_in_process(dfk.executors[name]) for name in labels) if labels else False
    dfk._nbrewind_label = (len(dfk.executors), label, in_process)
    return label, in_process


def _in_process(executor: Any) -> bool:
    return type(executor).__name__ == "ThreadPoolExecutor" and type(executor).__module__ == "parsl.executors.threads"


_markers: dict[str, tuple[str, str]] = {}
_runner_files: dict[str, tuple[str, str]] = {}


def _runner_file(rt: task_runtime.TaskRuntime) -> tuple[str, str]:
    """The persisting runner's pickle, in the store once (name, sha256): what the loader
    each task carries loads in a worker process (``nbrewind_parsl_loader``)."""
    known = _runner_files.get(rt.blobs_dir)
    if known is None:
        payload = _RUNNER.payload()
        digest = hashlib.sha256(payload).hexdigest()
        name = f".parsl-runner-{digest[:16]}.pkl"
        path = os.path.join(rt.tasklog_dir, name)
        if not os.path.isfile(path) or os.path.getsize(path) != len(payload):
            os.makedirs(rt.tasklog_dir, exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
            with open(tmp, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)  # whole or absent for a worker reading it
        known = _runner_files[rt.blobs_dir] = (name, digest)
    return known


def _reach_marker(rt: task_runtime.TaskRuntime) -> tuple[str, str]:
    """A file in the store holding a nonce: a worker that reads it back writes into this store."""
    known = _markers.get(rt.blobs_dir)
    if known is None:
        nonce = uuid.uuid4().hex
        marker = f".parsl-reach-{nonce[:12]}"
        os.makedirs(rt.tasklog_dir, exist_ok=True)
        with open(os.path.join(rt.tasklog_dir, marker), "w", encoding="utf-8") as f:
            f.write(nonce)
        known = _markers[rt.blobs_dir] = (marker, nonce)
    return known


# ------------------------------------------------------------------ keys


def _unwrapped(func: Any) -> Any:
    """The user's function behind Parsl's own wrappers (``wrap_error``, ``timeout``): what
    the task computes is the function they wrap. Recognised by their code, not by
    ``__module__`` (``functools.wraps`` copies the user's) and not by identity (a
    notebook value restored from a checkpoint holds a rebuilt copy of the wrapper)."""
    codes = _parsl_wrapper_codes()
    for _ in range(10):
        code = getattr(func, "__code__", None)
        if code is None or code not in codes or not hasattr(func, "__wrapped__"):
            break
        func = func.__wrapped__
    return func


@functools.lru_cache(maxsize=1)
def _parsl_wrapper_codes() -> tuple[Any, ...]:
    from parsl.app.errors import wrap_error
    from parsl.app.python import timeout

    def probe() -> None:
        return None

    return (wrap_error(probe).__code__, timeout(probe, 1.0).__code__)


def _file_slots(kwargs: dict[str, Any], ignored: set[str]) -> tuple[str, ...]:
    slots = [f"outputs/{i}" for i in range(len(kwargs.get("outputs") or ()))]
    for name in ("stdout", "stderr"):
        target = kwargs.get(name)
        if target is None or name in ignored or target == -1:  # -1: parsl.AUTO_LOGNAME, a per-task log
            continue
        if isinstance(target, tuple) and len(target) == 2 and target[1] != "w":
            raise Uncacheable(f"its {name} appends to {target[0]!r}: the file's content is not the task's alone")
        slots.append(name)
    return tuple(slots)


def _ref_key(value: Any) -> str | None:
    """Keys for the Parsl objects met among an app's arguments."""
    kind = type(value).__name__
    module = type(value).__module__
    if module == "parsl.dataflow.futures" and kind == "AppFuture":
        return _future_key(value)
    if module == "parsl.app.futures" and kind == "DataFuture":
        parent = getattr(value, "parent", None)
        return _digest("parsl-datafuture", _future_key(parent), value.file_obj.url)
    if module == "parsl.data_provider.files" and kind == "File":
        if value.scheme != "file":
            raise Uncacheable(f"reads {value.url}: a {value.scheme} URL cannot be hashed by content")
        return _digest("parsl-file", value.url, Keyer().value_key(pathlib.Path(value.filepath)))
    if isinstance(value, Future):
        raise Uncacheable(f"waits on a {module}.{kind}, which no task seen by nbrewind produced")
    return None


def _future_key(fut: Any) -> str:
    key = getattr(fut, "_nbrewind_key", None)
    if key is None:
        tid = getattr(fut, "tid", "?")
        raise Uncacheable(f"depends on parsl task {tid}, which is not cached")
    return str(key)


def _output_key(target: Any) -> str:
    """An output is named by where it goes, not by what is there now."""
    file_obj = getattr(target, "file_obj", target)
    return _digest("parsl-output", str(getattr(file_obj, "url", None) or os.fspath(file_obj)))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


# id(submitted function) -> (it, the user's function behind Parsl's wrappers, what a record
# names): both fixed for a function object, so found once rather than at every invocation.
_functions: dict[int, tuple[Any, Any, Any, str]] = {}
_NO_NAMES: frozenset[str] = frozenset()
# Arguments that are neither futures nor containers of them: nothing upstream to find.
_PLAIN = frozenset({int, float, str, bytes, bool, complex, type(None)})


def _function_of(func: Any) -> tuple[Any, Any, str]:
    known = _functions.get(id(func))
    if known is None or known[0] is not func:
        user_fn = _unwrapped(func)
        name_fn = _display_fn(user_fn)
        known = (func, user_fn, name_fn, function_name(name_fn))
        if len(_functions) >= _WRAPPERS_MAX:
            _functions.clear()
        _functions[id(func)] = known
    return known[1], known[2], known[3]


def _decide(rt: task_runtime.TaskRuntime, func: Any, args: Any, kwargs: dict[str, Any], ignore_for_cache: Any, join: bool) -> _TaskInfo:
    user_fn, name_fn, name = _function_of(func)
    ignored = set(ignore_for_cache) if ignore_for_cache else _NO_NAMES
    try:
        slots = _file_slots(kwargs, ignored) if kwargs else ()
        keyer = Keyer(_ref_key)
        arg_keys = [keyer.value_key(a) for a in args]
        # A join app's result is what its inner apps return: not the same task as a python app.
        kwarg_keys: dict[str, str] = {"(join_app)": _digest("parsl-join-app")} if join else {}
        for k, v in kwargs.items():
            if k in ignored or k in _NOT_KEYED:
                continue
            if k == "outputs":
                kwarg_keys[k] = _digest("parsl-outputs", *(_output_key(o) for o in v))
            elif k in ("stdout", "stderr") and k in slots:
                kwarg_keys[k] = _output_key(v[0] if isinstance(v, tuple) else v)
            else:
                kwarg_keys[k] = keyer.value_key(v)
        key = keyer.task_key(ENGINE, user_fn, arg_keys, kwarg_keys)
    except Uncacheable as err:
        return _TaskInfo(err, "uncached", func, (), name_fn, name)
    info = _TaskInfo(key, "dispatched", func, slots, name_fn, name)
    info.arg_keys = [*arg_keys, *(kwarg_keys[k] for k in sorted(kwarg_keys))] if kwarg_keys else arg_keys
    if kwargs or any(type(a) not in _PLAIN for a in args):
        info.upstream = _upstream(args, kwargs)
    # Each invocation is a task of its own (three pi(10**6) apps compute three estimates):
    # it is served only the result its own occurrence was recorded with.
    info.occurrence = rt.submission(key)
    stored = rt.lookup(key, info.occurrence, None, info.upstream)
    if stored is not None and (not slots or _files_present(rt, stored, key)):
        info.status, info.stored = "hit", stored
    else:
        info.dispatch = rt.new_dispatch()
    return info


def _display_fn(fn: Any) -> Any:
    """What a record names: the user's bash function rather than Parsl's bash runner."""
    if isinstance(fn, functools.partial) and getattr(fn.func, "__module__", "") == "parsl.app.bash" and fn.args:
        return fn.args[0]
    return fn


def _upstream(args: Any, kwargs: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def visit(v: Any, depth: int = 0) -> None:
        if depth > 3:
            return
        if isinstance(v, Future):
            target = getattr(v, "parent", v) if type(v).__name__ == "DataFuture" else v
            key = getattr(target, "_nbrewind_key", None)
            if key is not None and key not in found:
                found.append(key)
        elif isinstance(v, (list, tuple)):
            for x in v:
                visit(x, depth + 1)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x, depth + 1)

    visit(list(args))
    visit(kwargs)
    return found


def _files_present(rt: task_runtime.TaskRuntime, stored: task_runtime.Stored, key: str) -> bool:
    """A hit whose stored outcome includes files is a hit only if every file blob is there too."""
    try:
        envelope = rt.load(stored, key)
        return all(rt.store.exists(d) for _slot, d, _size in envelope["files"])
    except Exception:
        return False


def _record(rt: task_runtime.TaskRuntime, info: _TaskInfo, tid: int) -> dict[str, Any]:
    return rt.record(ENGINE, info.name_fn, info.key, info.arg_keys, info.upstream, f"task {tid}", info.occurrence, name=info.name)


def _report(rt: task_runtime.TaskRuntime, info: _TaskInfo, tid: int) -> None:
    record = _record(rt, info, tid)
    if info.status == "hit":
        assert info.stored is not None
        rt.hit(record, info.stored)
    elif info.status == "dispatched":
        rt.dispatched(record, info.dispatch)
    else:
        assert isinstance(info.key, Uncacheable)
        rt.uncached(record, info.key.reason)


# ------------------------------------------------------------------ the memoizer


class _Memoizer:
    """Answers our hits at launch, records outcomes; everything else goes to the user's memoizer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        # Parsl's own memoizer looks at neither the function nor the arguments of a task
        # not to be memoized (``cache=False``, the default): nothing to hide from it then.
        self._plain_inner = type(inner).__name__ == "BasicMemoizer" and type(inner).__module__ == "parsl.dataflow.memoization"

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        self.inner.start(run_dir=run_dir, config_run_dir=config_run_dir)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # checkpoint() and whatever else the user's memoizer offers.
        return getattr(self.inner, name)

    def _info(self, task: Any) -> _TaskInfo | None:
        info = task.get("nbrewind")
        if info is None:
            table = getattr(task["dfk"], "_nbrewind_tasks", None)
            info = table.pop(task["id"], None) if table is not None else None
            if info is not None:
                task["nbrewind"] = info
        return info  # type: ignore[no-any-return]

    def check_memo(self, task: Any) -> Future[Any] | None:
        info = self._info(task)
        rt = task_runtime.active()
        if not GUARD.on:
            # Turned off since this task was submitted: it runs (a planned hit computes the same value).
            return self._inner_check(task, info)
        if info is not None and info.status == "hit" and rt is not None:
            try:
                value = _serve(rt, info, task["kwargs"])
            except Exception as err:
                # The store changed under us (a blob deleted or corrupt): run the task after
                # all, recorded as dispatched; its result is stored when it completes.
                print(f"nbrewind: parsl task {task['id']}: its memoized result cannot be used ({err}); running it", file=sys.stderr)
                info.status, info.dispatch = "dispatched", rt.new_dispatch()
                rt.dispatched(_record(rt, info, task["id"]), info.dispatch)
                return self._inner_check(task, info)
            fut: Future[Any] = Future()
            fut.set_result(value)
            return fut
        return self._inner_check(task, info)

    def _inner_check(self, task: Any, info: _TaskInfo | None) -> Future[Any] | None:
        if info is None or info.status != "dispatched" or (self._plain_inner and not task.get("memoize")):
            return self.inner.check_memo(task)  # type: ignore[no-any-return]
        # The user's memoizer hashes the task as the user submitted it, without our wrapper.
        func, kwargs = task["func"], task["kwargs"]
        task["func"], task["kwargs"] = info.func, {k: v for k, v in kwargs.items() if k != pw.SPEC_KWARG}
        try:
            return self.inner.check_memo(task)  # type: ignore[no-any-return]
        finally:
            task["func"], task["kwargs"] = func, kwargs

    def update_memo(self, task: Any, future: Any) -> None:
        """parsl < 2025: one call with the task's completed future (later releases call
        update_memo_result or update_memo_exception)."""
        self.inner.update_memo(task, future)
        exc = future.exception() if future.done() else None
        if exc is not None:
            self._record_exception(task, exc)
        elif future.done():
            self._record_result(task, future.result())

    def update_memo_result(self, task: Any, result: Any) -> None:
        self.inner.update_memo_result(task, result)
        self._record_result(task, result)

    def _record_result(self, task: Any, result: Any) -> None:
        info = self._info(task)
        rt = task_runtime.active()
        if info is None or info.status != "dispatched" or rt is None or not isinstance(info.key, str):
            return
        if rt.note_arrived(info.dispatch):
            return  # the worker stored it where it ran
        # A join app, a result from the user's own cache, or a worker that does not see the store.
        started = task.get("try_time_launched")
        duration = max(0.0, time.time() - started.timestamp()) if started is not None else None
        files = [(slot, pw.slot_path(task["kwargs"], slot)) for slot in info.slots]
        where = {**where_here(), "client": True, "worker": f"parsl:{task.get('executor', '?')}"}
        pw.persist_outcome(rt.blobs_dir, info.key, info.dispatch, result, files, duration, where)

    def update_memo_exception(self, task: Any, exc: BaseException) -> None:
        self.inner.update_memo_exception(task, exc)
        self._record_exception(task, exc)

    def _record_exception(self, task: Any, exc: BaseException) -> None:
        info = self._info(task)
        rt = task_runtime.active()
        if info is None or info.status != "dispatched" or rt is None or not isinstance(info.key, str):
            return
        # The final failure (after Parsl's retries, or of a dependency): recorded, never cached.
        rt.fail_client_side({"key": info.key}, info.dispatch, exc)


def _serve(rt: task_runtime.TaskRuntime, info: _TaskInfo, kwargs: dict[str, Any]) -> Any:
    """A memoized outcome: its declared files written back to their paths, then its value."""
    assert isinstance(info.key, str) and info.stored is not None
    stored = rt.load(info.stored, info.key)
    if not info.slots:
        return stored
    for slot, digest, _size in stored["files"]:
        pw.restore_file(rt.blobs_dir, digest, pw.slot_path(kwargs, slot))
    return stored["value"]


class _Cleanup:
    """The handle the core closes at the end of a run (``shutdown_engines``)."""

    def __init__(self, dfk: Any) -> None:
        self._dfk = weakref.ref(dfk)

    def close(self) -> None:
        dfk = self._dfk()
        if dfk is not None and not dfk.cleanup_called:
            dfk.cleanup()


# ------------------------------------------------------------------ shutdown


def shutdown() -> None:
    """Clean up every DFK the notebook left loaded: executors, interchange and worker
    pools stop now rather than being orphaned when the kernel exits."""
    for dfk in list(_dfks):
        if getattr(dfk, "cleanup_called", True):
            continue
        try:
            dfk.cleanup()
        except Exception:
            traceback.print_exc()


if "nbrewind_parsl" not in sys.modules:  # imported under another name: keep one module state
    sys.modules["nbrewind_parsl"] = sys.modules[__name__]
