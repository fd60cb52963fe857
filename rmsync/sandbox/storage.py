"""A second origin for archives: where a fault redirects downloads, as a tenant's object store.

Owns: a tiny HTTP server on another port of the sandbox's host that serves the archives it
is handed, each at an unguessable path, and records every request it gets, with its
Authorization header (it must never get one: a client that follows a redirect to another
origin must not take its token along). Must not: know about tenants, tokens or faults.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from rmsync.sandbox.faults import not_found
from rmsync.sandbox.http import Response
from rmsync.sandbox.transport import Log, Server


@dataclass(frozen=True)
class StorageRequest:
    method: str
    path: str
    authorization: str | None  # the header as received; None when there was none


class Storage:
    """Serves archives at `base_url/archives/<key>/<name>`; started at once, stop() ends it."""

    def __init__(self, host: str, log: Log | None) -> None:
        self._archives: dict[str, bytes] = {}
        self._requests: list[StorageRequest] = []
        self._lock = threading.Lock()
        shown = None if log is None else (lambda line: log(f"storage: {line}"))
        self._server = Server((host, 0), self.handle, shown)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.002,), name="rmsync-storage", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def put(self, data: bytes, name: str) -> str:
        """Keep `data`; return the URL it is served at."""
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._archives[f"/archives/{key}/{name}"] = data
        return f"{self.base_url}/archives/{key}/{name}"

    def requests(self) -> list[StorageRequest]:
        with self._lock:
            return list(self._requests)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path = target.partition("?")[0]
        with self._lock:
            self._requests.append(StorageRequest(method, path, headers.get("authorization")))
            data = self._archives.get(path) if method in ("GET", "HEAD") else None
        if data is None:
            return Response.failure(not_found("archive", path))
        return Response(200, raw=data, content_type="application/zip")

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


class LazyStorage:
    """A Storage started on first use (most sandboxes never redirect), and stopped with them."""

    def __init__(self, host: str, log: Log | None) -> None:
        self._host, self._log = host, log
        self._storage: Storage | None = None
        self._lock = threading.Lock()

    def get(self) -> Storage:
        with self._lock:
            if self._storage is None:
                self._storage = Storage(self._host, self._log)
            return self._storage

    def put(self, data: bytes, name: str) -> str:
        return self.get().put(data, name)

    def requests(self) -> list[StorageRequest]:
        with self._lock:
            return [] if self._storage is None else self._storage.requests()

    def stop(self) -> None:
        with self._lock:
            if self._storage is not None:
                self._storage.stop()
                self._storage = None
