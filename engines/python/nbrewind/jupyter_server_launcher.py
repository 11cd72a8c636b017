"""Run a Jupyter Server that cannot outlive the process that started it.

nbrewind-engine starts its embedded server through this module instead of the
``jupyter-server`` script for two reasons:

* If the Node process dies without cleaning up (SIGKILL, a crash), nothing
  would stop the server and its kernels. A watcher thread notices that our
  parent changed and asks the server to stop the way SIGTERM does, which shuts
  its kernels down.
* Start-up time: see ``_skip_slow_iri_format_checker``.
* Secrets: see ``_no_browser_open_file``.
* Kernel websockets are latency-bound request/response traffic of small
  frames. Tornado leaves Nagle's algorithm on, which interacts with delayed
  ACKs and adds tens of milliseconds per round trip; we switch it off for
  every websocket the server accepts.

Usage: python -m nbrewind.jupyter_server_launcher [ServerApp options...]
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        time.sleep(0.5)


def _disable_nagle_on_kernel_websockets() -> None:
    # Tornado turns Nagle back on when it finishes the HTTP 101 response
    # (HTTP1Connection._finish_request), so the flag must be set once the
    # websocket is open, not during the upgrade.
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    original_open = KernelWebsocketHandler.open

    async def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.set_nodelay(True)
        return await original_open(self, *args, **kwargs)

    KernelWebsocketHandler.open = open  # type: ignore[method-assign]


def _skip_slow_iri_format_checker() -> None:
    # jupyter_events (imported by the server) loads jsonschema's format checkers,
    # and jsonschema imports rfc3987_syntax, if installed, for the "iri" and
    # "iri-reference" formats; that module builds dozens of Lark parsers at
    # import: measured 1.1 s of the server's 1.6 s start on a 2-core VM, paid
    # by every run, audit and repeat. No schema the server validates uses those
    # formats. A None entry in sys.modules makes the import raise ImportError,
    # which jsonschema expects (the package is optional) and answers by leaving
    # those two formats unchecked. Only this server process is affected, never
    # the kernel.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _no_browser_open_file() -> None:
    # The server writes jpserver-<pid>-open.html, a redirect page holding the
    # URL *with the token*, with the default umask (0644), for a browser we
    # never open. ServerApp.no_browser_open_file would skip it, but it is not
    # configurable from the command line; so the method does nothing here.
    from jupyter_server.serverapp import ServerApp

    ServerApp.write_browser_open_files = lambda self: None  # type: ignore[method-assign]


def main() -> None:
    _skip_slow_iri_format_checker()
    _no_browser_open_file()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="nbrewind-parent-watch").start()
    if os.environ.get("NBREWIND_TCP_NODELAY", "1") != "0":
        _disable_nagle_on_kernel_websockets()
    from jupyter_server.serverapp import ServerApp

    sys.argv[0] = "jupyter-server"
    ServerApp.launch_instance()


if __name__ == "__main__":
    main()
