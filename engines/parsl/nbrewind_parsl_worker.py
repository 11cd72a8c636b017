"""What runs where a Parsl task's result is produced: the persisting runner of a
dispatched app, and the storing / restoring of its declared output files.

The runner travels *by value* to the executor's workers (an HTEX
``process_worker_pool`` cannot import nbrewind): this module only uses the
standard library and the functions it imports *by name* from the shim core,
which are pickled by value with it (see ``nbrewind_parsl._RUNNER``).

A Parsl app's outcome is its return value plus the files it declared it
writes (``outputs=[File(...)]``, ``stdout=``/``stderr=`` paths). When an app
declares files, the stored result is an *envelope*
``{ENVELOPE: 1, "value": v, "files": [[slot, digest, size], ...]}``: each
file is a blob of its raw bytes, restored to the declared path on a hit. Which
slots a task has is part of its key, so a key always names the same shape.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from nbrewind.blob_store import BlobStore, copy_hashing, discarded_on_failure, publish
from nbrewind.file_observer import observed_call
from nbrewind.tasks.worker import TASKLOG, persist_result, where_here, write_note

ENVELOPE = "nbrewind-parsl-envelope"
# Keyword that carries the spec to the runner; removed before the app sees its arguments.
SPEC_KWARG = "_nbrewind_task"

# (blobs_dir, task_key, dispatch_id, reach_marker, reach_nonce, executor_label, file_slots,
#  runner_file, runner_sha256): the last two for nbrewind_parsl_loader
RunSpec = tuple[str, str, str, str, str, str, tuple[str, ...], str, str]

# Per worker process: does it see the kernel's store? (blobs_dir, marker) -> answer.
_reach: dict[tuple[str, str], bool] = {}


def run_persisting(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run the app; when this worker reaches the store, store its outcome there and
    leave the note the kernel collects. The app's return value is returned unchanged.

    A failure (Parsl's ``wrap_error`` turns exceptions into a returned
    ``RemoteExceptionWrapper``) is not noted here: the task may still be retried;
    the kernel notes the final failure.
    """
    spec: RunSpec = kwargs.pop(SPEC_KWARG)
    blobs_dir, task_key, dispatch, marker, nonce, label, slots, *_runner = spec
    started = time.perf_counter()
    reachable = store_reachable(blobs_dir, marker, nonce)
    if reachable:
        result, seen = observed_call(blobs_dir, func, args, kwargs)  # the files it opens (file_observer)
    else:
        result, seen = func(*args, **kwargs), None
    duration = time.perf_counter() - started
    if type(result).__name__ == "RemoteExceptionWrapper" or not reachable:
        return result  # the kernel records it (a failure, or a store it must write itself)
    where = where_here()
    where["worker"] = f"parsl:{label}"
    if slots:
        persist_outcome(blobs_dir, task_key, dispatch, result, [(slot, slot_path(kwargs, slot)) for slot in slots], duration, where, seen)
    else:
        persist_result(blobs_dir, task_key, dispatch, result, duration, where, files=seen)
    return result


def store_reachable(blobs_dir: str, marker: str, nonce: str) -> bool:
    """The kernel wrote ``nonce`` into a marker file in its store: reading it back proves
    this process writes into the same store (a path that exists on another host does not)."""
    known = _reach.get((blobs_dir, marker))
    if known is None:
        try:
            with open(os.path.join(blobs_dir, TASKLOG, marker), encoding="utf-8") as f:
                known = f.read() == nonce and os.access(blobs_dir, os.W_OK)
        except OSError:
            known = False
        _reach[(blobs_dir, marker)] = known
    return known


def slot_path(kwargs: dict[str, Any], slot: str) -> str:
    """The path of a declared file slot ("outputs/3", "stdout", "stderr") in an app's kwargs."""
    if slot.startswith("outputs/"):
        target = kwargs["outputs"][int(slot.partition("/")[2])]
    else:
        target = kwargs[slot]
        if isinstance(target, tuple):
            target = target[0]
    # A parsl File (its filepath honours a staged local_path), a DataFuture's file, or a path.
    file_obj = getattr(target, "file_obj", target)
    path = getattr(file_obj, "filepath", None)
    return os.fspath(path if path is not None else file_obj)


def persist_outcome(blobs_dir: str, task_key: str, dispatch: str, value: Any, files: list[tuple[str, str]], duration: float | None, where: dict[str, Any], seen: dict[str, Any] | None = None) -> None:
    """Store a successful outcome (each declared file, then the value or its envelope) and note it."""
    entries: list[list[Any]] = []
    for slot, path in files:
        if not os.path.isfile(path):
            # Not restorable on a hit, so not memoized: the next run runs it again.
            write_note(blobs_dir, task_key, {"dispatch": dispatch, "where": where, "status": "unstored", "reason": f"its declared output file {path!r} ({slot}) was not written"})
            return
        digest, size = store_file(blobs_dir, path)
        entries.append([slot, digest, size])
    stored = {ENVELOPE: 1, "value": value, "files": entries} if files else value
    persist_result(blobs_dir, task_key, dispatch, stored, duration, where, blobs=[digest for _slot, digest, _size in entries], files=seen)


def store_file(blobs_dir: str, path: str) -> tuple[str, int]:
    """Copy a file into the store as a raw blob named by the sha256 of its bytes (streamed)."""
    return BlobStore(blobs_dir).store_file(path)


def restore_file(blobs_dir: str, digest: str, path: str) -> None:
    """Write a file blob to ``path``, checked against its digest; the path appears whole or not at all."""
    src_path = BlobStore(blobs_dir).path_for(digest)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".nbrewind")
    with discarded_on_failure(tmp):
        with open(src_path, "rb", buffering=0) as src, os.fdopen(fd, "wb", buffering=0) as dst:
            got, _size = _copy_hashing(src, dst)
        if got != digest:
            raise OSError(f"blob {digest} is corrupt (sha256 mismatch): {src_path}")
        publish(tmp, path)


def _copy_hashing(src: Any, dst: Any) -> tuple[str, int]:
    """Stream ``src`` into ``dst``; the sha256 and size of what was copied."""
    return copy_hashing(src, dst)
