"""Incremental checkpoints of the user namespace: what a cell wrote, stored once.

After each cell only the names it could have touched are examined: the static
candidates from the analysis plus the runtime net (names added, removed or
rebound since ``pre_cell``). Each is serialised and hashed; a digest equal to
the name's last known digest means the cell did not change it, and nothing is
written.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from .blob_store import BlobStore, digest_of
from .folder_scan import scan as folder_scan
from .engine_bound import EngineBound, binding_of, dumps_refusing_engine_bound
from .namespace_watch import Namespace, Snapshot, unique
from .protocol import RequestError
from .serialise import deserialise, serialise, type_name
from .unserialisable import why_unserialisable

WriteEntry = dict[str, Any]


class Checkpointer:
    def __init__(self, namespace: Namespace, store: BlobStore) -> None:
        self.namespace = namespace
        self.store = store
        # name -> digest of its value as last stored or restored: the baseline for "unchanged".
        self.known: dict[str, str] = {}
        self._pre: tuple[str, Snapshot] | None = None

    def pre_cell(self, cell_id: str) -> None:
        self._pre = (cell_id, self.namespace.snapshot())

    def post_cell(self, cell_id: str, candidates: list[str], opaque: bool) -> dict[str, Any]:
        started = time.perf_counter()
        if self._pre is None:
            raise RequestError(f"post_cell for cell {cell_id!r} without a pre_cell before it")
        pre_id, before = self._pre
        if pre_id != cell_id:
            raise RequestError(f"post_cell for cell {cell_id!r}, but the last pre_cell was for cell {pre_id!r}")
        self._pre = None
        after = self.namespace.snapshot()
        examined = set(candidates) | Namespace.changed(before, after)
        if opaque:
            examined.update(after)
        names: dict[str, WriteEntry] = {}
        for name in unique(examined):
            entry = self._examine(name, existed=name in before or name in self.known)
            if entry is not None:
                names[name] = entry
        return {"names": names, "elapsed_s": time.perf_counter() - started}

    def _examine(self, name: str, existed: bool) -> WriteEntry | None:
        if not self.namespace.is_examinable(name):
            if name in self.namespace.ns:
                return None  # IPython's machinery, not the user's data
            self.known.pop(name, None)
            return {"status": "deleted"} if existed else None
        value = self.namespace.get(name)
        kind = type_name(value)
        started = time.perf_counter()
        try:
            # Engine-bound first (a Dask Future is also a live handle, but one that running
            # its cell again recreates, with its tasks served); then other live handles,
            # before pickling, since some pickle "successfully" into dead handles.
            reason = None if binding_of(value) else why_unserialisable(value)
            if reason is not None:
                self.known.pop(name, None)
                return {"status": "unserialisable", "type": kind, "reason": reason}
            reaches: set[str] = set()
            blob = serialise(value, functools.partial(dumps_refusing_engine_bound, reaches=reaches))
        except EngineBound as bound:
            self.known.pop(name, None)
            b = bound.binding
            return {"status": "engine-bound", "type": kind, "engine": b.engine, "holds": b.holds, "reason": b.reason(kind)}
        except Exception as err:  # any failure to pickle is an answer, not a crash
            self.known.pop(name, None)
            return {"status": "unserialisable", "type": kind, "reason": f"{kind}: {type(err).__name__}: {err}"}
        # Hash first (cheap next to a disk write), write only new content.
        digest = digest_of(blob.pieces)
        size = blob.size
        # A value naming the notebook's folder is right in this folder only (folder_scan.py).
        where = {"holds_path": True} if folder_scan.holds(blob.pieces[1]) else {}
        if self.known.get(name) == digest:
            return {"status": "unchanged", "digest": digest, "size": size, "type": kind, "reaches_engines": sorted(reaches), **where}
        self.store.write(digest, blob.pieces)
        self.known[name] = digest
        return {"status": "stored", "digest": digest, "size": size, "type": kind, "reaches_engines": sorted(reaches), "serialise_s": time.perf_counter() - started, **where}

    def restore(self, values: dict[str, str]) -> dict[str, Any]:
        restored: dict[str, Any] = {}
        for name, digest in values.items():
            started = time.perf_counter()
            data = self.store.read_verified(digest, name)
            try:
                value = deserialise(data, f"blob {digest} for `{name}`")
            except Exception as err:
                raise RequestError(f"cannot load `{name}` from blob {digest}: {type(err).__name__}: {err}") from err
            self.namespace.put(name, value)
            self.known[name] = digest
            restored[name] = {"size": len(data), "load_s": time.perf_counter() - started}
        return {"restored": restored}
