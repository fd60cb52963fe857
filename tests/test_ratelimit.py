"""The sliding-window rate limiter, with explicit times."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rmsync.api import Client
from rmsync.models import ApiVersion, Credentials
from rmsync.ratelimit import Limit, RateLimiter
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from tests.builders import ACCOUNTING
from tests.conftest import FakeClock
from tests.run import rmsync


def test_admits_up_to_the_limit_then_says_how_long_to_wait() -> None:
    limiter = RateLimiter(Limit(3, 10.0))
    key = ("client", "beta")
    assert [limiter.admit(key, t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert limiter.admit(key, 2.5) == 7.5  # the first request leaves the window at 10.0
    assert limiter.admit(key, 9.75) == 0.25
    assert limiter.admit(key, 10.0) is None
    assert limiter.admit(key, 10.5) == 0.5  # 1.0 and 2.0 still count, plus 10.0


def test_keys_are_independent_and_none_turns_it_off() -> None:
    limiter = RateLimiter(Limit(1, 10.0))
    assert limiter.admit(("a", "beta"), 0.0) is None
    assert limiter.admit(("a", "v2025"), 0.0) is None
    assert limiter.admit(("b", "beta"), 0.0) is None
    assert limiter.admit(("a", "beta"), 0.0) == 10
    off = RateLimiter(None)
    assert all(off.admit(("a", "beta"), 0.0) is None for _ in range(1000))


def test_settle_counts_a_request_from_its_answer() -> None:
    limiter = RateLimiter(Limit(1, 10.0))
    key = ("client", "beta")
    assert limiter.admit(key, 0.0) is None
    limiter.settle(key, 0.0, 3.0)  # the answer came back three seconds later
    assert limiter.admit(key, 10.5) == 2.5  # 3.0 + 10 - 10.5: counted from its answer
    limiter.settle(key, 99.0, 100.0)  # a stamp it does not know changes nothing
    assert limiter.admit(key, 13.0) is None


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("100/10s", Limit(100, 10.0)),
        (" 50/1m ", Limit(50, 60.0)),
        ("100/10", Limit(100, 10.0)),  # seconds, as --timeout reads a bare number
        ("off", None),
        ("OFF", None),
    ],
)
def test_a_rate_is_written_as_requests_per_duration(text: str, limit: Limit | None) -> None:
    assert Limit.parse(text) == limit


@pytest.mark.parametrize(
    "text",
    [
        *("100", "100/", "x/10s", "0/10s", "100/0s", "-5/10s", "100/1ms", "100/ten s"),
        *("100/0.001", "100/1e9", "100/2d"),  # a millisecond as a bare number, decades, two days
    ],
)
def test_anything_else_is_not_a_rate(text: str) -> None:
    with pytest.raises(ValueError, match="is not a rate|is not a length of time") as caught:
        Limit.parse(text)
    assert "convert" not in str(caught.value)  # said in rmsync's words, not Python's


def test_a_rate_reads_as_it_is_said() -> None:
    assert str(Limit(100, 10.0)) == "100 requests per 10 s"
    assert str(Limit(1, 0.5)) == "1 request per 0.5 s"


def test_the_limit_comes_from_the_flag_or_the_environment(tmp_path: Path) -> None:
    from rmsync import config

    assert config.rate_limit({}) == Limit(100, 10.0)  # ISC's
    assert config.rate_limit({"SAIL_RATE_LIMIT": "20/10s"}) == Limit(20, 10.0)
    assert config.rate_limit({"SAIL_RATE_LIMIT": "off"}) is None
    (tmp_path / "rmsync.yaml").write_text("version: 1\nexports: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
    env |= {"SAIL_BASE_URL": "http://127.0.0.1:9", "SAIL_CLIENT_ID": "i", "SAIL_CLIENT_SECRET": "s"}
    ran = rmsync("plan", "--rate-limit", "fast", cwd=tmp_path, env=env)
    assert (ran.code, ran.err) == (
        1,
        "Error: the rate limit (--rate-limit or SAIL_RATE_LIMIT): 'fast' is not a rate: write "
        "N/DURATION, such as 100/10s, or off\n",
    )


def test_the_client_keeps_to_the_limit_it_is_given_and_slows_on_a_429(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    clock = FakeClock()
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds)

    tenant = make_sandbox(clock=clock, rate_limit=Limit(4, 10.0))  # lower than we are told
    with Client(
        tenant.base_url,
        Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        ApiVersion.V2025,
        clock=clock,
        sleep=sleep,
        limit=Limit(6, 10.0),
    ) as client:
        for _ in range(8):
            assert client.role(ACCOUNTING) is not None
        assert client._limiter.limit == Limit(4, 10.0)  # 6 → 4 after the 429
    assert waited and max(waited) <= 10.0


def test_429s_that_come_together_slow_the_client_once() -> None:
    limiter = RateLimiter(Limit(100, 10.0))
    for _ in range(7):  # seven requests in flight meet the same 429
        limiter.slow(0.0)
    assert limiter.limit == Limit(80, 10.0)
    limiter.slow(10.0)  # a window later, another 429: slower again
    assert limiter.limit == Limit(64, 10.0)
