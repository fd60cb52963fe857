"""A real HTTP server between rmsync and the sandbox: it records every request, and tests can
make it answer in the tenant's place (a 404, say), hold a response back until they let go, or
misbehave on the wire: cut a body short, stream it in chunks, or never answer at all.

With an `answer` that always answers, a Proxy is a second origin of its own (a "storage"
server for redirected downloads, say) that records the headers it was sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Answer = tuple[int, bytes, dict[str, str]]


@dataclass(frozen=True)
class Reply:
    """An answer and how it goes on the wire: `send` bytes of the body only and then the
    connection is closed, though Content-Length promised all of it (None: all of it);
    `chunked` streams it in chunks with no Content-Length; `hang` sends nothing at all and
    keeps the connection open until the proxy stops."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send: int | None = None
    chunked: bool = False
    hang: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Proxy:
    upstream: str
    # Answer instead of the tenant: return (status, body, headers) or a Reply, or None to forward.
    answer: Callable[[str, str], Answer | Reply | None] = lambda method, path: None
    # Called with each forwarded answer before it is sent back (it may block).
    before_reply: Callable[[str, str], None] = lambda method, path: None
    # Called with each forwarded answer: return it, another, or a Reply that misbehaves.
    reply: Callable[[str, str, Answer], Answer | Reply] = lambda method, path, answer: answer
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def requests(self, method: str, fragment: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]


def _as_reply(answer: Answer | Reply) -> Reply:
    return answer if isinstance(answer, Reply) else Reply(*answer)


def _handler(proxy: Proxy, http: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            proxy.seen.append(Seen(self.command, self.path, headers))
            answer = proxy.answer(self.command, self.path)
            if answer is None:
                answer = proxy.reply(self.command, self.path, self._forward(body, headers))
            try:
                self._write(_as_reply(answer))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up: nothing more to say

        def _forward(self, body: bytes, headers: dict[str, str]) -> Answer:
            upstream = http.request(self.command, self.path, content=body, headers=headers)
            proxy.before_reply(self.command, self.path)
            passed = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            return (upstream.status_code, upstream.content, passed)

        def _write(self, reply: Reply) -> None:
            if reply.hang:
                proxy.stopping.wait()
                self.close_connection = True
                return
            self.send_response_only(reply.status)
            if "date" not in {k.lower() for k in reply.headers}:
                self.send_header("Date", self.date_time_string())
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.chunked:
                self._chunks(reply.body)
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body[: reply.send])
            if reply.send is not None:
                self.wfile.flush()
                self.close_connection = True

        def _chunks(self, body: bytes, size: int = 65536) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), size):
                piece = body[start : start + size]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_PATCH = _relay

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running(proxy: Proxy) -> Iterator[Proxy]:
    """Serve `proxy` on 127.0.0.1 (an ephemeral port) for the block."""
    with httpx.Client(base_url=proxy.upstream, timeout=30) as http:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, http))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        proxy.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield proxy
        finally:
            proxy.stopping.set()  # let every hanging answer go
            server.shutdown()
            server.server_close()
            thread.join()
