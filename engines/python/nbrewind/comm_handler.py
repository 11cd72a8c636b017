"""One comm, one handler: every request gets exactly one ``<type>_reply``."""

from __future__ import annotations

import errno
import os
import platform
import traceback
from collections.abc import Callable
from typing import Any

from . import __version__, engine_guard
from .blob_store import DIGEST_RE, BlobError, BlobStore
from .checkpoint import Checkpointer
from .environment import describe_environment
from . import task_files
from .file_observer import observer as file_observer
from .folder_scan import scan as folder_scan
from .namespace_watch import Namespace
from .protocol import HASHING_SCHEME, PROTOCOL_VERSION, RequestError
from .tasks import runtime as task_runtime
from .tasks import pins, shared_cache
from .tasks.keys import TASK_KEY_SCHEME

Reply = dict[str, Any]

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _unexpected(base: Reply, err: BaseException) -> Reply:
    message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return {**base, "ok": False, "error": {"message": message, "traceback": traceback.format_exc()}}


class Session:
    """The state of one TypeScript client: set up by ``hello``."""

    def __init__(self, namespace: Namespace) -> None:
        self.namespace = namespace
        self.checkpointer: Checkpointer | None = None
        self.cell_id: str | None = None  # the cell running now, for pins limited to cells
        # The last full read list sent (token, list): the client may answer with its token.
        self._sent_reads: tuple[str, list[Any]] | None = None
        self._reads_sent = 0
        self._reads_nonce = os.urandom(4).hex()

    def handle(self, request: dict[str, Any]) -> Reply:
        kind = request.get("type")
        handlers: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "hello": self._hello,
            "pre_cell": self._pre_cell,
            "post_cell": self._post_cell,
            "restore": self._restore,
            "environment": self._environment,
            "tasks_known": self._tasks_known,
            "task_policy": self._task_policy,
            "task_settings": self._task_settings,
            "shutdown_engines": self._shutdown_engines,
            "observe_files": self._observe_files,
        }
        handler = handlers.get(kind) if isinstance(kind, str) else None
        reply_type = f"{kind}_reply" if isinstance(kind, str) else "error_reply"
        base: Reply = {"type": reply_type, "request_id": request.get("request_id", "")}
        try:
            if handler is None:
                raise RequestError(f"unknown request type {kind!r}")
            return {**base, "ok": True, **handler(request)}
        except BlobError as err:
            # The bundle's bytes are bad (input), not the machinery: the client says so with its exit code.
            return {**base, "ok": False, "error": {"message": str(err), "kind": "bad_blob"}}
        except RequestError as err:
            return {**base, "ok": False, "error": {"message": str(err)}}
        except OSError as err:
            if err.errno not in _DISK_ERRNOS:
                return _unexpected(base, err)
            # A full or read-only disk is the user's to fix, not a bug: the path and the errno name, no traceback.
            error = {"message": f"{os.strerror(err.errno)}: {err.filename}", "kind": "disk", "code": errno.errorcode[err.errno]}
            if err.filename is not None:
                error["path"] = str(err.filename)
            return {**base, "ok": False, "error": error}
        except BaseException as err:  # noqa: BLE001 - an interrupt or a bug must still be answered
            return _unexpected(base, err)

    def _checkpointer(self) -> Checkpointer:
        if self.checkpointer is None:
            raise RequestError("the shim has not been greeted: send hello first")
        return self.checkpointer

    def _hello(self, req: dict[str, Any]) -> Reply:
        if req.get("protocol_version") != PROTOCOL_VERSION:
            raise RequestError(
                f"protocol version mismatch: the client speaks {req.get('protocol_version')!r}, "
                f"this nbrewind shim ({__version__}) speaks {PROTOCOL_VERSION}; use the shim shipped with the client"
            )
        if req.get("hashing_scheme") != HASHING_SCHEME:
            raise RequestError(
                f"hashing scheme mismatch: the client uses {req.get('hashing_scheme')!r}, this shim computes {HASHING_SCHEME}"
            )
        blobs_dir = req.get("blobs_dir")
        if not isinstance(blobs_dir, str):
            raise RequestError("hello needs blobs_dir, an absolute path")
        store = BlobStore(blobs_dir)
        previous = self.checkpointer
        self.checkpointer = Checkpointer(self.namespace, store)
        if previous is not None and previous.store.root == blobs_dir:
            # A client that re-attaches to the same store keeps the baseline for "unchanged".
            self.checkpointer.known = previous.known
        old_tasks = task_runtime.current
        tasks = task_runtime.TaskRuntime(store)
        if old_tasks is not None and old_tasks.blobs_dir == blobs_dir:
            tasks.memo = old_tasks.memo  # same store: what the engine computed is still there
        # Engine adapters read the runtime from here: tasks are memoized from now on.
        task_runtime.current = tasks
        return {
            "shim_version": __version__,
            "protocol_version": PROTOCOL_VERSION,
            "python": platform.python_version(),
            "pid": os.getpid(),
            "task_key_scheme": TASK_KEY_SCHEME,
        }

    def _pre_cell(self, req: dict[str, Any]) -> Reply:
        cell_id = _string(req, "cell_id")
        declared = req.get("declared_reads", [])
        if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
            raise RequestError("pre_cell: declared_reads must be a list of paths or globs")
        self._checkpointer().pre_cell(cell_id)
        self.cell_id = cell_id
        _tasks().begin_cell(cell_id)
        file_observer.begin_cell(declared)
        return {}

    def _post_cell(self, req: dict[str, Any]) -> Reply:
        candidates = req.get("candidates", [])
        if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
            raise RequestError("post_cell: candidates must be a list of names")
        # The files first: what the checkpoint and the task bookkeeping open is not the cell's.
        files = file_observer.end_cell(self._checkpointer().store)
        reply = self._checkpointer().post_cell(_string(req, "cell_id"), candidates, bool(req.get("opaque", False)))
        # The cell's task graph: what its engine work hit, dispatched, could not cache, or failed.
        tasks = _tasks().end_cell()
        pins.annotate(tasks["tasks"])
        # And which engine adapters memoize: an engine outside its supported range runs unmemoized.
        return {**reply, **tasks, "adapters": engine_guard.reports(), **(self._files_reply(files, req.get("reads_held")) if files is not None else {})}

    def _files_reply(self, files: dict[str, Any], held: Any) -> dict[str, Any]:
        """The cell's files for the client. The observer gives back the very list it gave last
        time when the cell read the same files and none changed (``FileObserver._cell_read_entries``):
        a client holding that list (``reads_held``) gets its token instead of 10,000 entries again."""
        read = files["read"]
        sent = self._sent_reads
        if sent is not None and read is sent[1] and held == sent[0]:
            return {"files": {"read_as": sent[0], **{k: v for k, v in files.items() if k != "read"}}}
        self._reads_sent += 1
        token = f"{os.getpid()}-{self._reads_nonce}-{self._reads_sent}"
        self._sent_reads = (token, read)
        return {"files": files, "reads_token": token}

    def _task_settings(self, req: dict[str, Any]) -> Reply:
        """nbrewind.yaml's pins (cell selectors resolved to cell ids by the client) and the
        task caches to consult after the bundle, in order."""
        rules = req.get("pins", [])
        caches = req.get("caches", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) and isinstance(r.get("function"), str) and isinstance(r.get("version"), str) for r in rules):
            raise RequestError("task_settings: pins must be a list of {function, version[, cells, selector]}")
        if not isinstance(caches, list) or not all(isinstance(c, str) and os.path.isabs(c) for c in caches):
            raise RequestError("task_settings: caches must be a list of absolute paths")
        return {"pins": pins.configure(rules, lambda: self.cell_id), "caches": shared_cache.configure(caches)}

    def _observe_files(self, req: dict[str, Any]) -> Reply:
        notebook_dir = _string(req, "notebook_dir")
        exclude = req.get("exclude", [])
        ignore = req.get("ignore", [])
        limit = req.get("blob_limit")
        if not (isinstance(exclude, list) and all(isinstance(e, str) for e in exclude)):
            raise RequestError("observe_files: exclude must be a list of folders")
        if not (isinstance(ignore, list) and all(isinstance(e, str) for e in ignore)):
            raise RequestError("observe_files: ignore must be a list of globs")
        if limit is not None and not (isinstance(limit, int) and limit >= 0):
            raise RequestError("observe_files: blob_limit must be a number of bytes")
        if not os.path.isabs(notebook_dir):
            raise RequestError("observe_files: notebook_dir must be an absolute path")
        seeds = req.get("seed_digests", {})
        if not (isinstance(seeds, dict) and all(isinstance(v, dict) and isinstance(v.get("stamp"), str) and isinstance(v.get("sha256"), str) for v in seeds.values())):
            raise RequestError("observe_files: seed_digests must map recorded names to {stamp, sha256}")
        file_observer.configure(notebook_dir, exclude, ignore, limit)
        file_observer.seed_digests(seeds)
        folder_scan.configure(notebook_dir)
        return {}

    def _tasks_known(self, req: dict[str, Any]) -> Reply:
        if req.get("task_key_scheme") != TASK_KEY_SCHEME:
            raise RequestError(
                f"task key scheme mismatch: the bundle's task keys were computed under scheme {req.get('task_key_scheme')!r}, "
                f"this shim computes scheme {TASK_KEY_SCHEME}"
            )
        entries = req.get("entries")
        if not isinstance(entries, list):
            raise RequestError("tasks_known: entries must be a list of {key, cell_id, occurrence, digest, size[, files]}")
        parsed: list[tuple[str, str | None, int, task_runtime.Stored]] = []
        files_by_key: dict[str, dict[str, Any]] = {}
        holding: set[str] = set()
        for i, e in enumerate(entries):
            if not (isinstance(e, dict) and isinstance(e.get("key"), str) and isinstance(e.get("digest"), str) and DIGEST_RE.match(e["digest"]) and isinstance(e.get("size"), int)):
                raise RequestError(f"tasks_known: entries[{i}] must be {{key, cell_id, occurrence, digest (sha256 hex), size[, blobs][, pack]}}")
            if not (isinstance(e.get("cell_id"), str) and isinstance(e.get("occurrence"), int) and e["occurrence"] >= 0):
                raise RequestError(f"tasks_known: entries[{i}] needs cell_id (the submitting cell) and occurrence (an integer >= 0)")
            blobs = e.get("blobs", [])
            if not (isinstance(blobs, list) and all(isinstance(b, str) and DIGEST_RE.match(b) for b in blobs)):
                raise RequestError(f"tasks_known: entries[{i}].blobs must be a list of sha256 hex digests")
            pack = e.get("pack")
            if pack is not None and not (isinstance(pack, dict) and isinstance(pack.get("digest"), str) and DIGEST_RE.match(pack["digest"]) and isinstance(pack.get("offset"), int) and pack["offset"] >= 0):
                raise RequestError(f"tasks_known: entries[{i}].pack must be {{digest (sha256 hex), offset}}")
            stored = task_runtime.Stored(e["digest"], e["size"], tuple(blobs), (pack["digest"], pack["offset"]) if pack else None)
            parsed.append((e["key"], e["cell_id"], e["occurrence"], stored))
            if isinstance(e.get("files"), dict):
                files_by_key[e["key"]] = e["files"]
            if e.get("holds_path") is True:
                holding.add(e["digest"])
        self._checkpointer()  # greeted first: the memo belongs to the session's store
        task_files.load_known(files_by_key)  # served only while the files they read hold
        _tasks().path_holding.update(holding)  # a hit on one is recorded as holding the folder's path too
        return {"count": _tasks().load_known(parsed)}

    def _task_policy(self, req: dict[str, Any]) -> Reply:
        store = req.get("store")
        if store not in ("cost", "all"):
            raise RequestError(f"task_policy: store must be \"cost\" or \"all\", got {store!r}")
        self._checkpointer()
        _tasks().store_mode = store
        return {}

    def _shutdown_engines(self, _req: dict[str, Any]) -> Reply:
        # Before the kernel goes: a cluster closed by its own client leaves no orphan workers.
        return {"closed": task_runtime.shutdown_engines()}

    def _restore(self, req: dict[str, Any]) -> Reply:
        values = req.get("values")
        if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            raise RequestError("restore: values must map names to digests")
        return self._checkpointer().restore(values)

    def _environment(self, _req: dict[str, Any]) -> Reply:
        return describe_environment()


def _tasks() -> task_runtime.TaskRuntime:
    if task_runtime.current is None:
        raise RequestError("the shim has not been greeted: send hello first")
    return task_runtime.current


def _string(req: dict[str, Any], key: str) -> str:
    value = req.get(key)
    if not isinstance(value, str):
        raise RequestError(f"{req.get('type')}: {key} must be a string")
    return value
