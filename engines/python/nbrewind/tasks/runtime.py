"""The kernel's task state: the memo table, and what the current cell submitted.

One ``TaskRuntime`` per greeted session (it writes into that session's store).
``end_cell`` turns what the adapters told it into the post_cell reply's
``tasks`` and ``engines``, reading the notes the workers wrote for dispatched
tasks.

The adapter API (all an engine adapter needs besides ``keys.Keyer`` and
``shipping.runners``):

    rt = runtime.active()                   # None: not greeted, pass everything through
    occ = rt.submission(key)                # this submission's occurrence (once per submission)
    rec = rt.record(engine, fn, key_or_uncacheable, arg_keys, upstream, engine_key, occ)
    rt.lookup(key, occ) -> Stored | None    # the recorded result of this occurrence, blobs present
    rt.would_hit(key)                       # lookup of the next occurrence, asked before submitting
    rt.hit(rec, stored)                     # served without dispatching
    rt.uncached(rec, reason)                # dispatched as is, never memoized
    d = rt.new_dispatch(); rt.dispatched(rec, d)     # one dispatch id per submission
        # then run it as runners.run_and_persist(fn, (rt.blobs_dir, key, d, rt.store_policy(keep)), *args)
        # on the worker, or call rt.persist_client_side / rt.fail_client_side
    rt.load(stored, key) -> value           # a hit served from this process
    rt.load_spec(stored, key)               # or: runners.load_result(that spec) on a worker
    stored.pack is not None                 # a small result: cheaper to load here than on a worker
    rt.engine_started(label, handle)        # this cell started an engine runtime
    rt.engine_used(label)                   # this cell submitted work to it

Occurrences: a run keeps the engine's meaning. Every submission is a task of
its own, even when its key equals another's (three ``pi(10**6)`` apps, five
``echo $RANDOM`` bash apps, ``client.map(f, xs, pure=False)``): the engine
computes each, and each may give another result. So the k-th submission of a
key by a cell within a run is its occurrence k, and it is served only the
result that occurrence k of that key in that cell was recorded with; nothing
computed in this run is served to a later submission of this run. A repeat
thus replays the recorded samples, in order, and never merges two of them.

Reporting rule: every task is reported at the post_cell after it was
submitted. A dispatched task whose note is not there yet (a future still
running) is reported as ``dispatched`` without result, and reported again,
complete, at a later post_cell once its note arrives; both carry the
submitting cell's id and the occurrence (the TS side files the later report
in the submitting cell's record, replacing the first).

Retries: an engine may run one submission several times (Dask ``retries=``,
Ray ``retry_exceptions``). Each attempt leaves a note under the same dispatch
id; a success is final, a failure only until a later attempt of the same
dispatch succeeds (then the task is reported again, complete).
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
from typing import Any, NamedTuple

from ..blob_store import DIGEST_RE, BlobError, BlobStore, digest_of
from .. import task_files
from ..folder_scan import scan as folder_scan
from ..gc_pause import gc_paused
from ..serialise import deserialise
from . import shared_cache
from .keys import Uncacheable, function_name
from .store_policy import StorePolicy, configured_bandwidth, measure_bandwidth
from .worker import NOTES_SUFFIX, TASKLOG, LoadSpec, note_failure, notes_log_prefix, persist_result, read_result

TaskRecord = dict[str, Any]

# A note that has not arrived after this many post_cells never will (the task was
# cancelled, or the engine already held its result): stop looking for it.
_PENDING_CELLS = 50
# Packs of small results held in memory for hits, at most about this many bytes.
_PACKS_HELD_MAX = 64 << 20


class Occurrence(NamedTuple):
    """Which submission a task is: the ``index``-th of its key by cell ``cell_id`` in this run."""

    cell_id: str | None
    index: int


@dataclass(frozen=True)
class Stored:
    """A recorded result: its digest and size, the other blobs it refers to, and the
    pack (digest, offset) holding it when it is a small result without a blob of its own."""

    digest: str
    size: int
    blobs: tuple[str, ...] = ()
    pack: tuple[str, int] | None = None


@dataclass
class _Pending:
    record: TaskRecord
    cells_waited: int = 0
    # A failure noted by an attempt; final only if no later attempt of the dispatch succeeds.
    failed: bool = False


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
        # (submitting cell, task key, occurrence) -> the result that occurrence was recorded with.
        # Filled only from the bundle (tasks_known): a run never serves what it computed itself.
        self.memo: dict[tuple[str | None, str, int], Stored] = {}
        self._lock = threading.Lock()  # user threads may compute concurrently
        self._cell = _CellLog(None)
        # (cell, key) -> submissions so far in this run of the cell
        self._submissions: dict[tuple[str | None, str], int] = {}
        self._pending: dict[str, _Pending] = {}  # dispatch id -> the task it dispatched
        self._session = uuid.uuid4().hex[:12]
        # Every dispatch id of this runtime starts with it (a worker in this process hands its notes over directly).
        self.session_prefix = f"{self._session}-"
        self._seq = 0
        # Notes read from the workers' logs, by dispatch id, until a pending task claims them
        # (a note can be read before its task is reported dispatched): (note, cells kept).
        self._arrived: dict[str, list[tuple[dict[str, Any], int]]] = {}
        self._notes_lock = threading.Lock()
        self._log_offsets: dict[str, int] = {}
        # Logs held open while tasks complete (``note_arrived``), closed at the cell's end.
        self._log_fds: dict[str, int] = {}
        self._packs: dict[str, bytes] = {}  # pack digest -> its bytes, verified (kept while small)
        self._packs_bytes = 0
        # Blob sizes stat'ed for lookups during the current cell (forgotten at each cell's start and end).
        self._cell_sizes: dict[str, int] = {}
        # "cost": results cheaper to recompute than to store and load are not stored; "all": every result is.
        self.store_mode = "cost"
        self._bandwidth: tuple[float, float] | None = None
        # Recorded task keys this run computes again, and why: a file the task read changed,
        # its stored result is gone, or an input of it is such a task's result. A task key
        # names a task by its inputs' keys, not their values, so the result of a recomputed
        # task may differ from the recorded one under the same key: nothing downstream of it
        # is served on the strength of its unchanged key (see lookup).
        self.recomputed: dict[str, str] = {}
        # Digests of results that name the notebook's folder (folder_scan.py): their records say so.
        self.path_holding: set[str] = set()

    # -- the memo table

    def load_known(self, entries: list[tuple[str, str | None, int, Stored]]) -> int:
        """(key, submitting cell, occurrence, stored result) of the task results the bundle holds."""
        with self._lock:
            for key, cell_id, index, stored in entries:
                self.memo[(cell_id, key, index)] = stored
            return len(self.memo)

    def submission(self, key: str) -> Occurrence:
        """Count one submission of ``key`` by the current cell: its occurrence. Call once per submission."""
        with self._lock:
            cell = self._cell.cell_id
            index = self._submissions.get((cell, key), 0)
            self._submissions[(cell, key)] = index + 1
            return Occurrence(cell, index)

    def lookup(self, key: str, occurrence: Occurrence, sizes: dict[str, int] | None = None, upstream: Sequence[str] = ()) -> Stored | None:
        """The result this occurrence of the task was recorded with, when its blob is really
        in the store with its recorded size and every blob it refers to is there (a stat each;
        the digests themselves are checked when the blobs are read), its recorded reads hold,
        and none of its ``upstream`` task keys is recomputed in this run.

        ``sizes``: blob sizes already stat'ed for this submission (one graph of thousands of
        hits whose results share one pack stats it once, not once per hit)."""
        why = self.upstream_recomputed(upstream)
        if why is not None:
            self.mark_recomputed(key, why)
            return None
        # Its recorded reads first, once (a stat each): a changed one makes it a miss whatever is stored.
        changed = task_files.reads_changed(key)
        if changed is not None:
            self.mark_recomputed(key, f"it reads `{changed}`, which changed")
            return None
        recorded = (occurrence.cell_id, key, occurrence.index) in self.memo
        hit = self._stored_hit(key, occurrence, sizes)
        if hit is None and recorded:
            self.mark_recomputed(key, "its stored result is not in the store any more")
        return hit

    def would_hit(self, key: str, sizes: dict[str, int] | None = None) -> bool:
        """Whether the current cell's next submission of ``key`` would be served (``lookup``
        would return its stored result), asked without counting a submission or marking
        anything recomputed. Only in a run where nothing recorded is computed again (else an
        upstream check would be owed): then it answers False."""
        if self.recomputed:
            return False
        with self._lock:
            cell = self._cell.cell_id
            index = self._submissions.get((cell, key), 0)
        return self._stored_hit(key, Occurrence(cell, index), sizes) is not None

    def upstream_recomputed(self, upstream: Sequence[str]) -> str | None:
        """Why a task taking these upstream results must be computed again (None: it need not)."""
        if self.recomputed:
            for up in upstream:
                why = self.recomputed.get(up)
                if why is not None:
                    return f"it takes the result of a task computed again in this run ({why.removeprefix('it ')})" if not why.startswith("it takes") else why
        return None

    def mark_recomputed(self, key: str, why: str) -> None:
        with self._lock:
            self.recomputed.setdefault(key, why)

    def recompute_reason(self, key: str | None) -> str | None:
        """Why a task whose key was recorded is dispatched again in this run (None: it is not)."""
        return self.recomputed.get(key) if key is not None else None

    def _stored_hit(self, key: str, occurrence: Occurrence, sizes: dict[str, int] | None) -> Stored | None:
        hit = self.memo.get((occurrence.cell_id, key, occurrence.index))
        if hit is None:
            # Not in the bundle: a shared or read-only task cache may hold it (its blobs are linked in).
            # A cache is keyed by task key alone: it serves what its publishers computed for that key.
            entry = shared_cache.fetch(key, self.store)
            if entry is None:
                return None
            digest, size, blobs, pack = entry
            hit = Stored(digest, size, blobs, pack)
            with self._lock:
                self.memo[(occurrence.cell_id, key, occurrence.index)] = hit
        if sizes is None:
            # One submission at a time (Parsl, Ray): a pack thousands of hits share is stat'ed
            # once per cell, not once per hit.
            sizes = self._cell_sizes
        try:
            if hit.pack is not None:
                if self._blob_size(hit.pack[0], sizes) < hit.pack[1] + hit.size:
                    return None
            elif self._blob_size(hit.digest, sizes) != hit.size:
                return None
            for other in hit.blobs:
                self._blob_size(other, sizes)
        except OSError:
            return None
        return hit

    def _blob_size(self, digest: str, sizes: dict[str, int]) -> int:
        size = sizes.get(digest)
        if size is None:
            size = sizes[digest] = os.stat(self.store.path_for(digest)).st_size
        return size

    def load(self, stored: Stored, key: str) -> Any:
        """A recorded result, loaded here and checked against its digest."""
        if stored.pack is not None:
            data = self._packed_bytes(stored, key)
        else:
            data = read_result(self.store, stored.digest, key, None)
        return deserialise(data, f"blob {stored.digest} (result of task {key[:16]})")

    def _packed_bytes(self, stored: Stored, key: str) -> bytearray:
        """A small result's slice of its pack: the pack is read once (verified whole) and
        kept while small, not opened again for each of its thousands of hits."""
        assert stored.pack is not None
        pack_digest, offset = stored.pack
        held = self._packs.get(pack_digest)
        if held is None:
            if self._packs_bytes > _PACKS_HELD_MAX:
                self._packs.clear()
                self._packs_bytes = 0
            held = bytes(self.store.read_verified(pack_digest, f"pack of task results (task {key[:16]})"))
            self._packs[pack_digest] = held
            self._packs_bytes += len(held)
        data = bytearray(held[offset : offset + stored.size])
        if len(data) != stored.size or hashlib.sha256(data).hexdigest() != stored.digest:
            raise BlobError(f"blob {pack_digest}: the result of task {key[:16]} at offset {offset} does not hash to {stored.digest}")
        return data

    def load_spec(self, stored: Stored, key: str) -> LoadSpec:
        """What ``runners.load_result`` needs to load this result on a worker."""
        if stored.pack is not None:
            return (self.blobs_dir, stored.digest, key, stored.pack[0], stored.pack[1], stored.size)
        return (self.blobs_dir, stored.digest, key)

    def record(self, engine: str, fn: Any, key: str | Uncacheable, arg_keys: Sequence[str], upstream: Sequence[str], engine_key: str, occurrence: Occurrence | None = None, names: dict[int, str] | None = None, name: str | None = None) -> TaskRecord:
        """A task record before its status is known; ``key`` may be the reason it has none.
        ``names``: function names already found for this submission, by the function's id;
        ``name``: the function's name, when the adapter keeps it per function."""
        if name is None:
            name = function_name(fn) if names is None else names.get(id(fn)) or names.setdefault(id(fn), function_name(fn))
        rec: TaskRecord = {
            "key": key if isinstance(key, str) else None,
            "engine": engine,
            "function": name,
            "arg_keys": list(arg_keys),
            "upstream": list(upstream),
            "engine_key": engine_key[:200],
        }
        if occurrence is not None:
            rec["occurrence"] = occurrence.index
            if occurrence.cell_id is not None:
                rec["cell_id"] = occurrence.cell_id  # the submitting cell, whenever it is reported
        return rec

    def store_policy(self, keep: bool) -> StorePolicy | None:
        """What the worker that produces a result is told: None, store it whatever it costs (a
        result the notebook receives, or ``--store all``); else the store's measured write and
        read bandwidth, against which it weighs the task's own compute time."""
        if keep or self.store_mode == "all":
            return None
        if self._bandwidth is None:
            self._bandwidth = configured_bandwidth() or measure_bandwidth(self.store)
        return self._bandwidth

    def persist_client_side(self, record: TaskRecord, dispatch: str, value: Any, duration_s: float | None = None, files: dict[str, Any] | None = None) -> None:
        """A dispatched task's result reached this process: store it from here. ``files``: what
        it wrote (real paths, contents already in the store), put back when it is served."""
        persist_result(self.blobs_dir, record["key"], dispatch, value, duration_s, where={"client": True}, files=files)

    def fail_client_side(self, record: TaskRecord, dispatch: str, err: BaseException) -> None:
        note_failure(self.blobs_dir, record["key"], dispatch, err, None)

    def new_dispatch(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self._session}-{self._seq}"

    # -- what the engine adapters did

    def hit(self, record: TaskRecord, stored: Stored) -> None:
        rec = {**record, "status": "hit", "result_digest": stored.digest, "result_size": stored.size}
        # This run's record keeps them alive too.
        if stored.blobs:
            rec["result_blobs"] = list(stored.blobs)
        if stored.pack is not None:
            rec["result_pack"] = {"digest": stored.pack[0], "offset": stored.pack[1]}
        if stored.digest in self.path_holding:
            rec["holds_path"] = True
        task_files.served(rec, self.store)  # its recorded files, and the ones it wrote put back
        self._add(rec)

    def uncached(self, record: TaskRecord, reason: str) -> None:
        self._add({**record, "status": "uncached", "reason": reason})

    def dispatched(self, record: TaskRecord, dispatch: str) -> None:
        rec = {**record, "status": "dispatched"}
        why = self.recompute_reason(record.get("key"))
        if why is not None:
            rec["recomputed"] = why
        with self._lock:
            self._add_locked(rec)
            self._pending[dispatch] = _Pending(rec)

    def engine_started(self, engine: str, handle: Any = None) -> None:
        """The current cell started an engine runtime; ``handle`` (with a ``close()``)
        is closed by ``shutdown_engines`` at the end of the run."""
        with self._lock:
            self._cell.started.add(engine)
        if handle is not None:
            _started_handles.append((engine, weakref.ref(handle)))

    def engine_used(self, engine: str) -> None:
        if engine in self._cell.used:
            return  # asked at every submission: no lock once the cell has it
        with self._lock:
            self._cell.used.add(engine)

    def _add(self, record: TaskRecord) -> None:
        with self._lock:
            self._add_locked(record)

    def _add_locked(self, record: TaskRecord) -> None:
        if self._cell.cell_id is not None:
            record.setdefault("cell_id", self._cell.cell_id)
        self._cell.records.append(record)

    # -- an adapter that failed mid-submission (engine_guard.EngineGuard.attempt)

    def mark(self) -> int:
        with self._lock:
            return len(self._cell.records)

    def forget_since(self, mark: int) -> None:
        """Drop what was recorded after ``mark``: the adapter failed and the submission
        went to the engine unchanged, so those records (hits, dispatches) did not happen."""
        with self._lock:
            dropped = {id(rec) for rec in self._cell.records[mark:]}
            del self._cell.records[mark:]
            # A dispatch is pending by its dispatch id, not its task key: found by its record. Left
            # pending, a note of it (its wrapped task reached a worker before the adapter gave up)
            # would bring the forgotten record back into a cell's report, and into the bundle.
            for dispatch in [d for d, p in self._pending.items() if id(p.record) in dropped]:
                del self._pending[dispatch]

    # -- cells

    def begin_cell(self, cell_id: str) -> None:
        self._cell_sizes = {}
        with self._lock:
            # Anything submitted between cells (a thread, a callback) is reported with this cell.
            self._cell.cell_id = cell_id
            for rec in self._cell.records:
                rec.setdefault("cell_id", cell_id)
            # A cell run again in the same kernel starts its occurrences afresh (its recorded samples again).
            for k in [k for k in self._submissions if k[0] == cell_id]:
                del self._submissions[k]

    def end_cell(self) -> dict[str, Any]:
        with gc_paused():  # thousands of notes read and records filled: bookkeeping in bulk
            return self._end_cell()

    def _end_cell(self) -> dict[str, Any]:
        self._cell_sizes = {}
        with self._lock:
            cell, self._cell = self._cell, _CellLog(None)
            pending = dict(self._pending)
        reported: set[int] = {id(r) for r in cell.records}
        finished: list[TaskRecord] = []
        self._collect_notes()
        packing: list[tuple[TaskRecord, bytes]] = []
        for dispatch, p in pending.items():
            outcome = self._take_notes(dispatch)
            if outcome is None:
                p.cells_waited += 1
                if p.cells_waited > _PENDING_CELLS:
                    with self._lock:
                        self._pending.pop(dispatch, None)
                continue
            if outcome.get("status") == "failed":
                if p.failed:
                    continue  # reported failed already: a later success reports it again
                p.failed = True  # a retry may still succeed: keep waiting for its note
            else:
                with self._lock:
                    self._pending.pop(dispatch, None)
            inline = self._apply_note(p.record, outcome)
            if inline is not None:
                packing.append((p.record, inline))
            if id(p.record) not in reported:
                finished.append(p.record)  # submitted by an earlier cell, finished since
        self._age_notes()
        if packing:
            self._write_pack(packing)
        tasks = [*finished, *cell.records]
        written = {t["result_digest"] for t in tasks if t.get("result_digest") and t["status"] != "hit" and "result_pack" not in t}
        if written:
            # Workers write results without syncing each one: make them durable
            # before the client records their digests.
            _sync_blobs(self.store, written)
        return {"tasks": tasks, "engines": {"started": sorted(cell.started), "used": sorted(cell.used)}}

    def note_arrived(self, dispatch: str) -> bool:
        """Whether a note of this dispatch is there (handed over, or read from the logs now)."""
        with self._notes_lock:
            if self._arrived.get(dispatch):
                return True
            # Asked once per completed task: the logs already open first (a pread each), the
            # folder listed only when the note is in none of them (a worker's first note).
            self._read_open_logs()
            if self._arrived.get(dispatch):
                return True
            names = self._log_names()
            if names is None:
                return False
            for name in names:
                path = os.path.join(self.tasklog_dir, name)
                if path not in self._log_fds:
                    try:
                        self._log_fds[path] = os.open(path, os.O_RDONLY)
                    except OSError:
                        continue
            self._read_open_logs()
            return bool(self._arrived.get(dispatch))

    def _read_open_logs(self) -> None:
        """The complete new lines of the logs held open (under ``_notes_lock``); none removed:
        each removal would make its worker create a new log, a file creation per task."""
        for path, fd in self._log_fds.items():
            offset = self._log_offsets.get(path, 0)
            data = b""
            while True:
                try:
                    chunk = os.pread(fd, 1 << 20, offset + len(data))
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            if data:
                lines, used = _complete_lines(data)
                self._log_offsets[path] = offset + used
                self._take_lines(lines)

    def _log_names(self) -> list[str] | None:
        """The names of this session's note logs (None: no log folder to list)."""
        prefix = notes_log_prefix(self._session)
        try:
            return [n for n in os.listdir(self.tasklog_dir) if n.startswith(prefix) and n.endswith(NOTES_SUFFIX)]
        except OSError:
            return None

    def _take_lines(self, lines: list[bytes]) -> None:
        for raw in lines:
            try:
                note = json.loads(raw)
            except ValueError:
                continue
            if isinstance(note, dict) and isinstance(note.get("key"), str) and isinstance(note.get("dispatch"), str):
                self._arrived.setdefault(note["dispatch"], []).append((note, 0))

    def deliver(self, note: dict[str, Any]) -> None:
        """A note from a task that ran in this process (``worker.write_note``)."""
        with self._notes_lock:
            self._arrived.setdefault(note["dispatch"], []).append((note, 0))

    def _take_notes(self, dispatch: str) -> dict[str, Any] | None:
        """The outcome of a dispatch from the notes its attempts left: the first success, else
        the last failure (a retried task fails, then succeeds, under one dispatch id)."""
        with self._notes_lock:
            notes = self._arrived.pop(dispatch, None)
        if not notes:
            return None
        for note, _ in notes:
            if note.get("status") != "failed":
                return note
        return notes[-1][0]

    def _age_notes(self) -> None:
        with self._notes_lock:
            for dispatch in list(self._arrived):
                kept = [(n, age + 1) for n, age in self._arrived[dispatch] if age < _PENDING_CELLS]
                if kept:
                    self._arrived[dispatch] = kept
                else:
                    del self._arrived[dispatch]

    def _collect_notes(self) -> None:
        """Read every new line of this session's note logs, and remove the logs read to
        their end (a cell's end). The removal cannot lose a note: a line written before the
        unlink is read after it (through the descriptor kept open), and a writer whose line
        lands after the unlink sees its log without links and writes the line again elsewhere."""
        names = self._log_names()
        if names is None:
            return
        with self._notes_lock:
            # Read on from where note_arrived stopped, by name; its descriptors are done with.
            for fd in self._log_fds.values():
                os.close(fd)
            self._log_fds.clear()
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
                self._take_lines(lines)

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
        for record, _ in packing:
            record["result_pack"] = {"digest": pack_digest, "offset": offsets[record["result_digest"]]}

    def _apply_note(self, record: TaskRecord, note: dict[str, Any]) -> bytes | None:
        """Fill the record from its note; returns a small result that came inline, to be packed."""
        status = note.get("status")
        for k in ("reason", "result_digest", "result_size", "result_blobs", "not_stored"):
            record.pop(k, None)  # a failed attempt reported earlier, now superseded
        record["status"] = "dispatched"
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
            if ("inline" in note or "inline_bytes" in note) and inline is None:
                record["status"] = "uncached"
                record["reason"] = "its result arrived damaged from the worker (its bytes do not hash to the digest noted)"
                return None
            record["result_digest"] = digest
            record["result_size"] = note["size"]
            if self._holds_folder(digest, inline):
                record["holds_path"] = True
                self.path_holding.add(digest)
            if blobs:
                record["result_blobs"] = list(dict.fromkeys(blobs))
            return inline  # packed, when it came inline
        if status == "failed":
            record["status"] = "failed"
            record["reason"] = str(note.get("reason", "the task raised"))
            return None
        record["status"] = "uncached"
        record["reason"] = str(note.get("reason", "its result was not stored"))
        if note.get("not_stored") is True:
            # Deliberately not stored (cheaper to recompute): the next run dispatches it again.
            record["not_stored"] = True
            if isinstance(note.get("size"), int):
                record["result_size"] = note["size"]
        return None

    def _holds_folder(self, digest: str, inline: bytes | None) -> bool:
        """Whether a result names the notebook's folder (folder_scan.py): read from its note when
        it came inline, else from the store's blob (its pickle stream only, not its buffers)."""
        if folder_scan.folder is None:
            return False
        if inline is not None:
            return folder_scan.blob_holds(inline)
        try:
            return folder_scan.file_holds(self.store.path_for(digest))
        except OSError:
            return False  # not in this store (a worker that kept it): nothing to scan, nothing claimed


def _inline_bytes(note: dict[str, Any], digest: str) -> bytes | None:
    """A result that came inside its note, checked against its digest."""
    data = note.get("inline_bytes")
    if isinstance(data, bytes):
        # Handed over in this process by the code that hashed these very bytes: nothing
        # travelled that could have damaged them.
        return data if len(data) == note.get("size") else None
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


def _sync_blobs(store: BlobStore, digests: set[str]) -> None:
    """fdatasync each blob a cell's tasks wrote, then the folders they were renamed into.
    Only those: syncfs would also wait for every other writer's dirty pages on a shared
    filesystem (seconds on a busy machine), and a cell writes few result files (small
    results are packed, and the pack is written durably)."""
    folders: set[str] = set()
    try:
        for digest in digests:
            path = store.path_for(digest)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
            folders.add(os.path.dirname(path))
        for folder in folders:
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError:
        _sync_filesystem(store.root)


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
