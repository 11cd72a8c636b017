"""Entry point loaded into a running ipykernel: ``nbrewind.kernel_shim.load()``.

The TypeScript driver runs, silently, code that puts ``engines/python`` on
``sys.path`` and calls ``load()``; the shim then answers on a comm with target
``"nbrewind"`` that the driver opens. Comm messages are handled on the shell
channel in order with execute requests, so a request sent after a cell is
answered after that cell finished.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any

from .comm_handler import Session
from .namespace_watch import Namespace
from .protocol import COMM_TARGET

_session: Session | None = None


def _comm_manager(shell: Any) -> Any:
    # ipykernel keeps its CommManager on the kernel; comm.get_comm_manager() is the
    # same object under ipykernel >= 6.22 (it patches comm), the fallback elsewhere.
    kernel = getattr(shell, "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        from comm import get_comm_manager

        manager = get_comm_manager()
    return manager


def _on_open(comm: Any, _open_msg: dict[str, Any]) -> None:
    assert _session is not None

    def on_msg(msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data", {})
        request = data if isinstance(data, dict) else {}
        if threading.current_thread() is not threading.main_thread():
            # A client that sends comm messages over a kernel subshell (JEP 91) gets
            # them handled concurrently with the running cell: a snapshot or a pickle
            # could then see a half-run cell. Refuse rather than record a wrong state.
            kind = request.get("type")
            comm.send(
                {
                    "type": f"{kind}_reply",
                    "request_id": request.get("request_id", ""),
                    "ok": False,
                    "error": {"message": "nbrewind requests must be sent on the main shell, not a kernel subshell (set commsOverSubshells to disabled)"},
                }
            )
            return
        comm.send(_session.handle(request))

    comm.on_msg(on_msg)


def load() -> None:
    """Register the comm target on the running kernel. Idempotent: a second call changes nothing."""
    global _session
    if _session is not None:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        raise RuntimeError("nbrewind.kernel_shim.load() must run inside an IPython kernel")
    _session = Session(Namespace(shell.user_ns, getattr(shell, "user_ns_hidden", None)))
    _comm_manager(shell).register_target(COMM_TARGET, _on_open)
    _install_engine_adapters()


# engines/python/nbrewind/kernel_shim.py -> engines/: the adapters ship beside the shim.
_ENGINES_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ADAPTERS = (("dask", "nbrewind_dask"), ("parsl", "nbrewind_parsl"), ("ray", "nbrewind_ray"), ("taskvine", "nbrewind_taskvine"))


def _install_engine_adapters() -> None:
    """Put each engine adapter on sys.path and let it hook its engine's import.

    The adapters never import their engine: they patch it when (if) the user does.
    """
    for folder, module in _ADAPTERS:
        path = os.path.join(_ENGINES_DIR, folder)
        if not os.path.isfile(os.path.join(path, f"{module}.py")):
            continue
        if path not in sys.path:
            sys.path.append(path)  # after the user's paths: never shadow their modules
        try:
            __import__(module).install()
        except Exception:
            traceback.print_exc()  # the engine then runs unmemoized, the kernel keeps working
