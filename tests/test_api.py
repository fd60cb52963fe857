"""The ISC client against the real sandbox: versions, tokens, rate limits, retries, errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from rmsync.api import ApiError, Client, check_base_url
from rmsync.models import ApiVersion, Credentials, ExportParams, Status
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Limit, Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE
from tests.conftest import FakeClock, token
from tests.proxy import Proxy, running
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
        clock.advance(59)
        client.role(ACCOUNTING)
        assert log.count("POST /oauth/token 200") == 1
        clock.advance(2)  # within a minute of expiry: refreshed before the tenant refuses it
        client.role(ACCOUNTING)
    assert log.count("POST /oauth/token 200") == 2
    assert log.count(" 401") == 0


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
        pytest.raises(ApiError, match="cannot reach http://127.0.0.1:9"),
    ):
        client.role(ACCOUNTING)


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
        c.download(FINANCE, ACCOUNTING, job.export_id, lambda _: None)
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
