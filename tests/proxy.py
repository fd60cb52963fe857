"""A real HTTP server between rmsync and the sandbox: it records every request, and tests can
make it answer in the tenant's place (a 404, say) or hold a response back until they let go.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Answer = tuple[int, bytes, dict[str, str]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Proxy:
    upstream: str
    # Answer instead of the tenant: return (status, body, headers), or None to forward.
    answer: Callable[[str, str], Answer | None] = lambda method, path: None
    # Called with each forwarded answer before it is sent back (it may block).
    before_reply: Callable[[str, str], None] = lambda method, path: None
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""

    def requests(self, method: str, fragment: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]


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
                upstream = http.request(self.command, self.path, content=body, headers=headers)
                proxy.before_reply(self.command, self.path)
                passed = {
                    k: v
                    for k, v in upstream.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                answer = (upstream.status_code, upstream.content, passed)
            status, payload, extra = answer
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

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
            server.shutdown()
            server.server_close()
            thread.join()
