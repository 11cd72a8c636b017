"""Files per task, on the kernel's side: a recorded task is served only while the files it
read are still what it read, and a served task's written files are put back.

The engine adapters need not know: ``runtime.lookup`` asks ``reads_changed`` before it
answers a hit, ``runtime.hit`` calls ``served``, and ``runtime`` passes the files a
worker noted (real paths, ``file_observer.observed_call``) through ``from_note``.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from typing import Any

from .blob_store import BlobStore, discarded_on_failure
from .file_observer import process_observer

# task key -> the files its recorded run read and wrote (paths as records name them)
_known: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def load_known(files_by_key: dict[str, dict[str, Any]]) -> None:
    with _lock:
        _known.update(files_by_key)


def remember(key: str, files: dict[str, Any]) -> None:
    with _lock:
        _known[key] = files


def from_note(files: dict[str, Any]) -> dict[str, Any]:
    """A worker's report (real paths) as records name files."""
    return process_observer().relativise(files)


def _full(path: str) -> str:
    base = process_observer().notebook_dir or os.getcwd()
    return path if os.path.isabs(path) else os.path.join(base, path)


def reads_changed(key: str) -> str | None:
    """The first recorded read of the task that is missing or different now (stat first,
    sha256 only when the stat moved), or None when all hold (or none were recorded)."""
    files = _known.get(key)
    if not files:
        return None
    obs = process_observer()
    for read in files.get("read", []):
        full = _full(read["path"])
        try:
            st = os.stat(full)
        except OSError:
            return read["path"]
        if st.st_size == read["size"] and str(st.st_mtime_ns) == read["mtime_ns"]:
            continue
        if obs._digest(full, st) != read["sha256"]:  # noqa: SLF001 - the observer's digest cache
            return read["path"]
    return None


def served(record: dict[str, Any], store: BlobStore) -> None:
    """A hit: its record keeps the recorded files, and the files it wrote are put back."""
    files = _known.get(record.get("key") or "")
    if not files:
        return
    record["files"] = {"read": list(files.get("read", [])), "written": list(files.get("written", []))}
    for w in files.get("written", []):
        if w.get("deleted") or w.get("appended") or not w.get("blob"):
            continue
        _restore(w, store)


def _restore(w: dict[str, Any], store: BlobStore) -> None:
    """Write one file back where the record says, never outside the notebook's folder."""
    root = process_observer().notebook_dir
    path = w["path"]
    if root is None or os.path.isabs(path) or ".." in path.split("/"):
        return  # not a file of the notebook's folder: never written from a record
    target = os.path.join(root, path)
    current = root
    for part in path.split("/")[:-1]:
        current = os.path.join(current, part)
        if os.path.islink(current):
            return
    try:
        st = os.lstat(target)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return
        if st.st_size == w["size"] and process_observer()._digest(target, os.stat(target)) == w["sha256"]:  # noqa: SLF001
            return
    except FileNotFoundError:
        pass
    data = store.read_verified(w["sha256"], path)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nbrewind-")
    with discarded_on_failure(tmp):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fdatasync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
