"""The ISC client against the real sandbox: versions, tokens, rate limits, retries, errors."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from rmsync.api import (
    MAX_RETRY_AFTER,
    STOP_CHECK,
    TIMEOUT,
    ApiError,
    Client,
    UnknownStatusJob,
    check_base_url,
    failure_reason,
)
from rmsync.models import ApiVersion, Credentials, ExportParams, Status
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Limit, Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import FakeClock, token
from tests.proxy import Answer, Proxy, Reply, running
from tests.run import rmsync
from tests.spec import PREFIX, Operation, spec

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


class Recorder:
    """The sandbox's request log, kept for assertions."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)


class Collect:
    """A download sink that keeps the bytes of the latest attempt and counts the attempts."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.lengths: list[int | None] = []

    def restart(self, length: int | None) -> None:
        self.data.clear()
        self.lengths.append(length)

    def write(self, chunk: bytes) -> None:
        self.data += chunk


def sleeper(clock: FakeClock, slept: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    return sleep


@pytest.mark.parametrize("version", list(ApiVersion))
def test_reads_roles_and_runs_exports_on_every_version(
    sandbox: Sandbox, clock: FakeClock, version: ApiVersion
) -> None:
    with Client(sandbox.base_url, CREDS, version, clock=clock) as client:
        role = client.role(ACCOUNTING)
        assert role is not None
        assert (role.name, role.session_id, role.identity_count, role.entitlement_count) == (
            "Accounting core",
            FINANCE,
            6,
            9,
        )
        assert client.role("00000000-0000-4000-8000-000000000000") is None
        job = client.start_export(FINANCE, ACCOUNTING, ExportParams(10, False))
        assert (job.status, job.params) == (Status.QUEUED, ExportParams(10, False))
        clock.advance(2)
        status = client.export_status(FINANCE, ACCOUNTING, job.export_id)
        assert status is not None and status.status is Status.SUCCESS
        assert status.params == ExportParams(10, False)
        assert (
            client.export_status(FINANCE, ACCOUNTING, "00000000-0000-4000-8000-000000000000")
            is None
        )


def test_one_token_reused_then_refreshed_before_expiry(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    log = Recorder()
    sandbox = make_sandbox(token_lifetime=120, log=log)
    with Client(sandbox.base_url, CREDS, clock=clock) as client:
        for _ in range(5):
            client.role(ACCOUNTING)
        assert log.count("POST /oauth/token 200") == 1
        clock.advance(95)
        client.role(ACCOUNTING)
        assert log.count("POST /oauth/token 200") == 1
        clock.advance(2)  # past 80% of its lifetime: refreshed before the tenant refuses it
        client.role(ACCOUNTING)
    assert log.count("POST /oauth/token 200") == 2
    assert log.count(" 401") == 0


def test_a_short_token_lifetime_is_not_one_token_request_per_call(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    log = Recorder()
    sandbox = make_sandbox(token_lifetime=30, log=log)  # under the old fixed 60 s margin
    with Client(sandbox.base_url, CREDS, clock=clock) as client:
        for _ in range(5):
            client.role(ACCOUNTING)
        clock.advance(23)
        client.role(ACCOUNTING)
        assert log.count("POST /oauth/token 200") == 1
        clock.advance(2)  # 25 s: past 80% of 30
        client.role(ACCOUNTING)
    assert log.count("POST /oauth/token 200") == 2
    assert log.count(" 401") == 0


def test_a_static_access_token_refused_mid_run_says_so(sandbox: Sandbox, clock: FakeClock) -> None:
    secret = token(sandbox.base_url)
    with Client(sandbox.base_url, Credentials(access_token=secret), clock=clock) as client:
        assert client.role(ACCOUNTING) is not None
        clock.advance(800)  # the sandbox's tokens live 749 s
        with pytest.raises(ApiError) as caught:
            client.role(ACCOUNTING)
    message = str(caught.value)
    assert message.startswith("SAIL_ACCESS_TOKEN was refused (401): it may have expired; ")
    assert "\n" not in message and secret not in message
    assert caught.value.status == 401


def test_access_token_from_the_environment_is_used_as_is(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    with Client(
        sandbox.base_url, Credentials(access_token=token(sandbox.base_url)), clock=clock
    ) as client:
        assert client.role(ACCOUNTING) is not None


def test_429_is_retried_after_retry_after(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    log = Recorder()
    sandbox = make_sandbox(rate_limit=Limit(3, 10.0), log=log)
    slept: list[float] = []
    with Client(
        sandbox.base_url, CREDS, clock=clock, sleep=sleeper(clock, slept), limit=None
    ) as client:
        roles = [client.role(ACCOUNTING) for _ in range(5)]
    assert all(r is not None for r in roles)
    assert log.count(" 429") == 1
    assert slept == [10.0]


def once(status: int, headers: dict[str, str]) -> Callable[[str, str], Answer | None]:
    """An answer for the first GET of the role: `status` with `headers`; then the tenant."""
    sent: list[str] = []

    def answer(method: str, path: str) -> Answer | None:
        if method != "GET" or "potential-roles" not in path or sent:
            return None
        sent.append(path)
        return (
            status,
            b'{"message": "slow down"}',
            {"Content-Type": "application/json", **headers},
        )

    return answer


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "60"}, 60.0),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
            30.0,
        ),
        ({"Retry-After": "Sat, 01 Jan 2000 00:00:00 GMT"}, 0.0),  # in the past: now
    ],
)
def test_retry_after_in_seconds_or_as_a_date_is_honoured(
    sandbox: Sandbox, clock: FakeClock, headers: dict[str, str], waited: float
) -> None:
    slept: list[float] = []
    with (
        running(Proxy(sandbox.base_url, answer=once(429, headers))) as proxy,
        Client(proxy.base_url, CREDS, clock=clock, sleep=sleeper(clock, slept)) as client,
    ):
        assert client.role(ACCOUNTING) is not None
    assert slept == [waited]


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "soon", "", "1e999", "Caturday, 99 Foo"])
def test_an_invalid_retry_after_falls_back_to_backoff(
    sandbox: Sandbox, clock: FakeClock, value: str
) -> None:
    slept: list[float] = []
    with (
        running(Proxy(sandbox.base_url, answer=once(503, {"Retry-After": value}))) as proxy,
        Client(proxy.base_url, CREDS, clock=clock, sleep=sleeper(clock, slept)) as client,
    ):
        assert client.role(ACCOUNTING) is not None
    assert len(slept) == 1 and 0.25 <= slept[0] <= 0.5


@pytest.mark.parametrize("value", ["3600", "61", "Wed, 21 Oct 2015 08:28:00 GMT"])
def test_a_retry_after_over_the_ceiling_fails_at_once(
    sandbox: Sandbox, clock: FakeClock, value: str
) -> None:
    slept: list[float] = []
    headers = {"Retry-After": value, "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    with (
        running(Proxy(sandbox.base_url, answer=once(429, headers))) as proxy,
        Client(proxy.base_url, CREDS, clock=clock, sleep=sleeper(clock, slept)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.role(ACCOUNTING)
    assert slept == []
    assert caught.value.status == 429
    assert str(caught.value).startswith(
        f"GET /beta/role-mining-potential-roles/{ACCOUNTING} answered 429 and asked to wait "
    )
    assert f"longer than rmsync waits ({MAX_RETRY_AFTER:g} s); try again later" in str(caught.value)


def test_client_keeps_under_the_rate_limit_by_itself(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    log = Recorder()
    sandbox = make_sandbox(rate_limit=Limit(3, 10.0), log=log)
    slept: list[float] = []
    sleep = sleeper(clock, slept)
    with Client(sandbox.base_url, CREDS, clock=clock, sleep=sleep, limit=Limit(3, 10.0)) as client:
        for _ in range(7):
            client.role(ACCOUNTING)
    assert log.count(" 429") == 0
    assert log.count("GET /beta/role-mining-potential-roles") == 7
    assert slept == [10.0, 10.0]


def test_concurrent_live_read_gets_every_role_and_export(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    with Client(sandbox.base_url, CREDS, ApiVersion.V2026, clock=clock) as client:
        job = client.start_export(FINANCE, ACCOUNTING, ExportParams())
        missing = "00000000-0000-4000-8000-000000000000"
        live = client.live(
            [ACCOUNTING, missing, ACCOUNTING], [(FINANCE, ACCOUNTING, job.export_id)]
        )
    assert set(live.roles) == {ACCOUNTING, missing}
    assert live.roles[missing] is None
    assert live.exports[job.export_id] is not None


def test_refused_credentials_never_echo_the_secret(sandbox: Sandbox) -> None:
    with (
        Client(sandbox.base_url, Credentials(DEFAULT_CLIENT_ID, "wrong-secret-123")) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.role(ACCOUNTING)
    assert "check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET" in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value)
    assert "wrong-secret-123" not in repr(Credentials(DEFAULT_CLIENT_ID, "wrong-secret-123"))


def test_tenant_errors_carry_the_message_and_tracking_id(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    with Client(sandbox.base_url, CREDS, clock=clock) as client, pytest.raises(ApiError) as caught:
        client.start_export(FINANCE, ACCOUNTING, ExportParams(101, True))
    error = caught.value
    assert error.status == 400
    assert error.tracking_id and f"(trackingId {error.tracking_id})" in str(error)
    assert "minEntitlementPopularity must be from 0 to 100" in str(error)


def test_unreachable_tenant_is_a_clear_error(clock: FakeClock) -> None:
    slept: list[float] = []
    with (
        Client("http://127.0.0.1:9", CREDS, clock=clock, sleep=sleeper(clock, slept)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.role(ACCOUNTING)
    assert str(caught.value) == ("cannot reach http://127.0.0.1:9 for a token: connection refused")


def test_unreachable_tenant_with_a_token_names_the_reason(clock: FakeClock) -> None:
    slept: list[float] = []
    secret = "static-token-that-must-not-show"
    creds = Credentials(access_token=secret)
    with (
        Client("http://127.0.0.1:9", creds, clock=clock, sleep=sleeper(clock, slept)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.role(ACCOUNTING)
    assert str(caught.value) == (
        f"GET /beta/role-mining-potential-roles/{ACCOUNTING}: "
        "cannot reach http://127.0.0.1:9: connection refused"
    )
    assert len(slept) == 5  # refused connections are retried with backoff


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "name not resolved"),
        (ssl.SSLCertVerificationError(1, "x"), "TLS certificate not trusted"),
        (ConnectionResetError(104, "Connection reset by peer"), "connection reset"),
        (OSError(113, "No route to host"), "no route to host"),
        (ValueError("who knows"), "network failure"),
    ],
)
def test_a_transport_failure_is_named_by_its_cause(cause: Exception, reason: str) -> None:
    try:
        try:
            raise cause
        except Exception as inner:
            raise httpx.ConnectError("[Errno 1] wrapped: Bearer secret-123") from inner
    except httpx.ConnectError as exc:
        assert failure_reason(exc, TIMEOUT) == reason


def test_timeouts_are_named_with_their_length() -> None:
    timeout = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
    assert failure_reason(httpx.ReadTimeout("timed out"), timeout) == (
        "no answer within 60 s (timed out)"
    )
    assert failure_reason(httpx.ConnectTimeout("timed out"), timeout) == (
        "no connection within 10 s (timed out)"
    )
    assert TIMEOUT.connect == 10.0 and TIMEOUT.read == 60.0


def test_a_tenant_that_never_answers_fails_fast(sandbox: Sandbox, clock: FakeClock) -> None:
    """A server that accepts and never answers: the read timeout ends each try (whatever the
    machine's load, no answer ever comes), and a timed-out request is sent twice, not six
    times. A static token: no token request needs to beat the tiny timeout."""
    slept: list[float] = []
    creds = Credentials(access_token="a-token")
    with (
        running(Proxy(sandbox.base_url, answer=lambda m, p: Reply(hang=True))) as proxy,
        Client(
            proxy.base_url, creds, clock=clock, sleep=sleeper(clock, slept),
            timeout=httpx.Timeout(5.0, read=0.05),
        ) as client,
        pytest.raises(ApiError) as caught,
    ):  # fmt: skip
        client.role(ACCOUNTING)
    assert str(caught.value) == (
        f"GET /beta/role-mining-potential-roles/{ACCOUNTING}: "
        f"cannot reach {proxy.base_url}: no answer within 0.05 s (timed out)"
    )
    assert len(proxy.requests("GET", "potential-roles")) == 2  # asked once more, not six times
    assert len(slept) == 1


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://acme.api.identitynow.com", True),
        ("https://acme.api.identitynow.com/", True),
        ("http://127.0.0.1:8787", True),
        ("http://localhost:8787", True),
        ("http://acme.api.identitynow.com", False),
        ("https://acme.api.identitynow.com/beta", False),
        ("acme.api.identitynow.com", False),
    ],
)
def test_base_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert check_base_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ApiError):
            check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:hunter2pw@127.0.0.1:18499",
        "https://hunter2pw@acme.api.identitynow.com",
        "https://u:hunter2pw@[bad",
        "https://u:1234/hunter2pw@acme.api.identitynow.com",
        "https://acme.api.identitynow.com?token=hunter2pw",
        "https://acme.api.identitynow.com/#hunter2pw",
        "http://127.0.0.1:18600/x/hunter2pw",
        "not a url hunter2pw",
    ],
)
def test_a_base_url_with_a_password_is_refused_without_showing_it(url: str, tmp_path: Path) -> None:
    with pytest.raises(ApiError) as refused:
        check_base_url(url)
    assert "hunter2pw" not in str(refused.value)
    env = {"SAIL_BASE_URL": url, "SAIL_CLIENT_ID": "id", "SAIL_CLIENT_SECRET": "secret"}
    (tmp_path / "rmsync.yaml").write_text("version: 1\nexports: {}\n")
    ran = rmsync("plan", cwd=tmp_path, env=dict(os.environ) | env)
    assert ran.code == 1 and ran.err.startswith("Error: ")
    assert "hunter2pw" not in ran.out + ran.err


def _admits(accept: str, media: str) -> float:
    """The q-value `accept` gives `media` (0: not acceptable), per RFC 9110 media ranges."""
    best = 0.0
    kind = media.split("/")[0]
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        rng, params = fields[0].lower(), dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if rng in (media, f"{kind}/*", "*/*"):
            best = max(best, float(params.get("q", "1")))
    return best


def _operation(version: str, method: str, url: str) -> Operation:
    path = url.split("?")[0]
    for op in spec(version).operations():
        parts = re.split(r"\{\w+\}", PREFIX[version] + op.path)
        pattern = "[^/]+".join(re.escape(part) for part in parts)
        if op.method == method and re.fullmatch(pattern, path):
            return op
    raise AssertionError(f"{method} {path} is no operation of the {version} spec")


@pytest.mark.parametrize("version", list(ApiVersion))
def test_every_request_accepts_what_its_operation_declares_first(
    make_sandbox: Callable[..., Sandbox], version: ApiVersion
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    with running(Proxy(sandbox.base_url)) as proxy, Client(proxy.base_url, CREDS, version) as c:
        c.session_roles(FINANCE)
        c.role(ACCOUNTING)
        job = c.start_export(FINANCE, ACCOUNTING, ExportParams())
        c.export_status(FINANCE, ACCOUNTING, job.export_id)
        c.download(FINANCE, ACCOUNTING, job.export_id, Collect())
    calls = [s for s in proxy.seen if s.path != "/oauth/token"]
    assert len(calls) == 6
    for seen in calls:
        op = _operation(version.value, seen.method, seen.path)
        declared = {
            media
            for status, response in op.raw["responses"].items()
            if status.startswith("2")
            for media in response.get("content", {})
        }
        accept = seen.headers.get("Accept", seen.headers.get("accept", ""))
        assert declared, op.id
        success = max(_admits(accept, m) for m in declared)
        assert success == 1.0, f"{op.id}: Accept {accept!r} does not prefer {declared}"
        errors = _admits(accept, "application/json")  # the spec's error bodies are JSON
        assert errors > 0, f"{op.id}: Accept {accept!r} refuses the JSON error bodies"
        assert accept != "*/*", op.id


def test_an_unknown_export_status_is_that_export_s_problem(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    odd: list[str] = []

    def cancel(method: str, path: str, answer: Answer) -> Answer:
        if method != "GET" or not odd or not path.endswith(odd[0]):
            return answer
        body = {**json.loads(answer[1]), "status": "CANCELLED\nby an admin"}
        return (200, json.dumps(body).encode(), answer[2])

    with (
        running(Proxy(sandbox.base_url, reply=cancel)) as proxy,
        Client(proxy.base_url, CREDS, clock=clock) as client,
    ):
        first = client.start_export(FINANCE, ACCOUNTING, ExportParams())
        second = client.start_export(FINANCE, ACCOUNTING, ExportParams(5, False))
        odd.append(first.export_id)
        exports = [(FINANCE, ACCOUNTING, first.export_id), (FINANCE, ACCOUNTING, second.export_id)]
        live = client.live([ACCOUNTING], exports)
    job = live.exports[first.export_id]
    assert isinstance(job, UnknownStatusJob)
    assert (job.status, job.reported) == (Status.ERROR, "CANCELLED\nby an admin")
    assert (
        job.detail
        == "the tenant reported status 'CANCELLED\\nby an admin', which rmsync does not know"
    )
    assert job.params == ExportParams()
    other = live.exports[second.export_id]
    assert other is not None and not isinstance(other, UnknownStatusJob)
    assert (other.status, other.params) == (Status.QUEUED, ExportParams(5, False))


# -- downloads redirected to storage ---------------------------------------------------------

SIGNED = "/bucket/a.zip?X-Amz-Signature=sig-secret-42"


def to(location: str, status: int = 302) -> Callable[[str, str, Answer], Answer]:
    """A tenant that answers each download with a redirect to `location`."""

    def redirect(method: str, path: str, answer: Answer) -> Answer:
        if not path.endswith("/download"):
            return answer
        return (status, b"", {"Location": location})

    return redirect


def storage(body: bytes, status: int = 200) -> Proxy:
    return Proxy(
        "http://127.0.0.1:9",
        answer=lambda m, p: (status, body, {"Content-Type": "application/zip"}),
    )


def download_through(tenant: Proxy, version: ApiVersion = ApiVersion.BETA) -> tuple[Collect, str]:
    """Start an export of Accounting core through `tenant` and download it into a Collect."""
    sink = Collect()
    with Client(tenant.base_url, CREDS, version) as client:
        job = client.start_export(FINANCE, ACCOUNTING, ExportParams())
        kind = client.download(FINANCE, ACCOUNTING, job.export_id, sink)
    return sink, kind


def test_a_download_redirected_to_storage_sends_it_no_credentials(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    archive = b"PK\x05\x06" + bytes(18)
    with (
        running(storage(archive)) as store,
        running(Proxy(sandbox.base_url, reply=to(store.base_url + SIGNED, 307))) as tenant,
    ):
        sink, kind = download_through(tenant, ApiVersion.V2026)
    assert (bytes(sink.data), kind, sink.lengths) == (archive, "application/zip", [len(archive)])
    [seen] = store.seen
    assert seen.path == SIGNED
    assert seen.header("Authorization") is None
    assert seen.header("X-SailPoint-Experimental") is None
    bearer = tenant.requests("GET", "/download")[0].header("Authorization")
    assert bearer is not None and bearer.startswith("Bearer ")
    assert not [v for v in seen.headers.values() if bearer.split()[1] in v]


def test_a_redirect_within_the_tenant_keeps_the_token(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))

    def once_more(method: str, path: str, answer: Answer) -> Answer:
        if not path.endswith("/download"):
            return answer
        return (302, b"", {"Location": path + "?copy=1"})

    with running(Proxy(sandbox.base_url, reply=once_more)) as tenant:
        sink, _ = download_through(tenant)
    first, second = tenant.requests("GET", "/download")
    assert second.path == first.path + "?copy=1"
    assert second.header("Authorization") == first.header("Authorization")
    assert bytes(sink.data).startswith(b"PK")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (
            "http://example.com/a.zip?sig=sig-secret-42",
            "http://example.com, which is neither https nor this machine",
        ),
        ("ftp://127.0.0.1/a.zip", "ftp://127.0.0.1, which is neither https nor this machine"),
        ("file:///etc/passwd", "file://, which is neither https nor this machine"),
    ],
)
def test_a_download_is_never_redirected_to_plain_http_elsewhere(
    make_sandbox: Callable[..., Sandbox], location: str, message: str
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    with (
        running(Proxy(sandbox.base_url, reply=to(location))) as tenant,
        pytest.raises(ApiError) as caught,
    ):
        download_through(tenant)
    assert f"the download was redirected to {message}; refused" in str(caught.value)
    assert "sig-secret" not in str(caught.value)


def test_redirects_are_followed_five_times_at_most(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    loop = Proxy("http://127.0.0.1:9")
    loop.answer = lambda m, p: (302, b"", {"Location": loop.base_url + SIGNED})
    with (
        running(loop),
        running(Proxy(sandbox.base_url, reply=to(loop.base_url + SIGNED))) as tenant,
        pytest.raises(ApiError) as caught,
    ):
        download_through(tenant)
    assert "redirected more than 5 times" in str(caught.value)
    assert len(loop.seen) == 5  # five redirects followed: the sixth is refused
    assert "sig-secret" not in str(caught.value)


def test_a_storage_failure_names_the_origin_and_never_the_signed_url(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    with (
        running(storage(b"<Error>AccessDenied</Error>", 403)) as store,
        running(Proxy(sandbox.base_url, reply=to(store.base_url + SIGNED))) as tenant,
        pytest.raises(ApiError) as caught,
    ):
        download_through(tenant)
    assert str(caught.value).endswith(
        f"/download: the download's redirect to {store.base_url} answered 403"
    )
    assert "sig-secret" not in str(caught.value)


def test_the_tenant_s_error_text_is_shown_on_one_line_and_never_acts(sandbox: Sandbox) -> None:
    evil = 'bad\n\x1b[2JNo changes.\r"'
    body = json.dumps({"messages": [{"text": evil}], "trackingId": "t\n1"}).encode()

    def refuse(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        refused = method == "POST" and path.endswith("/export-async")
        return (400, body, {"Content-Type": "application/json"}) if refused else None

    with (
        running(Proxy(sandbox.base_url, answer=refuse)) as proxy,
        Client(proxy.base_url, CREDS) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.start_export(FINANCE, ACCOUNTING, ExportParams())
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message and "\r" not in message
    assert 'bad\\n\\x1b[2JNo changes.\\r"' in message and "(trackingId t\\n1)" in message


def test_counts_below_zero_and_lone_surrogates_are_read_as_they_can_be_stored() -> None:
    from rmsync.api import _role

    role = _role(
        {
            "name": "a\ud800b",
            "identityCount": -1,
            "entitlementCount": -5,
            "excludedEntitlements": ["\udfff"],
        },
        "r",
    )
    assert (role.name, role.identity_count, role.entitlement_count) == ("a\ufffdb", 0, 0)
    assert role.excluded_entitlements == ("\ufffd",)


def test_a_request_that_never_left_says_so() -> None:
    with Client("http://127.0.0.1:9", CREDS) as client, pytest.raises(ApiError) as caught:
        client.role(ACCOUNTING)
    assert caught.value.sent is False


def test_a_403_says_what_a_token_needs(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(faults={"faults": [], "read_only_clients": [DEFAULT_CLIENT_ID]})
    with (
        Client(sandbox.base_url, Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.start_export(FINANCE, ACCOUNTING, ExportParams())
    assert caught.value.status == 403
    assert str(caught.value).endswith(
        "; the token may not do this: starting an export needs the scope "
        "iai:access-modeling:manage, reading iai:access-modeling:read, and its owner the user "
        "level ORG_ADMIN, ROLE_ADMIN or ROLE_SUBADMIN"
    )


# -- stopping: what is not sent when a signal waits (Ctrl-C in a round of starts) -----------


def stopper(clock: FakeClock, slept: list[float]) -> tuple[Callable[[float], None], list[bool]]:
    """A sleep that presses Ctrl-C the first time anything waits, and the flag it sets."""
    stopped = [False]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        stopped[0] = True
        clock.advance(seconds)

    return sleep, stopped


def test_starts_waiting_for_the_rate_limit_are_not_sent_once_stopping(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    slept: list[float] = []
    sleep, stopped = stopper(clock, slept)
    wanted = [(FINANCE, ACCOUNTING, ExportParams(min_entitlement_popularity=n)) for n in range(6)]
    with Client(
        sandbox.base_url, CREDS, clock=clock, sleep=sleep, limit=Limit(2, 60.0)
    ) as client:  # two starts; the other four wait a minute for the limit
        answers = client.start_exports(wanted, stop=lambda: stopped[0])
    started = [a for a in answers if not isinstance(a, ApiError)]
    unsent = [a for a in answers if isinstance(a, ApiError)]
    assert len(started) == 2 and len(unsent) == 4
    assert all(not a.sent and "not sent: rmsync is stopping" in str(a) for a in unsent)
    assert max(slept) <= STOP_CHECK  # a look every tenth of a second, not a minute's sleep


def test_a_start_told_to_retry_later_is_not_sent_again_once_stopping(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    def busy(method: str, path: str) -> Answer | None:
        if method == "POST" and path.endswith("/export-async"):
            return 429, b'{"message": "slow down"}', {"Retry-After": "30"}
        return None

    slept: list[float] = []
    sleep, stopped = stopper(clock, slept)
    with (
        running(Proxy(sandbox.base_url, answer=busy)) as proxy,
        Client(proxy.base_url, CREDS, clock=clock, sleep=sleep, limit=None) as client,
    ):
        (answer,) = client.start_exports(
            [(FINANCE, ACCOUNTING, ExportParams())], stop=lambda: stopped[0]
        )
    assert isinstance(answer, ApiError) and not answer.sent
    assert len(proxy.requests("POST", "/export-async")) == 1  # asked once, never again
    assert max(slept) <= STOP_CHECK  # the 30 s Retry-After was not sat out
