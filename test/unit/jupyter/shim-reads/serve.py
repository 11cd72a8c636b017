"""The shim's comm handler (the kernel's ``Session``) behind stdin/stdout, one JSON message a
line, for shim-reads.test.ts: the real handler and file observer, without a Jupyter kernel.
A message ``{"type": "_run", "code": ...}`` runs a cell's body in the user namespace."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "engines", "python"))

from nbrewind.comm_handler import Session  # noqa: E402
from nbrewind.namespace_watch import Namespace  # noqa: E402

user_ns: dict[str, object] = {}
session = Session(Namespace(user_ns, {}))
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("type") == "_run":
        exec(msg["code"], user_ns)  # noqa: S102 - the test's own cell bodies
        continue
    sys.stdout.write(json.dumps(session.handle(msg)) + "\n")
    sys.stdout.flush()
