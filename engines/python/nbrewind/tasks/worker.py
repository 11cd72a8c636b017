"""What runs on the engine's workers: the persisting runner of a dispatched task and
the loader of a memoized result.

Workers do not have nbrewind on their sys.path (a remote dask-worker, DaskVine,
a Parsl pilot): these functions travel *by value* (see ``shipping``), together
with the blob store and serialiser code they use, so they import only the
standard library and cloudpickle on the worker.

A dispatched task writes its result straight into the store from where it was
produced, then a small JSON note (digest, size, duration, where, or the failure)
that the kernel collects at post_cell. The note is written after the blob: a
note always names a blob that exists.

Notes are lines appended to one log per process and kernel session,
``<blobs>/tasklog/<session>.<host>-<pid>-<nonce>.notes``: creating a file costs
far more than a small task (0.7-1 ms on the 2-core VM this was measured on,
against ~1 us for an append), so a file per task was most of the audit overhead.
Each line is one ``write`` on an ``O_APPEND`` descriptor, under a lock, so lines
never interleave. The kernel removes a log it has read to the end; a writer
that finds its log removed (no links left after its write) writes the line
again into a new log, so no note is lost to the removal (see ``runtime``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from typing import Any

from ..blob_store import BlobStore, digest_of, discarded_on_failure, publish
from ..file_observer import observed_call
from ..serialise import deserialise, serialise
from .store_policy import runqueue_wait_s, too_cheap_to_store

TASKLOG = "tasklog"
NOTES_SUFFIX = ".notes"
# A result up to this size travels inside its note instead of a blob file of its own;
# the kernel packs the cell's small results into one blob (runtime.end_cell).
INLINE_MAX = 16 << 10

# (blobs_dir, task_key, dispatch_id, store policy or None to store whatever it costs):
# baked into each wrapper, so the worker needs no configuration.
PersistSpec = tuple[str, str, str, "tuple[float, float] | None"]
# (blobs_dir, digest, task_key), or for a small result kept in a pack: + (pack digest, offset, size)
LoadSpec = tuple[str, str, str] | tuple[str, str, str, str, int, int]


def run_and_persist(func: Any, spec: PersistSpec, /, *args: Any, **kwargs: Any) -> Any:
    """Run the task, store its result, note what happened; return the result unchanged."""
    blobs_dir, task_key, dispatch, *more = spec
    policy = more[0] if more else None
    waited = runqueue_wait_s() if policy is not None else None
    started = time.perf_counter()
    try:
        # The files it opens are part of its record (file_observer): what it read decides its reuse.
        result, files = observed_call(blobs_dir, func, args, kwargs)
    except BaseException as err:
        note_failure(blobs_dir, task_key, dispatch, err, time.perf_counter() - started)
        raise
    duration = time.perf_counter() - started
    # What the task costs to compute again: its wall time, less the time this thread spent
    # waiting for a CPU that other work held (a busy machine is not a reason to store).
    compute_s = duration
    if waited is not None:
        now = runqueue_wait_s()
        if now is not None:
            compute_s = max(0.0, duration - (now - waited))
    persist_result(blobs_dir, task_key, dispatch, result, duration, policy=policy, compute_s=compute_s, files=files)
    return result


def persist_result(blobs_dir: str, task_key: str, dispatch: str, result: Any, duration_s: float | None, where: dict[str, Any] | None = None, blobs: list[str] | None = None, policy: tuple[float, float] | None = None, compute_s: float | None = None, files: dict[str, Any] | None = None) -> None:
    """Store a task's result and write its note. Also used client side, when the
    workers cannot reach the store and the result reached the kernel.

    ``blobs``: other blobs, already stored, that the result refers to (an adapter's
    output files): the note names them so that the record keeps them alive.
    ``policy``: the store's bandwidth, when a result cheaper to recompute than to
    store and load is to be left out (``store_policy``); None stores it whatever it costs.
    ``compute_s``: what the task costs to compute again, when it differs from ``duration_s``."""
    started = time.perf_counter()
    note: dict[str, Any] = {"dispatch": dispatch, "where": where or where_here()}
    if duration_s is not None:
        note["duration_s"] = duration_s
    if files is not None and "error" in files:
        # What it read is unknown: served later, it could be served after its input changed.
        note.update(status="unstored", reason=f"the files it opened could not be recorded: {files['error']}")
        write_note(blobs_dir, task_key, note)
        return
    if files is not None:
        note["files"] = files
    try:
        blob = serialise(result)
        size = blob.size  # summed over the pieces: once
        cost = compute_s if compute_s is not None else duration_s
        skip = too_cheap_to_store(cost, size, policy) if policy is not None and cost is not None and size > INLINE_MAX else None
        if skip is not None:
            note.update(status="unstored", not_stored=True, size=size, reason=skip)
            write_note(blobs_dir, task_key, note)
            return
        if size <= INLINE_MAX:
            data = b"".join(blob.pieces)
            # The same digest as digest_of(pieces), in one update of the bytes joined anyway.
            digest = hashlib.sha256(data).hexdigest()
            if _kernel_here(blobs_dir, dispatch) is not None:
                note["inline_bytes"] = data  # handed over in this process: no text encoding
            else:
                note["inline"] = base64.b64encode(data).decode("ascii")
        else:
            digest = digest_of(blob.pieces)
            _store_blob(BlobStore(blobs_dir), digest, blob.pieces)
        note.update(status="stored", digest=digest, size=size, store_s=time.perf_counter() - started)
        if blobs:
            note["blobs"] = list(blobs)
    except Exception as err:  # a result that cannot be pickled is returned, just not memoized
        note.update(status="unstored", reason=f"its result ({type(result).__module__}.{type(result).__qualname__}) cannot be stored: {type(err).__name__}: {err}"[:2000])
    write_note(blobs_dir, task_key, note)


def note_failure(blobs_dir: str, task_key: str, dispatch: str, err: BaseException, duration_s: float | None) -> None:
    """A failed task is recorded, never cached; the engine still sees the exception."""
    message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    note: dict[str, Any] = {"dispatch": dispatch, "status": "failed", "where": where_here(), "reason": message[:2000]}
    if duration_s is not None:
        note["duration_s"] = duration_s
    write_note(blobs_dir, task_key, note)


def load_result(spec: LoadSpec) -> Any:
    """A memoized result, read from the store and checked against its digest."""
    blobs_dir, digest, task_key, *pack = spec
    data = read_result(BlobStore(blobs_dir), digest, task_key, pack)
    return deserialise(data, f"blob {digest} (result of task {task_key[:16]})")


def read_result(store: BlobStore, digest: str, task_key: str, pack: list[Any] | tuple[Any, ...] | None) -> bytearray:
    """A task result's bytes, from its own blob or from its slice of a pack, verified."""
    if pack:
        pack_digest, offset, size = pack
        return store.read_slice_verified(pack_digest, offset, size, digest, f"task {task_key[:16]}")
    return store.read_verified(digest, f"task {task_key[:16]}")


def probe(blobs_dir: str, marker: str, nonce: str, version: str) -> dict[str, bool]:
    """What an adapter needs to know of a worker, asked once per engine runtime:
    ``store``: it sees the kernel's store (the marker file holds the nonce the kernel wrote,
    and the folder is writable); ``importable``: it imports this same nbrewind version,
    so the worker functions can travel by reference."""
    try:
        with open(os.path.join(blobs_dir, TASKLOG, marker), encoding="utf-8") as f:
            store = f.read() == nonce and os.access(blobs_dir, os.W_OK)
    except OSError:
        store = False
    try:
        import nbrewind  # noqa: PLC0415 - the question is whether this import works here

        importable = getattr(nbrewind, "__version__", None) == version
    except ImportError:
        importable = False
    return {"store": store, "importable": importable}


def _store_blob(store: BlobStore, digest: str, pieces: list[memoryview]) -> None:
    """Write a blob into the store, safe for many threads of one worker at once.

    Not BlobStore.write: it syncs every blob, which for thousands of small task
    results costs more than the tasks (measured: 5 ms of fdatasync per 100-byte
    result), and its O_DIRECT path lets one thread write at a time. Here: buffered write + rename, no sync; the kernel syncs the store's
    filesystem once per cell before it reports any digest (runtime.end_cell).
    A same-named file of another size (a write cut short by an OS crash before
    that sync) is replaced.
    """
    final = store.path_for(digest)
    size = sum(p.nbytes for p in pieces)
    try:
        if os.stat(final).st_size == size:
            return
    except FileNotFoundError:
        pass
    tmp_dir = os.path.join(store.root, "tmp")
    _HERE.ensure_folder(tmp_dir)
    _HERE.ensure_folder(os.path.dirname(final))
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=digest[:16] + ".")
    with discarded_on_failure(tmp):
        with os.fdopen(fd, "wb", buffering=0) as f:
            for piece in pieces:
                view = piece.cast("B") if piece.format != "B" or piece.ndim != 1 else piece
                while len(view):
                    view = view[f.write(view[: 4 << 20]) :]
        publish(tmp, final)


# (pid, host name): asked once per process, not once per task.
_host: list[Any] = [None, None]


def where_here() -> dict[str, Any]:
    """Where this code runs, as a task record's ``where``: host, process, thread, Dask worker."""
    pid = os.getpid()
    if _host[0] != pid:
        _host[:] = [pid, socket.gethostname()]
    where: dict[str, Any] = {"host": _host[1], "pid": pid, "thread": threading.current_thread().name}
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            where["worker"] = distributed.get_worker().address
        except Exception:
            pass  # not inside a distributed worker (threads, processes, sync schedulers)
    return where


def _kernel_here(blobs_dir: str, dispatch: str) -> Any:
    """The kernel's task runtime when this task runs in the kernel's own process (threaded and
    sync schedulers, Parsl's thread pool) for the session that dispatched it: its note is then
    handed over in memory, not appended to a log the kernel reads back and parses."""
    module = sys.modules.get("nbrewind.tasks.runtime")
    rt = getattr(module, "current", None) if module is not None else None
    if rt is not None and rt.blobs_dir == blobs_dir and dispatch.startswith(rt.session_prefix):
        return rt
    return None


def write_note(blobs_dir: str, task_key: str, note: dict[str, Any]) -> None:
    """Leave the note of a task's outcome for the kernel (``runtime.end_cell``); after its blobs."""
    rt = _kernel_here(blobs_dir, str(note.get("dispatch", "")))
    if rt is not None:
        note["key"] = task_key  # every caller builds its note for this one call: no copy
        rt.deliver(note)
        return
    note.pop("inline_bytes", None)  # never in a log: a log is text
    try:
        session = str(note.get("dispatch", "")).partition("-")[0] or "nosession"
        line = (_NOTE_JSON.encode({"key": task_key, **note}) + "\n").encode()
        _HERE.append_note(os.path.join(blobs_dir, TASKLOG), session, line)
    except Exception:
        # The note is bookkeeping: losing it makes the task unrecorded, never the run wrong.
        traceback.print_exc()


# What json.dumps(note, separators=(",", ":")) makes, without building an encoder per note.
_NOTE_JSON = json.JSONEncoder(separators=(",", ":"))


def notes_log_prefix(session: str) -> str:
    """The name every note log of one kernel session starts with."""
    return f"{session}."


class _ProcessState:
    """What one process keeps between tasks: its open note logs and the store folders it
    made. Pickles as a fresh, empty state (the runners travel by value and reach it), and
    is reset in a forked child (the parent's lock and descriptors are not the child's)."""

    __slots__ = ("pid", "lock", "logs", "folders")

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.logs: dict[tuple[str, str], int] = {}  # (tasklog folder, session) -> fd
        self.folders: set[str] = set()

    def __reduce__(self) -> tuple[type[_ProcessState], tuple[()]]:
        return (_ProcessState, ())

    def _mine(self) -> _ProcessState:
        if self.pid != os.getpid():
            self.__init__()  # type: ignore[misc]  # a forked child starts clean
        return self

    def ensure_folder(self, path: str) -> None:
        state = self._mine()
        if path not in state.folders:
            os.makedirs(path, exist_ok=True)
            state.folders.add(path)

    def append_note(self, folder: str, session: str, line: bytes) -> None:
        state = self._mine()
        with state.lock:
            for _attempt in range(3):
                fd = state.logs.get((folder, session))
                if fd is None:
                    os.makedirs(folder, exist_ok=True)
                    name = f"{notes_log_prefix(session)}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{NOTES_SUFFIX}"
                    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                    state.logs[(folder, session)] = fd
                written = os.write(fd, line)
                if written == len(line) and os.fstat(fd).st_nlink > 0:
                    return
                # Removed by the kernel while we wrote (or a short write): into a new log, whole.
                os.close(fd)
                del state.logs[(folder, session)]
            raise OSError(f"cannot append a task note under {folder}")


_HERE = _ProcessState()
