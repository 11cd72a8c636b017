"""Does a stored value hold the notebook folder's absolute path?

A value such as ``path = os.path.abspath("data/in.txt")`` or a task that
returns ``Path.cwd() / "out.csv"`` is right only in the folder it was recorded
in. Restored in a copy of the notebook elsewhere (``replay`` at another site, a
moved project), it points back at the old folder: the cells after it read the
old folder's files, or none, and print numbers that are no longer this folder's.
The checkpointer and the task runtime flag such values (``holds_path``), and the
client re-runs their cells (dispatches their tasks) when the folder moved.

The scan looks at the pickle stream only, never at out-of-band buffers (array
data), so its cost is one substring search over a few bytes for most values. It
finds the folder as a string (``str``, ``bytes``, ``os.PathLike`` values that
pickle their string) and as the part tuple ``pathlib`` pickles under Python
3.11 and 3.12 (``('/', 'home', 'me', 'project', 'data.txt')``). A false match
costs a re-run in the moved folder, never a wrong answer; what it cannot see
(a path inside a NumPy unicode array's buffer, or one built at each use from
``os.getcwd()``) is listed in the README's section on moved folders.
"""

from __future__ import annotations

import os
import pickletools
import re
import struct
from typing import Any

from .serialise import MAGIC

_LEN = "<Q"
_LEN_SIZE = struct.calcsize(_LEN)


class FolderScan:
    def __init__(self) -> None:
        self.folder: str | None = None
        self._needles: tuple[bytes, ...] = ()
        self._parts: tuple[re.Pattern[bytes], ...] = ()
        self._folders: tuple[str, ...] = ()

    def configure(self, folder: str) -> None:
        """The notebook's folder, as given and as its real path (both may be stored)."""
        forms = sorted({folder.rstrip("/") or "/", os.path.realpath(folder)})
        self.folder = os.path.realpath(folder)
        # The root alone matches every absolute path: a notebook in / is not worth a re-run of everything.
        forms = [f for f in forms if f != "/"]
        self._folders = tuple(forms)
        self._needles = tuple(f.encode("utf-8", "surrogateescape") for f in forms)
        self._parts = tuple(_parts_pattern(f) for f in forms)

    def holds(self, payload: bytes | bytearray | memoryview) -> bool:
        """Whether a pickle stream names the folder."""
        if not self._needles:
            return False
        data = _as_bytes(payload)
        if any(n in data for n in self._needles):
            return True
        # Parts only where pathlib is pickled: walking every payload would cost.
        if b"pathlib" not in data:
            return False
        if len(data) <= _WALK_MAX:
            return any(_under(p, f) for p in _pickled_part_tuples(data) for f in self._folders)
        return any(p.search(data) for p in self._parts)

    def blob_holds(self, data: bytes | bytearray | memoryview) -> bool:
        """``holds`` for a whole blob (serialise.py's format): its pickle stream, not its buffers."""
        whole = _as_bytes(data)
        # Most results name no path at all: two substring searches settle them (one per task at a cell's end).
        if not any(n in whole for n in self._needles) and b"pathlib" not in whole:
            return False
        return self.holds(pickle_stream(whole))

    def file_holds(self, path: str) -> bool:
        """``blob_holds`` for a blob file, reading its header and pickle stream only."""
        if not self._needles:
            return False
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + _LEN_SIZE)
            if head[: len(MAGIC)] != MAGIC or len(head) < len(MAGIC) + _LEN_SIZE:
                return False
            (header_len,) = struct.unpack_from(_LEN, head, len(MAGIC))
            header = f.read(header_len)
            pickle_len = _pickle_len(header)
            if pickle_len is None:
                return False
            return self.holds(f.read(pickle_len))


def _as_bytes(payload: bytes | bytearray | memoryview) -> bytes | bytearray:
    """The bytes to search, without copying a view of a whole bytes object (the pickler's
    output, as the checkpointer hands it over): a large in-band pickle is not copied."""
    if isinstance(payload, (bytes, bytearray)):
        return payload
    whole = payload.obj
    if isinstance(whole, (bytes, bytearray)) and payload.contiguous and payload.nbytes == len(whole):
        return whole
    return bytes(payload)


def pickle_stream(data: bytes | bytearray | memoryview) -> memoryview:
    """The pickle bytes of a blob (serialise.py's format); empty for anything else."""
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC or len(view) < len(MAGIC) + _LEN_SIZE:
        return view[:0]
    (header_len,) = struct.unpack_from(_LEN, view, len(MAGIC))
    start = len(MAGIC) + _LEN_SIZE
    pickle_len = _pickle_len(bytes(view[start : start + header_len]))
    if pickle_len is None:
        return view[:0]
    return view[start + header_len : start + header_len + pickle_len]


# Up to this size a pickle holding pathlib objects is walked op by op (exact); above, matched
# with a pattern (quick, and blind to a path whose last folder part the pickler had met before).
_WALK_MAX = 1 << 20
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_MARK_CONSUMERS = {"APPENDS", "SETITEMS", "LIST", "DICT", "FROZENSET", "ADDITEMS", "OBJ", "INST", "POP_MARK"}


def _pickled_part_tuples(data: bytes | bytearray) -> list[str]:
    """Every tuple of strings in the stream, joined as pathlib joins its parts: the string a
    PurePath was pickled as under Python 3.11/3.12 (its class, then a tuple of its parts).
    Memo references are resolved: pathlib interns parts, so a part met before is a BINGET."""
    memo: dict[int, Any] = {}
    marks: list[list[Any]] = []
    last: Any = None
    out: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in _STRING_OPS:
                last = arg
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = last
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                last = memo.get(int(arg))
            else:
                last = None
            if name == "MARK":
                marks.append([])
            elif name in _STRING_OPS or name in ("BINGET", "LONG_BINGET", "GET"):
                if marks:
                    marks[-1].append(last)
            elif name == "TUPLE" and marks:
                items = marks.pop()
                if items and all(isinstance(i, str) for i in items) and items[0].startswith("/"):
                    out.append(items[0] + "/".join(items[1:]))
            elif name in _MARK_CONSUMERS and marks:
                marks.pop()
            elif name not in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT", "FRAME") and marks:
                marks[-1].append(None)  # not a string: this tuple is no path's parts
    except Exception:  # noqa: BLE001 - a stream pickletools cannot walk: nothing found
        return out
    return out


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _pickle_len(header: bytes) -> int | None:
    m = re.search(rb'"pickle_len":(\d+)', header)
    return int(m.group(1)) if m else None


def _parts_pattern(folder: str) -> re.Pattern[bytes]:
    """The folder's parts as pathlib pickles them, consecutive in the stream: each a short
    string (opcode 0x8c, one length byte) or, when the pickler had met that string before
    (pathlib interns parts), a reference to its memo (BINGET 'h' + 1 byte, LONG_BINGET 'j' + 4).
    The last part must be spelled out: memo references alone would match too much."""
    parts = ["/", *[p for p in folder.split("/") if p]]
    pieces: list[bytes] = []
    for i, part in enumerate(parts):
        raw = part.encode("utf-8", "surrogateescape")
        literal = (rb"\x8c" + re.escape(bytes([len(raw)])) + re.escape(raw)) if len(raw) < 256 else re.escape(raw)
        literal += rb"\x94?"
        pieces.append(literal if i == len(parts) - 1 else rb"(?:" + literal + rb"|h.|j....)")
    return re.compile(b"".join(pieces), re.DOTALL)


scan = FolderScan()
