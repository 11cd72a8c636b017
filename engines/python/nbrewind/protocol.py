"""Constants and errors of the comm protocol (schemas/comm-protocol.schema.json)."""

from __future__ import annotations

COMM_TARGET = "nbrewind"
PROTOCOL_VERSION = 2
# How values are turned into digests (blob format 1, sha256 of the file).
# A bundle recorded under another scheme cannot be compared: mismatch is an error.
HASHING_SCHEME = 1


class RequestError(Exception):
    """A request the shim refuses or cannot carry out; its message is shown to the user as is."""
