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
    rt.load_spec(digest, key)               # or: runners.load_result(that spec) on a worker
    rt.packed(key)                          # a small result: cheaper to load here than on a worker
    rt.engine_started(label, handle)        # this cell started an engine runtime
    rt.engine_used(label)                   # this cell submitted work to it

Reporting rule: every task is reported at the post_cell after it was
submitted. A dispatched task whose note is not there yet (a future still
running) is reported as ``dispatched`` without result, and reported again,
complete, at a later post_cell once its note arrives; both carry the
submitting cell's id (the TS side keeps the last record per key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..blob_store import DIGEST_RE, BlobError, BlobStore, digest_of
from .. import task_files
from ..serialise import deserialise
from .keys import Uncacheable, function_name
from .worker import NOTES_SUFFIX, TASKLOG, LoadSpec, note_failure, notes_log_prefix, persist_result, read_result

TaskRecord = dict[str, Any]
# A memoized result: its digest, its size, the other blobs it refers to, and the pack
# (digest, offset) holding it when it is a small result without a blob of its own.
Memo = tuple[str, int, tuple[str, ...], tuple[str, int] | None]

# A note that has not arrived after this many post_cells never will (the task was
# cancelled, or the engine already held its result): stop looking for it.
_PENDING_CELLS = 50
# Packs of small results held in memory for hits, at most about this many bytes.
_PACKS_HELD_MAX = 64 << 20


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
        # Notes read from the workers' logs, by task key, until a pending task claims them
        # (a note can be read before its task is reported dispatched): (note, cells kept).
        self._arrived: dict[str, list[tuple[dict[str, Any], int]]] = {}
        self._notes_lock = threading.Lock()
        self._log_offsets: dict[str, int] = {}
        self._packs: dict[str, bytes] = {}  # pack digest -> its bytes, verified (kept while small)
        self._packs_bytes = 0  # a log with a line half written: bytes read so far

    # -- the memo table

    def load_known(self, entries: list[tuple[Any, ...]]) -> int:
        """(key, digest, size[, blobs[, pack]]) of task results the bundle holds."""
        with self._lock:
            for key, digest, size, *more in entries:
                blobs = tuple(more[0]) if more else ()
                pack = tuple(more[1]) if len(more) > 1 and more[1] else None
                self.memo[key] = (digest, size, blobs, pack)  # type: ignore[assignment]
            return len(self.memo)

    def lookup(self, key: str) -> tuple[str, int] | None:
        """The memoized result of a task, when its blob is really in the store with its
        recorded size and every blob it refers to is there (a stat each; the digests
        themselves are checked when the blobs are read)."""
        hit = self.memo.get(key)
        if hit is None or task_files.reads_changed(key) is not None:
            return None  # not recorded, or a file it read changed: dispatched
        digest, size, blobs, pack = hit
        try:
            if pack is not None:
                if os.stat(self.store.path_for(pack[0])).st_size < pack[1] + size:
                    return None
            elif os.stat(self.store.path_for(digest)).st_size != size:
                return None
            for other in blobs:
                os.stat(self.store.path_for(other))
        except OSError:
            return None
        return digest, size

    def load(self, digest: str, key: str) -> Any:
        """A memoized result, loaded here and checked against its digest."""
        pack = self._pack_of(digest, key)
        if pack is not None:
            data = self._packed_bytes(pack, digest, key)
        else:
            data = read_result(self.store, digest, key, None)
        return deserialise(data, f"blob {digest} (result of task {key[:16]})")

    def _packed_bytes(self, pack: tuple[str, int, int], digest: str, key: str) -> bytearray:
        """A small result's slice of its pack: the pack is read once (verified whole) and
        kept while small, not opened again for each of its thousands of hits."""
        pack_digest, offset, size = pack
        held = self._packs.get(pack_digest)
        if held is None:
            if self._packs_bytes > _PACKS_HELD_MAX:
                self._packs.clear()
                self._packs_bytes = 0
            held = bytes(self.store.read_verified(pack_digest, f"pack of task results (task {key[:16]})"))
            self._packs[pack_digest] = held
            self._packs_bytes += len(held)
        data = bytearray(held[offset : offset + size])
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise BlobError(f"blob {pack_digest}: the result of task {key[:16]} at offset {offset} does not hash to {digest}")
        return data

    def load_spec(self, digest: str, key: str) -> LoadSpec:
        """What ``runners.load_result`` needs to load this result on a worker."""
        pack = self._pack_of(digest, key)
        return (self.blobs_dir, digest, key, *pack) if pack else (self.blobs_dir, digest, key)

    def packed(self, key: str) -> bool:
        """A small result kept in a pack: serve it as data from here rather than by a loader task."""
        memo = self.memo.get(key)
        return memo is not None and memo[3] is not None

    def _pack_of(self, digest: str, key: str) -> tuple[str, int, int] | None:
        memo = self.memo.get(key)
        if memo is None or memo[0] != digest or memo[3] is None:
            return None
        return (memo[3][0], memo[3][1], memo[1])

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
        if memo is not None and memo[0] == digest:
            # This run's record keeps them alive too.
            if memo[2]:
                rec["result_blobs"] = list(memo[2])
            if memo[3] is not None:
                rec["result_pack"] = {"digest": memo[3][0], "offset": memo[3][1]}
        task_files.served(rec, self.store)  # its recorded files, and the ones it wrote put back
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
        self._collect_notes()
        packing: list[tuple[TaskRecord, bytes]] = []
        for key, p in pending.items():
            note = self._take_note(key, p.dispatches)
            if note is None:
                p.cells_waited += 1
                if p.cells_waited > _PENDING_CELLS:
                    with self._lock:
                        self._pending.pop(key, None)
                continue
            with self._lock:
                self._pending.pop(key, None)
            for record in p.records:
                inline = self._apply_note(record, note)
                if inline is not None:
                    packing.append((record, inline))
                if id(record) not in reported:
                    finished.append(record)  # submitted by an earlier cell, finished since
        self._age_notes()
        if packing:
            self._write_pack(packing)
        tasks = [*finished, *cell.records]
        if any(t.get("result_digest") and t["status"] != "hit" and "result_pack" not in t for t in tasks):
            # Workers write results without syncing each one: make them durable
            # before the client records their digests.
            _sync_filesystem(self.store.root)
        return {"tasks": tasks, "engines": {"started": sorted(cell.started), "used": sorted(cell.used)}}

    def note_arrived(self, key: str, dispatch: str) -> bool:
        """Whether the note of this dispatch of a task is there (read from the logs now)."""
        self._collect_notes()
        with self._notes_lock:
            return any(n.get("dispatch") == dispatch for n, _ in self._arrived.get(key, ()))

    def _take_note(self, key: str, dispatches: set[str]) -> dict[str, Any] | None:
        # A note of an earlier dispatch of the same key (an earlier graph) is not this one's.
        with self._notes_lock:
            notes = self._arrived.get(key, [])
            for i, (note, _) in enumerate(notes):
                if note.get("dispatch") in dispatches:
                    del notes[i]
                    if not notes:
                        del self._arrived[key]
                    return note
        return None

    def _age_notes(self) -> None:
        with self._notes_lock:
            for key in list(self._arrived):
                kept = [(n, age + 1) for n, age in self._arrived[key] if age < _PENDING_CELLS]
                if kept:
                    self._arrived[key] = kept
                else:
                    del self._arrived[key]

    def _collect_notes(self) -> None:
        """Read every new line of this session's note logs, and remove the logs read to
        their end. The removal cannot lose a note: a line written before the unlink is
        read after it (through the descriptor kept open), and a writer whose line lands
        after the unlink sees its log without links and writes the line again elsewhere."""
        prefix = notes_log_prefix(self._session)
        try:
            names = [n for n in os.listdir(self.tasklog_dir) if n.startswith(prefix) and n.endswith(NOTES_SUFFIX)]
        except OSError:
            return
        with self._notes_lock:
            for name in names:
                path = os.path.join(self.tasklog_dir, name)
                offset = self._log_offsets.get(path, 0)
                try:
                    with open(path, "rb", buffering=0) as f:
                        f.seek(offset)
                        lines, used = _complete_lines(f.read())
                        offset += used
                        if f.tell() == offset:  # read to its end, no line half written: remove it
                            os.unlink(path)
                            self._log_offsets.pop(path, None)
                            more, _ = _complete_lines(f.read())
                            lines.extend(more)
                        else:
                            self._log_offsets[path] = offset
                except OSError:
                    continue
                for raw in lines:
                    try:
                        note = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(note, dict) and isinstance(note.get("key"), str):
                        self._arrived.setdefault(note["key"], []).append((note, 0))

    def _write_pack(self, packing: list[tuple[TaskRecord, bytes]]) -> None:
        """The small results that arrived inline, in one blob (durable: BlobStore.write syncs
        it), each record pointing at its slice; the slice is checked against the result's
        own digest whenever it is read."""
        offsets: dict[str, int] = {}
        parts: list[bytes] = []
        end = 0
        for record, data in packing:
            if record["result_digest"] not in offsets:
                offsets[record["result_digest"]] = end
                parts.append(data)
                end += len(data)
        pack = memoryview(b"".join(parts))
        pack_digest = digest_of([pack])
        try:
            self.store.write(pack_digest, [pack])
        except OSError as err:
            for record, _ in packing:
                for k in ("result_digest", "result_size", "result_blobs"):
                    record.pop(k, None)
                record.update(status="uncached", reason=f"its result could not be stored: {type(err).__name__}: {err}"[:2000])
            return
        with self._lock:
            for record, _ in packing:
                offset = offsets[record["result_digest"]]
                record["result_pack"] = {"digest": pack_digest, "offset": offset}
                self.memo[record["key"]] = (record["result_digest"], record["result_size"], tuple(record.get("result_blobs", ())), (pack_digest, offset))

    def _apply_note(self, record: TaskRecord, note: dict[str, Any]) -> bytes | None:
        """Fill the record from its note; returns a small result that came inline, to be packed."""
        status = note.get("status")
        if isinstance(note.get("duration_s"), (int, float)):
            record["duration_s"] = max(0.0, float(note["duration_s"]))
        if isinstance(note.get("where"), dict):
            record["where"] = {k: v for k, v in note["where"].items() if k in ("host", "pid", "thread", "worker", "client")}
        if isinstance(note.get("files"), dict):
            record["files"] = task_files.from_note(note["files"])
            if status == "stored":
                task_files.remember(record["key"], record["files"])
        digest = note.get("digest")
        blobs = note.get("blobs", [])
        blobs_ok = isinstance(blobs, list) and all(isinstance(b, str) and DIGEST_RE.match(b) for b in blobs)
        if status == "stored" and isinstance(digest, str) and DIGEST_RE.match(digest) and isinstance(note.get("size"), int) and blobs_ok:
            inline = _inline_bytes(note, digest)
            if "inline" in note and inline is None:
                record["status"] = "uncached"
                record["reason"] = "its result arrived damaged from the worker (its bytes do not hash to the digest noted)"
                return None
            record["result_digest"] = digest
            record["result_size"] = note["size"]
            if blobs:
                record["result_blobs"] = list(dict.fromkeys(blobs))
            if inline is not None:
                return inline  # memoized once it is in the pack
            with self._lock:
                self.memo[record["key"]] = (digest, note["size"], tuple(dict.fromkeys(blobs)), None)
        elif status == "failed":
            record["status"] = "failed"
            record["reason"] = str(note.get("reason", "the task raised"))
        else:
            record["status"] = "uncached"
            record["reason"] = str(note.get("reason", "its result was not stored"))


def _inline_bytes(note: dict[str, Any], digest: str) -> bytes | None:
    """A result that came inside its note, checked against its digest."""
    raw = note.get("inline")
    if not isinstance(raw, str):
        return None
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    return data if len(data) == note.get("size") and hashlib.sha256(data).hexdigest() == digest else None


def _complete_lines(data: bytes) -> tuple[list[bytes], int]:
    """The complete lines in ``data`` and how many bytes they take."""
    end = data.rfind(b"\n") + 1
    return (data[:end].split(b"\n")[:-1] if end else []), end


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
