"""Which task key stands behind a Ray ``ObjectRef``.

An ``ObjectRef`` passed to a task (at the top level, or nested in lists and
dicts) contributes the key of what it refers to:

* the result of a remote-function call nbrewind keyed (dispatched or served
  from the store): that task's key, with the return index when the task has
  several returns;
* a ``ray.put`` value: its content key, computed when it was put (Ray stores a
  copy, so the value at put time is exactly what tasks will read);
* anything else (an actor method's result, an uncached task's, a ref made
  before the shim was loaded): not keyable, and the reason says which.

Refs are remembered by their binary id, never by the ``ObjectRef`` itself:
holding the ref would keep its object alive in Ray's object store.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from nbrewind.tasks.keys import Uncacheable

# Bounded: past this many refs the table starts afresh. A ref forgotten that
# way only makes a later task that reads it uncached, never wrongly hit.
_MAX_REFS = 1_000_000
_UNKNOWN = (
    "reads an ObjectRef that no task seen by nbrewind produced "
    "(made before the shim was loaded, or through an API nbrewind does not intercept)"
)

_lock = threading.Lock()
# ref id -> (task key, return index or None) | the reason the ref cannot be keyed
_refs: dict[bytes, tuple[str, int | None] | Uncacheable] = {}
# ref id -> content key of a ray.put value | the reason it cannot be keyed
_puts: dict[bytes, str | Uncacheable] = {}


def _remember(table: dict[bytes, Any], ref_id: bytes, entry: Any) -> None:
    with _lock:
        if len(table) >= _MAX_REFS:
            table.clear()
        table[ref_id] = entry


def produced(refs: list[Any], task_key: str) -> None:
    """The refs one keyed task returned (one ref, or one per return)."""
    if len(refs) == 1:
        _remember(_refs, refs[0].binary(), (task_key, None))
        return
    for i, ref in enumerate(refs):
        _remember(_refs, ref.binary(), (task_key, i))


def unkeyable(refs: list[Any], reason: str) -> None:
    """The refs of a submission that was not keyed: whoever reads them is not keyed either."""
    err = Uncacheable(reason)
    for ref in refs:
        _remember(_refs, ref.binary(), err)


def put(ref: Any, content_key: str | Uncacheable) -> None:
    _remember(_puts, ref.binary(), content_key)


def key_of(ref: Any) -> tuple[str, str | None]:
    """(the key the ref contributes, the task key of its producer or None for a put).

    The contribution is the key of the value Ray hands the task for this ref: the
    producer's task key (one return), a key derived from it (one of several
    returns), or a put value's content key. Raises ``Uncacheable`` when the ref
    cannot be keyed soundly.
    """
    ref_id = ref.binary()
    entry = _refs.get(ref_id)
    if entry is None:
        put_key = _puts.get(ref_id)
        if put_key is None:
            raise Uncacheable(_UNKNOWN)
        if isinstance(put_key, Uncacheable):
            raise put_key
        return put_key, None
    if isinstance(entry, Uncacheable):
        raise entry
    task_key, index = entry
    if index is None:
        return task_key, task_key
    return hashlib.sha256(f"ray-return\0{task_key}\0{index}".encode()).hexdigest(), task_key


def clear() -> None:
    with _lock:
        _refs.clear()
        _puts.clear()
