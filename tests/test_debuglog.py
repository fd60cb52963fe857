"""The debug log (issue 12): every request and answer on stderr with `--debug` or
RMSYNC_LOG=debug, credentials never shown; long waits said even without it; stdout keeps
only the command's document."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmsync.api import Client
from rmsync.debuglog import REDACTED, Redacting
from rmsync.models import ApiVersion, Credentials
from rmsync.ratelimit import Limit
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from tests.builders import ACCOUNTING, tenant_env
from tests.conftest import FakeClock
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rmsync.yaml").write_text(
        (ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text()
    )
    return tmp_path


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--debug", "plan", "--json"), {}),
        (("plan", "--json", "--debug"), {}),  # after the command too, where people put it
        (("plan", "--json"), {"RMSYNC_LOG": "debug"}),
    ],
)
def test_every_request_is_logged_on_stderr_and_no_credential_is(
    sandbox: Sandbox, project: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    base = tenant_env(sandbox.base_url)
    quiet = rmsync("plan", "--json", cwd=project, env=base)
    ran = rmsync(*args, cwd=project, env=base | env)
    assert ran.code == 0, ran.err
    assert ran.out == quiet.out  # the document alone on stdout, as without the log
    lines = ran.err.splitlines()
    assert lines and all(line.startswith("rmsync: ") for line in lines)
    assert lines[0].startswith("rmsync: POST /oauth/token → 200 (")
    assert f"rmsync: GET /v2025/role-mining-potential-roles/{ACCOUNTING} → 200 (" in ran.err
    assert sum(" → 200 (" in line for line in lines) >= 6  # a token, 5 roles, access reads
    for secret in (DEFAULT_CLIENT_SECRET, "Bearer", "access_token", "eyJ"):
        assert secret not in ran.err


def test_without_debug_nothing_is_logged(sandbox: Sandbox, project: Path) -> None:
    ran = rmsync("plan", cwd=project, env=tenant_env(sandbox.base_url))
    assert (ran.code, ran.err) == (0, "")


def test_every_line_is_scrubbed_of_secrets_and_token_shapes() -> None:
    scrub = Redacting(["hunter2-secret", "abc"]).scrub  # too short to trust: not a secret
    said = scrub(
        "secret hunter2-secret; Authorization: Bearer tok.en-1; access_token=xyz&b=1; "
        '{"client_secret": "s3"}; jwt eyJhbGciOi.eyJzdWIiOiIx.sig-nature; abc stays'
    )
    assert said == (
        f"secret {REDACTED}; Authorization: Bearer {REDACTED}; access_token={REDACTED}&b=1; "
        f'{{"client_secret": "{REDACTED}"}}; jwt {REDACTED}; abc stays'
    )


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    found: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record)

    logger, handler = logging.getLogger("rmsync.http"), Keep()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield found
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_long_rate_limit_wait_is_said_once_not_in_silence(
    sandbox: Sandbox, records: list[logging.LogRecord]
) -> None:
    clock = FakeClock()
    with Client(
        sandbox.base_url,
        Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        ApiVersion.V2025,
        clock=clock,
        sleep=clock.advance,  # time is faked: the wait passes at once
        limit=Limit(2, 10.0),
    ) as client:
        for _ in range(3):
            assert client.role(ACCOUNTING) is not None
    loud = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert loud == [
        "waiting 10.0 s for the rate limit (2 requests per 10 s per client id and API version)"
    ]
