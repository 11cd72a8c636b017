"""What runs on the engine's workers: the persisting runner of a dispatched task and
the loader of a memoized result.

Workers do not have nbrewind on their sys.path (a remote dask-worker, DaskVine,
a Parsl pilot): these functions travel *by value* (see ``shipping``), together
with the blob store and serialiser code they use, so they import only the
standard library and cloudpickle on the worker.

A dispatched task writes its result straight into the store from where it was
produced, then a small JSON note ``<blobs>/tasklog/<task key>.json`` (digest,
size, duration, where, or the failure) that the kernel collects at post_cell.
The note is written after the blob: a note always names a blob that exists.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

from ..blob_store import BlobStore, digest_of
from ..serialise import deserialise, serialise

TASKLOG = "tasklog"

# (blobs_dir, task_key, dispatch_id): baked into each wrapper, so the worker needs no configuration.
PersistSpec = tuple[str, str, str]
# (blobs_dir, digest, task_key)
LoadSpec = tuple[str, str, str]


def run_and_persist(func: Any, spec: PersistSpec, /, *args: Any, **kwargs: Any) -> Any:
    """Run the task, store its result, note what happened; return the result unchanged."""
    blobs_dir, task_key, dispatch = spec
    started = time.perf_counter()
    try:
        result = func(*args, **kwargs)
    except BaseException as err:
        note_failure(blobs_dir, task_key, dispatch, err, time.perf_counter() - started)
        raise
    persist_result(blobs_dir, task_key, dispatch, result, time.perf_counter() - started)
    return result


def persist_result(blobs_dir: str, task_key: str, dispatch: str, result: Any, duration_s: float | None, where: dict[str, Any] | None = None, blobs: list[str] | None = None) -> None:
    """Store a task's result and write its note. Also used client side, when the
    workers cannot reach the store and the result reached the kernel.

    ``blobs``: other blobs, already stored, that the result refers to (an adapter's
    output files): the note names them so that the record keeps them alive."""
    started = time.perf_counter()
    note: dict[str, Any] = {"dispatch": dispatch, "where": where or where_here()}
    if duration_s is not None:
        note["duration_s"] = duration_s
    try:
        blob = serialise(result)
        digest = digest_of(blob.pieces)
        _store_blob(BlobStore(blobs_dir), digest, blob.pieces)
        note.update(status="stored", digest=digest, size=blob.size, store_s=time.perf_counter() - started)
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
    blobs_dir, digest, task_key = spec
    data = BlobStore(blobs_dir).read_verified(digest, f"task {task_key[:16]}")
    return deserialise(data, f"blob {digest} (result of task {task_key[:16]})")


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
    os.makedirs(tmp_dir, exist_ok=True)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=digest[:16] + ".")
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            for piece in pieces:
                view = piece.cast("B") if piece.format != "B" or piece.ndim != 1 else piece
                while len(view):
                    view = view[f.write(view[: 4 << 20]) :]
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def where_here() -> dict[str, Any]:
    """Where this code runs, as a task record's ``where``: host, process, thread, Dask worker."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "thread": threading.current_thread().name}
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            where["worker"] = distributed.get_worker().address
        except Exception:
            pass  # not inside a distributed worker (threads, processes, sync schedulers)
    return where


def write_note(blobs_dir: str, task_key: str, note: dict[str, Any]) -> None:
    """Leave the note of a task's outcome for the kernel (``runtime.end_cell``); after its blobs."""
    try:
        folder = os.path.join(blobs_dir, TASKLOG)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{task_key[:16]}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"key": task_key, **note}, f, separators=(",", ":"))
        os.replace(tmp, os.path.join(folder, f"{task_key}.json"))
    except Exception:
        # The note is bookkeeping: losing it makes the task unrecorded, never the run wrong.
        traceback.print_exc()
