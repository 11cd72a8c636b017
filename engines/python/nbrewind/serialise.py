"""Blob format 1: a value as cloudpickle (protocol 5) with out-of-band buffers.

    b"NBRWBLOB1\\n"
    <u64 LE header length H> <H bytes UTF-8 JSON header>
    <pickle bytes> <buffer 0> <buffer 1> ...

The header is ``{"format":"cloudpickle-p5","pickle_len":N,"buffers":[len,...],"type":"mod.Qual"}``.
Large arrays travel as PickleBuffers: their memory is hashed and written as is,
never copied into one big bytes object, and on load they become views into the
one buffer the file was read into.
"""

from __future__ import annotations

import json
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle

MAGIC = b"NBRWBLOB1\n"
FORMAT = "cloudpickle-p5"
# A format string, not a struct.Struct: this module also travels by value to engine
# workers (tasks/shipping.py), and a Struct object cannot be pickled.
_LEN = "<Q"
_LEN_SIZE = struct.calcsize(_LEN)


def type_name(value: Any) -> str:
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


@dataclass
class Serialised:
    """A value's blob as a list of views; their concatenation is the file."""

    pieces: list[memoryview]
    type: str

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.pieces)


def serialise(value: Any, dumps: Callable[..., bytes] = cloudpickle.dumps) -> Serialised:
    """Pickle ``value``; raises whatever pickling raises (the caller calls that unserialisable).

    ``dumps`` is cloudpickle's, or one with the same signature that refuses some
    values on the way (the checkpointer's refuses engine-bound ones).
    """
    t = type(value)
    if t in _SCALARS and dumps is cloudpickle.dumps:
        # The same bytes as cloudpickle's (it pickles these as the standard pickler does),
        # without setting up its pickler: most of an empty task's result cost.
        kind = _SCALARS[t]
        payload = pickle.dumps(value, protocol=5)
        header = f'{{"format":"{FORMAT}","pickle_len":{len(payload)},"buffers":[],"type":"{kind}"}}'.encode()
        return Serialised(pieces=[memoryview(MAGIC + struct.pack(_LEN, len(header)) + header), memoryview(payload)], type=kind)
    buffers: list[pickle.PickleBuffer] = []
    payload = dumps(value, protocol=5, buffer_callback=buffers.append)
    # raw() is a flat byte view of the exporter's memory (C- or Fortran-contiguous):
    # no copy. Keep the PickleBuffers' views only; the value keeps the memory alive.
    raws = [memoryview(b.raw()) for b in buffers]
    kind = type_name(value)
    header = json.dumps(
        {"format": FORMAT, "pickle_len": len(payload), "buffers": [len(r) for r in raws], "type": kind},
        separators=(",", ":"),
    ).encode("utf-8")
    pieces = [memoryview(MAGIC + struct.pack(_LEN, len(header)) + header), memoryview(payload), *raws]
    return Serialised(pieces=pieces, type=kind)


# Types whose pickle holds no buffer and no reference to code: pickled by the standard
# pickler, with the header written out directly (type names need no JSON escaping).
_SCALARS = {t: f"{t.__module__}.{t.__qualname__}" for t in (int, float, complex, bool, str, bytes, type(None))}


def deserialise(data: bytearray, where: str) -> Any:
    """Load a value from a whole blob file's bytes; ``where`` names it in errors."""
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ValueError(f"{where}: not an nbrewind blob (bad magic)")
    (header_len,) = struct.unpack_from(_LEN, view, len(MAGIC))
    start = len(MAGIC) + _LEN_SIZE
    header = json.loads(bytes(view[start : start + header_len]).decode("utf-8"))
    if header.get("format") != FORMAT:
        raise ValueError(f"{where}: unknown blob format {header.get('format')!r}")
    offset = start + header_len
    pickle_len = int(header["pickle_len"])
    payload = view[offset : offset + pickle_len]
    offset += pickle_len
    buffers: list[memoryview] = []
    for length in header["buffers"]:
        buffers.append(view[offset : offset + int(length)])
        offset += int(length)
    if offset != len(view):
        raise ValueError(f"{where}: blob length {len(view)} does not match its header ({offset})")
    # cloudpickle's output is plain pickle that refers to cloudpickle's helpers.
    return pickle.loads(payload, buffers=buffers)
