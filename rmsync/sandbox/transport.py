"""The sandbox's HTTP/1.1 transport: the listening socket and a thread per client connection.

Owns: reading each request off its connection (method, target, headers, body), writing the
answer back (headers alone for HEAD), the request log line, ISC's JSON error body for what
http.server would answer with an HTML page (a malformed request, a bad body length), one
line rather than a traceback for anything unexpected (nothing when the client hung up),
closing every connection on stop, and the broken answers a fault plan asks for (no answer,
a reset, a body cut short). Must not: decide any answer itself (the app it serves does).
"""

from __future__ import annotations

import re
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rmsync.sandbox.faults import Fault
from rmsync.sandbox.http import Response

App = Callable[[str, str, dict[str, str], bytes], Response]  # method, target, headers, body
Log = Callable[[str], None]
# A client that resets, aborts or stalls its connection: not the sandbox's fault, not worth a
# word (ConnectionResetError, BrokenPipeError and ConnectionAbortedError are ConnectionErrors).
_HUNG_UP = (ConnectionError, TimeoutError)
_MAX_BODY = 10 * 1024 * 1024
_STOP_WAIT = 5.0  # seconds stop() waits for a connection's thread to finish its request


class Server(ThreadingHTTPServer):
    """Serves `app` on `address`; `log` gets a line per request (stderr has the errors if none)."""

    daemon_threads = True  # an idle keep-alive client never holds up the interpreter's exit

    def __init__(self, address: tuple[str, int], app: App, log: Log | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app, self.log = app, log
        self._open: set[socket.socket] = set()
        self._idle = threading.Condition()
        super().__init__(address, _Handler)  # binds; on failure it closes, then raises OSError

    def report(self, line: str) -> None:
        """One line about something unexpected: on the log, or stderr if there is none (or it
        fails too)."""
        try:
            (self.log or _stderr)(line)
        except Exception:
            _stderr(line)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, _HUNG_UP):
            peer = f"{client_address[0]}:{client_address[1]}"
            self.report(f"internal error serving {peer}: {describe(error)}")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._idle:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._idle:
            self._open.discard(request)
            self._idle.notify_all()

    def server_close(self) -> None:
        """Stop listening, close every client connection, and wait (a few seconds at most) for
        their threads: nothing the server says comes after this returns."""
        super().server_close()
        with self._idle:
            for conn in self._open:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # a thread awaiting a request reads EOF
            self._idle.wait_for(lambda: not self._open, timeout=_STOP_WAIT)


def describe(error: BaseException) -> str:
    """`KeyError: 'x' (at views.py:12 in role)`: an unexpected error and where, on one line."""
    text = str(error).splitlines()[0] if str(error) else ""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})"
    return f"{type(error).__name__}: {text}{where if frames else ''}"


def _stderr(line: str) -> None:
    with suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: Server
    server_version = "rmsync-sandbox"
    sys_version = ""

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server looks for `do_<METHOD>` and answers 501 with an HTML page when there is
        # none. Every method, known or not, goes to the app instead: it answers 405 or 404 in
        # ISC's JSON, and HEAD as GET.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        try:
            body = self._body()
        except Fault as fault:  # the body's framing is unknown: answer, then close
            self.close_connection = True
            self._send(Response.failure(fault, Connection="close"))
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():  # a repeated header is one comma-separated list
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self._send(self.server.app(self.command, self.path, headers, body))

    def _send(self, response: Response) -> None:
        if response.drop is not None:
            self._drop(response.drop)
            return
        payload = response.payload()
        length = len(payload) if response.cut is None else max(len(payload), 1)
        self.send_response(response.status)
        if response.status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(length))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.cut is not None:  # a body cut short: less than its length says, then close
            payload = payload[: min(response.cut, length - 1)]
            self.close_connection = True
        if self.command != "HEAD":  # a HEAD answer has GET's headers, Content-Length too, alone
            self.wfile.write(payload)

    def _drop(self, how: str) -> None:
        """No answer: close the connection (the client reads EOF), or reset it (RST)."""
        self.close_connection = True
        self.log_request(f"dropped ({how})")
        if how == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while size := _size(self.rfile.readline().split(b";")[0], 16, "chunk size"):
                total += size
                if total > _MAX_BODY:
                    raise _too_large()
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass
            return b"".join(chunks)
        length = self.headers.get("Content-Length", "").encode("latin-1", "replace")
        return self.rfile.read(_size(length, 10, "Content-Length"))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, a header too long, HTTP/2) in
        ISC's JSON shape rather than its HTML page; the connection closes after them."""
        if self.request_version == self.default_request_version:
            # Too malformed to tell its version: still a status line and headers, since
            # HTTP/0.9's bare body is only for a well-formed `GET /path`.
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        fault = Fault(code, message or HTTPStatus(code).phrase)
        self._send(Response.failure(fault, Connection="close"))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log:  # the path only: a query string may carry a client secret
            self.server.log(f"{self.command or '-'} {_path(getattr(self, 'path', ''))} {code}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _size(text: bytes, base: int, what: str) -> int:
    """A Content-Length (base 10) or chunk size (base 16); empty is 0; 400 or 413 if bad."""
    digits = text.strip().decode("latin-1")
    if not re.fullmatch("[0-9]{0,30}" if base == 10 else "[0-9A-Fa-f]{0,30}", digits):
        raise Fault(400, f"The request's {what} {digits!r} is not a number of bytes")
    size = int(digits or "0", base)
    if size > _MAX_BODY:
        raise _too_large()
    return size


def _too_large() -> Fault:
    return Fault(413, f"The request body is larger than {_MAX_BODY // 1024 // 1024} MiB")


def _path(target: str) -> str:
    try:
        return urlsplit(target).path or "-"
    except ValueError:
        return target.partition("?")[0] or "-"
