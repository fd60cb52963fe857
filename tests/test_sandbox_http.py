"""The sandbox as an HTTP/1.1 server: every method, Accept negotiation, dropped connections.

Raw sockets where the bytes on the wire are the point (HEAD has no body, a reset is an RST).
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from urllib.parse import quote, urlencode

import httpx
import pytest

from rmsync.sandbox import Sandbox, handlers
from rmsync.sandbox.http import VERSIONS, split_version
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import TLS, FakeClock, api_client, token
from tests.spec import PREFIX, spec

ROLE = f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}"
SESSION = f"/beta/role-mining-sessions/{FINANCE}"
RMSYNC = [sys.executable, "-m", "rmsync"]

Raw = tuple[int, dict[str, str], bytes]


def _address(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _exchange(base_url: str, request: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection (10 s at most)."""
    with socket.create_connection(_address(base_url), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> Raw:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _request(sandbox: Sandbox, method: str, path: str, **headers: str) -> Raw:
    lines = [f"{method} {path} HTTP/1.1", "Host: sandbox", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return _parse(_exchange(sandbox.base_url, ("\r\n".join(lines) + "\r\n\r\n").encode()))


def _isc_error(status: int, body: bytes) -> str:
    """The text of an ISC error body, after checking its shape."""
    parsed = json.loads(body)
    assert set(parsed) == {"detailCode", "trackingId", "messages", "causes"}
    assert parsed["detailCode"].startswith(str(status))
    text: str = parsed["messages"][0]["text"]
    return text


def _download(api: httpx.Client, clock: FakeClock, version: str = "beta") -> str:
    """The download URL, in `version`'s form, of a finished export of the Accounting role."""
    ids = {"sessionId": FINANCE, "potentialRoleId": ACCOUNTING}
    start = spec(version).operation("exportRoleMiningPotentialRoleAsync").url(**ids)
    started = api.post(start, json={})
    assert started.status_code == 202, started.text
    clock.advance(60)
    download = spec(version).operation("downloadRoleMiningPotentialRoleZip")
    return download.url(exportId=started.json()["exportId"], **ids)


# -- methods -----


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/beta/role-mining-sessions", 200),
        (f"{ROLE}/export", 200),
        ("/beta/role-mining-sessions/00000000-0000-4000-8000-000000000000", 404),
        ("/beta/role-mining-nothing", 404),
    ],
)
def test_head_answers_exactly_as_get_but_without_a_body(
    sandbox: Sandbox, path: str, status: int
) -> None:
    bearer = f"Bearer {token(sandbox.base_url)}"
    got, get_headers, get_body = _request(sandbox, "GET", path, Authorization=bearer)
    head, head_headers, head_body = _request(sandbox, "HEAD", path, Authorization=bearer)
    assert got == head == status
    assert head_body == b""
    assert len(get_body) == int(get_headers["content-length"]) > 0
    del get_headers["date"], head_headers["date"]
    assert head_headers == get_headers


def test_head_without_a_token_is_the_401_headers_alone(sandbox: Sandbox) -> None:
    status, headers, body = _request(sandbox, "HEAD", "/beta/role-mining-sessions")
    assert (status, headers["content-type"], body) == (401, "application/json", b"")
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "TRACE", "CONNECT", "BREW"])
def test_a_method_a_route_lacks_is_405_in_isc_json_with_allow(
    api: httpx.Client, method: str
) -> None:
    response = api.request(method, SESSION)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, PATCH"
    assert method in _isc_error(405, response.content)


def test_head_on_a_route_without_get_is_405_headers_only(sandbox: Sandbox) -> None:
    bearer = f"Bearer {token(sandbox.base_url)}"
    status, headers, body = _request(sandbox, "HEAD", f"{ROLE}/export-async", Authorization=bearer)
    assert (status, headers["allow"], body) == (405, "OPTIONS, POST", b"")
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["BREW", "OPTIONS", "HEAD", "PUT"])
def test_any_method_on_an_unknown_path_is_404_json(api: httpx.Client, method: str) -> None:
    response = api.request(method, "/beta/role-mining-nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    if method != "HEAD":
        assert "role-mining-nothing" in _isc_error(404, response.content)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (SESSION, "GET, HEAD, OPTIONS, PATCH"),
        ("/beta/role-mining-sessions", "GET, HEAD, OPTIONS, POST"),
        (f"{ROLE}/export-async", "OPTIONS, POST"),
        (f"/role-mining-sessions/v1/{FINANCE}", "GET, HEAD, OPTIONS, PATCH"),
        ("/oauth/token", "OPTIONS, POST"),
    ],
)
def test_options_is_204_with_allow_and_needs_no_token(
    sandbox: Sandbox, path: str, allow: str
) -> None:
    status, headers, body = _request(sandbox, "OPTIONS", path)
    assert (status, headers["allow"], body) == (204, allow, b"")
    assert "content-length" not in headers


def test_the_token_endpoint_refuses_other_methods_with_allow(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.base_url}/oauth/token")
    assert (response.status_code, response.headers["Allow"]) == (405, "OPTIONS, POST")
    assert "POST" in _isc_error(405, response.content)


def test_every_method_gets_its_request_log_line(make_sandbox: Callable[..., Sandbox]) -> None:
    lines: list[str] = []
    sandbox = make_sandbox(log=lines.append)
    bearer = f"Bearer {token(sandbox.base_url)}"
    for method in ("HEAD", "OPTIONS", "BREW"):
        _request(sandbox, method, f"{SESSION}?secret=x", Authorization=bearer)
    assert lines == [
        "POST /oauth/token 200",
        f"HEAD {SESSION} 200",
        f"OPTIONS {SESSION} 204",
        f"BREW {SESSION} 405",
    ]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET / HTTP/x\r\n\r\n", 400),
        (b"not a request line at all\r\n\r\n", 400),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
        (b"POST /oauth/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"GET http://[broken/beta HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
    ],
    ids=["version-2", "bad-version", "bad-line", "length-nan", "length-negative", "length-huge",
         "bad-chunk", "bad-target"],
)  # fmt: skip
def test_malformed_requests_are_isc_json_and_quiet(
    make_sandbox: Callable[..., Sandbox],
    capfd: pytest.CaptureFixture[str],
    request_bytes: bytes,
    status: int,
) -> None:
    lines: list[str] = []
    sandbox = make_sandbox(log=lines.append)
    got, headers, body = _parse(_exchange(sandbox.base_url, request_bytes))
    assert (got, headers["content-type"]) == (status, "application/json")
    assert _isc_error(status, body)
    sandbox.stop()
    assert [line.rsplit(" ", 1)[-1] for line in lines] == [str(status)]
    assert capfd.readouterr().err == ""


# -- Accept negotiation -----


def _declared(version: str) -> dict[tuple[str, str], set[str]]:
    """(method, version-free path) → the media types the spec gives its 2xx responses."""
    declared = {}
    for op in spec(version).operations():
        split = split_version(PREFIX[version] + op.path)
        assert split is not None, op.path
        media: set[str] = set()
        for status in ("200", "201", "202"):
            if status in op.raw["responses"]:
                media |= set(spec(version).response(op, int(status))[1].get("content", {}))
        declared[(op.method, split[1])] = media
    return declared


@pytest.mark.parametrize("version", VERSIONS)
def test_the_route_table_produces_what_the_spec_declares(version: str) -> None:
    table = {(route.method, route.path): {route.produces} for route in handlers.ROUTES}
    assert table == _declared(version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json", 406),
        ("application/zip", 200),
        ("application/zip, application/json;q=0.5", 200),
    ],
)
def test_download_answers_the_zip_only_to_an_accept_that_admits_it(
    sandbox: Sandbox, clock: FakeClock, version: str, accept: str, status: int
) -> None:
    with api_client(sandbox.base_url, version) as api:
        url = _download(api, clock, version)
        response = api.get(url, headers={"Accept": accept})
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["content-type"] == "application/zip"
        assert response.content.startswith(b"PK")
    else:
        assert response.headers["content-type"] == "application/json"
        assert "application/zip" in _isc_error(406, response.content)


ZIP_CASES = [
    (None, True),
    ("", True),
    ("*/*", True),
    ("application/*", True),
    ("APPLICATION/ZIP", True),
    ("application/json;q=0.5, application/zip", True),
    ("text/plain, */*;q=0.1", True),
    ("application/*;q=0, application/zip;q=0.1", True),
    ('application/zip;name="a,b;c"', True),
    ("*", True),
    ("application/json", False),
    ("application/json, text/*;q=0.9", False),
    ("application/zip;q=0", False),
    ("application/zip;q=0.000", False),
    ("application/zip;q=0, */*", False),
    ("*/*;q=0", False),
    ("application/*;q=0, */*", False),
    ("application/zip;q=2", False),
    ("application/zip;q=high", False),
    ("zip", False),
    ("*/zip", False),
]


@pytest.mark.parametrize(("accept", "admitted"), ZIP_CASES)
def test_accept_ranges_wildcards_and_q_values(
    api: httpx.Client, clock: FakeClock, accept: str | None, admitted: bool
) -> None:
    url = _download(api, clock)
    headers = {"Accept": accept} if accept is not None else {}
    request = api.build_request("GET", url, headers=headers)
    if accept is None:
        del request.headers["Accept"]
    response = api.send(request)
    assert response.status_code == (200 if admitted else 406), response.text


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
        ("application/zip, application/json;q=0.5", 200),
        ("application/zip", 406),
        ("text/html", 406),
        ("application/json;q=0", 406),
    ],
)
def test_json_operations_negotiate_too(
    api: httpx.Client, clock: FakeClock, accept: str, status: int
) -> None:
    for path in ("/beta/role-mining-sessions", f"{ROLE}/identities"):
        assert api.get(path, headers={"Accept": accept}).status_code == status
    created = api.post("/beta/role-mining-sessions", json={}, headers={"Accept": accept})
    assert created.status_code == (201 if status == 200 else 406)


def test_the_sync_export_negotiates_and_head_does_too(api: httpx.Client) -> None:
    refused = api.get(f"{ROLE}/export", headers={"Accept": "application/json"})
    assert refused.status_code == 406
    head = api.head(f"{ROLE}/export", headers={"Accept": "application/json"})
    assert (head.status_code, head.content) == (406, b"")
    assert api.get(f"{ROLE}/export", headers={"Accept": "application/zip"}).status_code == 200


def test_errors_of_the_archive_operations_stay_json_whatever_accept(
    api: httpx.Client, sandbox: Sandbox
) -> None:
    zip_only = {"Accept": "application/zip"}
    started = api.post(f"{ROLE}/export-async", json={}).json()["exportId"]
    pending = api.get(f"{ROLE}/export-async/{started}/download", headers=zip_only)
    assert (pending.status_code, pending.headers["content-type"]) == (400, "application/json")
    assert "QUEUED" in _isc_error(400, pending.content)
    anonymous = httpx.get(f"{sandbox.base_url}{ROLE}/export", headers=zip_only)
    assert (anonymous.status_code, anonymous.headers["content-type"]) == (401, "application/json")


# -- dropped connections and unexpected errors -----


def _reset(base_url: str, request: bytes, read_first: bool) -> None:
    """Send `request`, then abort the connection with an RST (SO_LINGER 0), not a FIN."""
    conn = socket.create_connection(_address(base_url), timeout=10)
    conn.sendall(request)
    if read_first:  # the server has begun answering: it may be writing or awaiting the next one
        assert conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _authorized(base_url: str, path: str) -> bytes:
    bearer = token(base_url)
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n\r\n".encode()


@pytest.mark.parametrize("read_first", [False, True], ids=["before-reading", "mid-response"])
def test_a_client_resetting_its_connection_is_not_a_traceback(
    make_sandbox: Callable[..., Sandbox], capfd: pytest.CaptureFixture[str], read_first: bool
) -> None:
    lines: list[str] = []
    sandbox = make_sandbox(log=lines.append)
    for _ in range(5):
        _reset(sandbox.base_url, _authorized(sandbox.base_url, f"{ROLE}/export"), read_first)
    with api_client(sandbox.base_url) as api:
        assert api.get("/beta/role-mining-sessions").status_code == 200
    sandbox.stop()  # returns once every connection is closed and its thread has ended
    assert capfd.readouterr().err == ""
    assert not [line for line in lines if "error" in line]


def test_stop_closes_idle_connections(sandbox: Sandbox) -> None:
    with socket.create_connection(_address(sandbox.base_url), timeout=10) as conn:
        conn.sendall(b"OPTIONS /oauth/token HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"\r\n\r\n"):  # a 204 is its headers alone
            answer += conn.recv(1)
        assert answer.startswith(b"HTTP/1.1 204 ")
        sandbox.stop()  # the connection is idle, kept alive for a next request: stop closes it
        assert conn.recv(65536) == b""


def test_a_busy_port_is_an_os_error(sandbox: Sandbox) -> None:
    host, port = _address(sandbox.base_url)
    with pytest.raises(OSError, match="in use"):
        Sandbox(host=host, port=port)


def test_an_unexpected_error_is_one_line_and_the_server_goes_on(
    make_sandbox: Callable[..., Sandbox], capfd: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []

    def log(line: str) -> None:  # a log that fails for one request, as a full disk would
        if line.startswith("GET /boom"):
            raise OSError(28, "No space left on device")
        lines.append(line)

    sandbox = make_sandbox(log=log)
    assert _exchange(sandbox.base_url, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    assert httpx.options(f"{sandbox.base_url}/oauth/token").status_code == 204
    sandbox.stop()
    assert capfd.readouterr().err == ""
    assert len(lines) == 2, lines
    assert lines[0].startswith("internal error serving 127.0.0.1:")
    assert "OSError: [Errno 28] No space left on device (at test_sandbox_http.py:" in lines[0]
    assert lines[1] == "OPTIONS /oauth/token 204"


def test_the_sandbox_command_stays_quiet_when_clients_reset() -> None:
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        banner = [proc.stdout.readline() for _ in range(5)]
        base_url = banner[1].strip().removeprefix("export SAIL_BASE_URL=")
        for read_first in (False, True):
            _reset(base_url, _authorized(base_url, f"{ROLE}/export"), read_first)
        with api_client(base_url) as api:
            assert api.get("/beta/role-mining-sessions").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)  # the server closes every connection before it exits
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
    assert "GET /beta/role-mining-sessions 200" in err
    assert [line for line in err.splitlines() if "error" in line.lower()] == []


@pytest.mark.parametrize("secret", ["sécret", "経理", "\udcff"])
def test_a_secret_of_any_text_is_a_401_never_a_500(sandbox: Sandbox, secret: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "rmsync-sandbox"}
    body = (urlencode(form) + "&client_secret=" + quote(secret, errors="surrogatepass")).encode()
    response = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        verify=TLS,
    )
    assert response.status_code == 401, response.text
