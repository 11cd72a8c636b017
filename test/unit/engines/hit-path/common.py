"""What the hit-path scripts share: the engines' adapters on the path, a kernel-like task
runtime over a temporary store, and the memo table a repeat is handed from an audit's records
(as the kernel is handed it from a bundle)."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

ROOT = sys.argv[1]
sys.path[:0] = [os.path.join(ROOT, "engines", "python"), *(os.path.join(ROOT, "engines", e) for e in ("dask", "parsl", "ray"))]

from nbrewind.blob_store import BlobStore  # noqa: E402
from nbrewind.tasks import runtime  # noqa: E402

STORE = tempfile.mkdtemp(prefix="nbrewind-hit-path-")


def cell(known: list[Any] | None = None) -> runtime.TaskRuntime:
    """A fresh runtime (a new kernel session on the same store), in cell ``c1``."""
    rt = runtime.current = runtime.TaskRuntime(BlobStore(STORE))
    rt.load_known(known or [])
    rt.begin_cell("c1")
    return rt


def known_from(records: list[dict[str, Any]]) -> list[Any]:
    known = []
    for t in records:
        if t.get("result_digest") and t["status"] != "hit":
            pack = t.get("result_pack")
            stored = runtime.Stored(t["result_digest"], t["result_size"], tuple(t.get("result_blobs", ())), (pack["digest"], pack["offset"]) if pack else None)
            known.append((t["key"], t.get("cell_id"), t["occurrence"], stored))
    return known


def statuses(records: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in records:
        out[t["status"]] = out.get(t["status"], 0) + 1
    return out
