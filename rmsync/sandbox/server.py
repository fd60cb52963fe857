"""The sandbox tenant as an HTTP server: a real socket on the host it is given.

Owns: the listening socket, reading requests and writing responses, OAuth tokens, and the
gateway rules every route shares (Bearer auth, rate limit, the experimental header), in
that order. Must not: implement any operation itself (handlers.py does).
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rmsync.ratelimit import Limit, RateLimiter, retry_after
from rmsync.sandbox import handlers
from rmsync.sandbox.faults import Fault, bad_request, not_found
from rmsync.sandbox.http import EXPERIMENTAL, Request, Response, split_version
from rmsync.sandbox.seed import Seed, load_seed
from rmsync.sandbox.state import Clock, Schedule, Tenant

Log = Callable[[str], None]


class Sandbox:
    """A local ISC tenant serving the role-mining API; `with Sandbox() as sb: sb.base_url`."""

    def __init__(
        self,
        seed: Seed | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        token_lifetime: int = 749,
        rate_limit: Limit | None = Limit(),  # noqa: B008 (frozen value)
        schedule: Schedule = Schedule(),  # noqa: B008 (frozen value)
        log: Log | None = None,
        id_seed: int | None = None,
    ) -> None:
        self.tenant = Tenant(seed or load_seed(), clock, token_lifetime, schedule, id_seed)
        self.limiter = RateLimiter(rate_limit)
        self.log = log
        server_class = _V6Server if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="rmsync-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- request handling (called on server threads) -----

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            with self.tenant.lock:
                if url.path == "/oauth/token":
                    return self._token(method, query, headers, body)
                return self._api(method, url.path, query, headers, body)
        except Fault as fault:
            return Response(fault.status, fault.body(), headers=fault.headers)
        except Exception:
            if self.log:
                self.log(traceback.format_exc())
            return Response(500, Fault(500, "An internal fault occurred.").body())

    def _api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        split = split_version(path)
        if split is None:
            raise not_found("resource", path)
        version, route = split
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        client = self.tenant.client_for(token.strip() if scheme.lower() == "bearer" else None)
        wait = self.limiter.admit((client, version), self.tenant.clock())
        if wait is not None:
            raise Fault(429, "Rate Limit Exceeded", {"Retry-After": retry_after(wait)})
        if (
            version in EXPERIMENTAL
            and headers.get("x-sailpoint-experimental", "").lower() != "true"
        ):
            raise bad_request(
                f"This API ({version}) is experimental: "
                "send the header X-SailPoint-Experimental: true"
            )
        handler, params = handlers.resolve(method, route)
        return handler(self.tenant, Request(method, version, route, params, query, body))

    def _token(
        self, method: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        if method != "POST":
            raise Fault(405, "Use POST for /oauth/token", {"Allow": "POST"})
        form = dict(query)
        if "application/x-www-form-urlencoded" in headers.get(
            "content-type", ""
        ) or not headers.get("content-type"):
            form.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        basic = _basic(headers.get("authorization", ""))
        client_id = form.get("client_id") or basic[0]
        secret = form.get("client_secret") or basic[1]
        if form.get("grant_type") != "client_credentials":
            return Response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Use grant_type=client_credentials",
                },
            )
        try:
            token = self.tenant.issue_token(client_id, secret)
        except Fault:
            return Response(
                401, {"error": "invalid_client", "error_description": "Bad credentials"}
            )
        return Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.tenant.token_lifetime,
                "scope": "sp:scopes:all",
                "tenant_id": self.tenant.tenant_id,
                "org": self.tenant.name,
                "jti": token[:16],
            },
        )


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: _Server
    server_version = "rmsync-sandbox"
    sys_version = ""

    def _serve(self) -> None:
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.sandbox.handle(self.command, self.path, headers, body)
        payload = response.payload()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log = self.server.sandbox.log
        if log:  # the path only: a query string may carry a client secret
            log(f"{self.command} {urlsplit(self.path).path} {code}")

    def log_message(self, format: str, *args: Any) -> None:
        pass
