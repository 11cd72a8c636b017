"""The kernel's side of the content-addressed blob store.

Layout (shared with the TypeScript store): ``<root>/sha256/<2 hex>/<62 hex>``,
the file's sha256 is its name. Files are written to ``<root>/tmp/`` and then
``os.replace``d into place, so a reader never sees a partial blob and a crash
leaves at worst a stray temp file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mmap
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .protocol import RequestError

# Large single write()/readinto() calls are much slower on Linux than a loop of
# a few MiB each (measured: 50 MB in one write 120 ms, in 4 MiB pieces 10 ms).
IO_CHUNK = 4 << 20
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobError(RequestError):
    """A blob that is missing or does not hash to its name: the bundle is bad input."""


def _chunks(pieces: Iterable[memoryview]) -> Iterable[memoryview]:
    for piece in pieces:
        for start in range(0, len(piece), IO_CHUNK):
            yield piece[start : start + IO_CHUNK]


def _write_file(path: str, pieces: list[memoryview]) -> None:
    """Write the blob durably: the TS side records the digest as soon as we answer,
    and an OS crash must not leave a name with no bytes behind it."""
    if _O_DIRECT:
        try:
            _write_direct(path, pieces)
            return
        except OSError as err:
            # tmpfs and some network filesystems refuse O_DIRECT, at open or at write.
            if err.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
    _write_buffered(path, pieces)


# O_DIRECT bypasses the page cache. Measured on a 2-core VM, 50 MB: buffered
# write + fdatasync 45-120 ms (fresh page-cache pages are slow to fault in, and
# dirty-page throttling), direct 35 ms. Direct I/O needs aligned memory, offsets
# and lengths, so pieces are copied through one page-aligned bounce buffer
# (4 MiB, reused: a memcpy from memory that is already hot costs ~1 ms per chunk).
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_ALIGN = 4096


class _BounceBuffer:
    """The page-aligned buffer of O_DIRECT writes, allocated on first use, one writer at a time.

    It pickles as an empty holder: shipping the task runners to engine workers by
    value (tasks/shipping.py) pickles this module's functions and the globals they
    read, this one included, and an ``mmap`` cannot be pickled. A worker that ever
    writes direct allocates its own.
    """

    __slots__ = ("_map", "lock")

    def __init__(self) -> None:
        self._map: mmap.mmap | None = None
        self.lock = threading.Lock()

    def view(self) -> memoryview:
        if self._map is None:
            self._map = mmap.mmap(-1, IO_CHUNK)
        return memoryview(self._map)

    def __reduce__(self) -> tuple[type[_BounceBuffer], tuple[()]]:
        return (_BounceBuffer, ())


_bounce = _BounceBuffer()


def _write_direct(path: str, pieces: list[memoryview]) -> None:
    with _bounce.lock:
        _write_direct_locked(path, pieces, _bounce.view())


def _write_direct_locked(path: str, pieces: list[memoryview], bounce: memoryview) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | _O_DIRECT)
    try:
        total = 0
        fill = 0

        def flush(length: int) -> None:
            view = bounce[: (length + _ALIGN - 1) // _ALIGN * _ALIGN]  # the tail is padded, then cut off
            while len(view):
                view = view[os.write(fd, view) :]

        for piece in pieces:
            piece = piece.cast("B") if piece.format != "B" or piece.ndim != 1 else piece
            offset = 0
            while offset < len(piece):
                n = min(IO_CHUNK - fill, len(piece) - offset)
                bounce[fill : fill + n] = piece[offset : offset + n]
                fill += n
                offset += n
                total += n
                if fill == IO_CHUNK:
                    flush(fill)
                    fill = 0
        if fill:
            flush(fill)
        os.ftruncate(fd, total)
        os.fdatasync(fd)
    finally:
        os.close(fd)
        bounce.release()


def _write_buffered(path: str, pieces: list[memoryview]) -> None:
    with open(path, "wb", buffering=0) as f:
        for chunk in _chunks(pieces):
            view = chunk
            while len(view):
                view = view[f.write(view) :]
        os.fdatasync(f.fileno())
        # Read back in a later run, if ever: give the page-cache pages back now.
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


@contextlib.contextmanager
def discarded_on_failure(tmp: str) -> Iterator[None]:
    """A staging file that the block fails to finish is removed: a failed write leaves no trace."""
    try:
        yield
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def publish(tmp: str, final: str) -> None:
    """Move a finished staging file to its name, readable by all (mkstemp makes 0600; the store is shared)."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, final)


def copy_hashing(src: Any, dst: Any) -> tuple[str, int]:
    """Stream ``src`` into ``dst``; the sha256 and size of what was copied."""
    h = hashlib.sha256()
    size = 0
    while chunk := src.read(IO_CHUNK):
        h.update(chunk)
        size += len(chunk)
        view = memoryview(chunk)
        while len(view):
            view = view[dst.write(view) :]
    return h.hexdigest(), size


def digest_of(pieces: Iterable[memoryview]) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(pieces):
        h.update(chunk)
    return h.hexdigest()


class BlobStore:
    def __init__(self, root: str) -> None:
        if not os.path.isabs(root):
            raise RequestError(f"blobs_dir must be an absolute path, got {root!r}")
        self.root = root

    def path_for(self, digest: str) -> str:
        # The digest becomes a path: anything but 64 lowercase hex could escape the store.
        if not DIGEST_RE.match(digest):
            raise BlobError(f"not a sha256 digest: {digest!r}")
        return os.path.join(self.root, "sha256", digest[:2], digest[2:])

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path_for(digest))

    def write(self, digest: str, pieces: list[memoryview]) -> bool:
        """Store the concatenation of ``pieces`` (whose sha256 is ``digest``).

        Returns False when the blob was there already (content-addressed: same name, same bytes).
        """
        final = self.path_for(digest)
        if os.path.exists(final):
            # A concurrent gc keeps unreferenced blobs younger than its grace period:
            # touching the blob we are about to reference keeps it alive until our
            # record names it. A read-only store (a mounted bundle) has nothing to collect.
            try:
                os.utime(final)
            except OSError:
                pass
            return False
        tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=digest[:16] + ".")
        os.close(fd)
        with discarded_on_failure(tmp):
            _write_file(tmp, pieces)
            publish(tmp, final)
        return True

    def store_file(self, path: str) -> tuple[str, int]:
        """Copy a file into the store as a raw blob named by the sha256 of its bytes, streamed
        (the copy is what is hashed, so a file changing meanwhile cannot give a wrong name)."""
        tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="file.")
        with discarded_on_failure(tmp):
            with open(path, "rb", buffering=0) as src, os.fdopen(fd, "wb", buffering=0) as dst:
                digest, size = copy_hashing(src, dst)
                os.fdatasync(dst.fileno())
            final = self.path_for(digest)
            if os.path.exists(final):
                os.unlink(tmp)
            else:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                publish(tmp, final)
        return digest, size

    def read_slice_verified(self, pack: str, offset: int, size: int, digest: str, name: str) -> bytearray:
        """``size`` bytes at ``offset`` of blob ``pack`` (a pack of small task results),
        checked against their own sha256 ``digest``: a slice is content-addressed too."""
        if not DIGEST_RE.match(digest):
            raise BlobError(f"the digest given for `{name}` is not a sha256 hex digest: {digest!r}")
        path = self.path_for(pack)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobError(f"blob {pack} (holding `{name}`) is missing: {path}") from None
        try:
            data = bytearray(os.pread(fd, size, offset))
        finally:
            os.close(fd)
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise BlobError(f"blob {pack} is corrupt: `{name}` at offset {offset} does not hash to {digest}: {path}")
        return data

    def read_verified(self, digest: str, name: str) -> bytearray:
        """The whole blob in one mutable buffer, checked against its name.

        One bytearray, so unpickled arrays can be zero-copy, writable views into it.
        """
        if not DIGEST_RE.match(digest):
            raise BlobError(f"the digest given for `{name}` is not a sha256 hex digest: {digest!r}")
        path = self.path_for(digest)
        try:
            f = open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise BlobError(f"blob {digest} for `{name}` is missing: {path}") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            data = bytearray(size)
            view = memoryview(data)
            offset = 0
            h = hashlib.sha256()
            while offset < size:
                n = f.readinto(view[offset : offset + IO_CHUNK])
                if not n:
                    break
                h.update(view[offset : offset + n])  # while the chunk is still in cache
                offset += n
        if offset != size or h.hexdigest() != digest:
            raise BlobError(f"blob {digest} for `{name}` is corrupt (sha256 mismatch): {path}")
        return data
