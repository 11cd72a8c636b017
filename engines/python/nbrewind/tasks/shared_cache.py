"""Task caches outside the bundle: a shared writable ``cache.dir`` and read-only ``cache.read`` dirs.

The TypeScript side publishes entries (and their blobs) into ``cache.dir``; the
shim only reads caches. Layout (schemas/task-cache-entry.schema.json):

    <cache>/tasks/<2 hex>/<task key>.json     one entry: digest, size, blobs, pack
    <cache>/blobs/sha256/<2 hex>/<62 hex>     the blob store, as in a bundle

A task whose key the bundle's memo lacks is looked up in each cache in order
(the local one first). A hit's blobs are linked (copied across filesystems)
into the bundle's own store before it is served: the bundle then holds
everything its latest run used, so it packs self-contained and ``verify``
finds every blob its records name.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from typing import Any

from ..blob_store import DIGEST_RE, BlobStore, discarded_on_failure

_caches: list[str] = []


def configure(dirs: list[str]) -> int:
    global _caches
    _caches = [d for d in dirs if isinstance(d, str) and os.path.isabs(d)]
    return len(_caches)


def entry_path(cache: str, key: str) -> str:
    return os.path.join(cache, "tasks", key[:2], f"{key}.json")


def fetch(key: str, store: BlobStore) -> tuple[str, int, tuple[str, ...], tuple[str, int] | None] | None:
    """The memo entry of ``key`` from the first cache holding it whole, its blobs now in ``store``."""
    if not _caches or not key:
        return None
    for cache in _caches:
        entry = _read_entry(cache, key)
        if entry is None:
            continue
        digest, size, blobs, pack = entry
        needed = [pack[0] if pack else digest, *blobs]
        source = BlobStore(os.path.join(cache, "blobs"))
        try:
            for d in needed:
                _materialise(source, store, d)
        except OSError:
            continue  # incomplete (being collected, or damaged): try the next cache
        return entry
    return None


def _read_entry(cache: str, key: str) -> tuple[str, int, tuple[str, ...], tuple[str, int] | None] | None:
    try:
        with open(entry_path(cache, key), "rb") as f:
            e: Any = json.load(f)
    except (OSError, ValueError):
        return None
    if not (isinstance(e, dict) and e.get("key") == key and isinstance(e.get("digest"), str) and DIGEST_RE.match(e["digest"]) and isinstance(e.get("size"), int)):
        return None
    blobs = e.get("blobs", [])
    if not (isinstance(blobs, list) and all(isinstance(b, str) and DIGEST_RE.match(b) for b in blobs)):
        return None
    pack = e.get("pack")
    if pack is not None and not (isinstance(pack, dict) and isinstance(pack.get("digest"), str) and DIGEST_RE.match(pack["digest"]) and isinstance(pack.get("offset"), int)):
        return None
    return e["digest"], e["size"], tuple(blobs), (pack["digest"], pack["offset"]) if pack else None


def _materialise(source: BlobStore, target: BlobStore, digest: str) -> None:
    """Put a cache blob into the bundle's store: a hard link when both are on one
    filesystem, else a copy; through a temp name and a rename, so a reader never
    sees half a blob. Its digest is checked whenever it is read."""
    final = target.path_for(digest)
    if os.path.exists(final):
        return
    src = source.path_for(digest)
    os.stat(src)  # absent: the entry is not usable from this cache
    tmp_dir = os.path.join(target.root, "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = os.path.join(tmp_dir, f"cache-{uuid.uuid4().hex}")
    with discarded_on_failure(tmp):
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, final)
