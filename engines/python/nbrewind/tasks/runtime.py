"""The kernel's task state: the memo table, and what the current cell submitted.

One ``TaskRuntime`` per greeted session (it writes into that session's store).
``end_cell`` turns what the adapters told it into the post_cell reply's
``tasks`` and ``engines``, reading the notes the workers wrote for dispatched
tasks.

The adapter API (all an engine adapter needs besides ``keys.Keyer`` and
``shipping.runners``):

    rt = runtime.active()                   # None: not greeted, pass everything through
    rec = rt.record(engine, fn, key_or_uncacheable, arg_keys, upstream, engine_key)
    rt.lookup(key) -> (digest, size) | None # a memoized result whose blobs exist
    rt.hit(rec, digest, size)               # served without dispatching
    rt.uncached(rec, reason)                # dispatched as is, never memoized
    d = rt.new_dispatch(); rt.dispatched(rec, d)
        # then run it as runners.run_and_persist(fn, (rt.blobs_dir, key, d), *args)
        # on the worker, or call rt.persist_client_side / rt.fail_client_side
    rt.load(digest, key) -> value           # a hit served from this process
    rt.engine_started(label, handle)        # this cell started an engine runtime
    rt.engine_used(label)                   # this cell submitted work to it

Reporting rule: every task is reported at the post_cell after it was
submitted. A dispatched task whose note is not there yet (a future still
running) is reported as ``dispatched`` without result, and reported again,
complete, at a later post_cell once its note arrives; both carry the
submitting cell's id (the TS side keeps the last record per key).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..blob_store import DIGEST_RE, BlobStore
from ..serialise import deserialise
from .keys import Uncacheable, function_name
from .worker import TASKLOG, note_failure, persist_result

TaskRecord = dict[str, Any]
# A memoized result: its digest, its size, and the other blobs it refers to.
Memo = tuple[str, int, tuple[str, ...]]

# A note that has not arrived after this many post_cells never will (the task was
# cancelled, or the engine already held its result): stop looking for it.
_PENDING_CELLS = 50


@dataclass
class _Pending:
    # Every record of the key in this dispatch: one graph can hold the same task twice.
    records: list[TaskRecord]
    # The same task sent again before its note was read (two graphs of one cell): any of them answers.
    dispatches: set[str]
    cells_waited: int = 0


@dataclass
class _CellLog:
    cell_id: str | None
    records: list[TaskRecord] = field(default_factory=list)
    started: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)


class TaskRuntime:
    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.blobs_dir = store.root
        self.tasklog_dir = os.path.join(store.root, TASKLOG)
        # task key -> (digest, size, other blobs the result refers to) of its memoized result
        self.memo: dict[str, Memo] = {}
        self._lock = threading.Lock()  # user threads may compute concurrently
        self._cell = _CellLog(None)
        self._pending: dict[str, _Pending] = {}
        self._session = uuid.uuid4().hex[:12]
        self._seq = 0

    # -- the memo table

    def load_known(self, entries: list[Memo | tuple[str, str, int]]) -> int:
        """(key, digest, size[, blobs]) of task results the bundle holds."""
        with self._lock:
            for key, digest, size, *blobs in entries:
                self.memo[key] = (digest, size, tuple(blobs[0]) if blobs else ())
            return len(self.memo)

    def lookup(self, key: str) -> tuple[str, int] | None:
        """The memoized result of a task, when its blob is really in the store with its
        recorded size and every blob it refers to is there (a stat each; the digests
        themselves are checked when the blobs are read)."""
        hit = self.memo.get(key)
        if hit is None:
            return None
        digest, size, blobs = hit
        try:
            if os.stat(self.store.path_for(digest)).st_size != size:
                return None
            for other in blobs:
                os.stat(self.store.path_for(other))
        except OSError:
            return None
        return digest, size

    def load(self, digest: str, key: str) -> Any:
        """A memoized result, loaded here and checked against its digest."""
        data = self.store.read_verified(digest, f"task {key[:16]}")
        return deserialise(data, f"blob {digest} (result of task {key[:16]})")

    def record(self, engine: str, fn: Any, key: str | Uncacheable, arg_keys: Sequence[str], upstream: Sequence[str], engine_key: str) -> TaskRecord:
        """A task record before its status is known; ``key`` may be the reason it has none."""
        return {
            "key": key if isinstance(key, str) else None,
            "engine": engine,
            "function": function_name(fn),
            "arg_keys": list(arg_keys),
            "upstream": list(upstream),
            "engine_key": engine_key[:200],
        }

    def persist_client_side(self, record: TaskRecord, dispatch: str, value: Any, duration_s: float | None = None) -> None:
        """A dispatched task's result reached this process: store it from here."""
        persist_result(self.blobs_dir, record["key"], dispatch, value, duration_s, where={"client": True})

    def fail_client_side(self, record: TaskRecord, dispatch: str, err: BaseException) -> None:
        note_failure(self.blobs_dir, record["key"], dispatch, err, None)

    def new_dispatch(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self._session}-{self._seq}"

    # -- what the engine adapters did

    def hit(self, record: TaskRecord, digest: str, size: int) -> None:
        rec = {**record, "status": "hit", "result_digest": digest, "result_size": size}
        memo = self.memo.get(record["key"])
        if memo is not None and memo[0] == digest and memo[2]:
            rec["result_blobs"] = list(memo[2])  # this run's record keeps them alive too
        self._add(rec)

    def uncached(self, record: TaskRecord, reason: str) -> None:
        self._add({**record, "status": "uncached", "reason": reason})

    def dispatched(self, record: TaskRecord, dispatch: str) -> None:
        rec = {**record, "status": "dispatched"}
        with self._lock:
            self._add_locked(rec)
            waiting = self._pending.get(rec["key"])
            if waiting is not None:
                waiting.records.append(rec)
                waiting.dispatches.add(dispatch)
            else:
                self._pending[rec["key"]] = _Pending([rec], {dispatch})

    def engine_started(self, engine: str, handle: Any = None) -> None:
        """The current cell started an engine runtime; ``handle`` (with a ``close()``)
        is closed by ``shutdown_engines`` at the end of the run."""
        with self._lock:
            self._cell.started.add(engine)
        if handle is not None:
            _started_handles.append((engine, weakref.ref(handle)))

    def engine_used(self, engine: str) -> None:
        with self._lock:
            self._cell.used.add(engine)

    def _add(self, record: TaskRecord) -> None:
        with self._lock:
            self._add_locked(record)

    def _add_locked(self, record: TaskRecord) -> None:
        if self._cell.cell_id is not None:
            record["cell_id"] = self._cell.cell_id
        self._cell.records.append(record)

    # -- cells

    def begin_cell(self, cell_id: str) -> None:
        with self._lock:
            # Anything submitted between cells (a thread, a callback) is reported with this cell.
            self._cell.cell_id = cell_id
            for rec in self._cell.records:
                rec.setdefault("cell_id", cell_id)

    def end_cell(self) -> dict[str, Any]:
        with self._lock:
            cell, self._cell = self._cell, _CellLog(None)
            pending = dict(self._pending)
        reported: dict[int, TaskRecord] = {id(r): r for r in cell.records}
        finished: list[TaskRecord] = []
        for key, p in pending.items():
            note = self._read_note(key, p.dispatches)
            if note is None:
                p.cells_waited += 1
                if p.cells_waited > _PENDING_CELLS:
                    with self._lock:
                        self._pending.pop(key, None)
                continue
            with self._lock:
                self._pending.pop(key, None)
            for record in p.records:
                self._apply_note(record, note)
                if id(record) not in reported:
                    finished.append(record)  # submitted by an earlier cell, finished since
        tasks = [*finished, *cell.records]
        if any(t.get("result_digest") and t["status"] != "hit" for t in tasks):
            # Workers write results without syncing each one: make them durable
            # before the client records their digests.
            _sync_filesystem(self.store.root)
        return {"tasks": tasks, "engines": {"started": sorted(cell.started), "used": sorted(cell.used)}}

    def _read_note(self, key: str, dispatches: set[str]) -> dict[str, Any] | None:
        path = os.path.join(self.tasklog_dir, f"{key}.json")
        try:
            with open(path, encoding="utf-8") as f:
                note = json.load(f)
        except (OSError, ValueError):
            return None
        # A note of an earlier dispatch of the same key (an earlier run) is not this one's.
        if not (isinstance(note, dict) and note.get("dispatch") in dispatches):
            return None
        try:
            os.unlink(path)  # read once: the record carries it from here on
        except OSError:
            pass
        return note

    def _apply_note(self, record: TaskRecord, note: dict[str, Any]) -> None:
        status = note.get("status")
        if isinstance(note.get("duration_s"), (int, float)):
            record["duration_s"] = max(0.0, float(note["duration_s"]))
        if isinstance(note.get("where"), dict):
            record["where"] = {k: v for k, v in note["where"].items() if k in ("host", "pid", "thread", "worker", "client")}
        digest = note.get("digest")
        blobs = note.get("blobs", [])
        blobs_ok = isinstance(blobs, list) and all(isinstance(b, str) and DIGEST_RE.match(b) for b in blobs)
        if status == "stored" and isinstance(digest, str) and DIGEST_RE.match(digest) and isinstance(note.get("size"), int) and blobs_ok:
            record["result_digest"] = digest
            record["result_size"] = note["size"]
            if blobs:
                record["result_blobs"] = list(dict.fromkeys(blobs))
            with self._lock:
                self.memo[record["key"]] = (digest, note["size"], tuple(dict.fromkeys(blobs)))
        elif status == "failed":
            record["status"] = "failed"
            record["reason"] = str(note.get("reason", "the task raised"))
        else:
            record["status"] = "uncached"
            record["reason"] = str(note.get("reason", "its result was not stored"))


def _sync_filesystem(path: str) -> None:
    """syncfs(2) on the store's filesystem (one call for every blob the workers of
    this host wrote); sync(2) where syncfs is not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


# The runtime of the greeted session; None until hello (adapters then pass everything through).
current: TaskRuntime | None = None


def active() -> TaskRuntime | None:
    return current


# Engine runtimes started in this kernel, oldest first: weak, so a handle the user
# dropped is not kept alive by us.
_started_handles: list[tuple[str, weakref.ref[Any]]] = []


def shutdown_engines() -> list[dict[str, str]]:
    """Close every engine runtime the adapters saw started, newest first (a client
    before its cluster). Returns what was closed or failed to close."""
    closed: list[dict[str, str]] = []
    while _started_handles:
        engine, ref = _started_handles.pop()
        handle = ref()
        if handle is None:
            continue
        what = f"{type(handle).__module__}.{type(handle).__qualname__}"
        try:
            handle.close()
            closed.append({"engine": engine, "handle": what, "status": "closed"})
        except Exception as err:  # noqa: BLE001 - report, and go on closing the others
            closed.append({"engine": engine, "handle": what, "status": f"failed: {type(err).__name__}: {err}"})
    return closed
