"""The sandbox's own rate limit: a fixed window per client id and API version, and its 429s."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rmsync.sandbox import Limit, Sandbox
from rmsync.sandbox.ratelimit import FixedWindow
from tests.conftest import FakeClock, api_client

BETA = ("rmsync-sandbox", "beta")
START = 1_000.0  # a multiple of every period below: the start of a window
# Times are binary fractions (.5, .25): window arithmetic in tests stays exact.


def _admit_all(
    limiter: FixedWindow, n: int, now: float, key: tuple[str, str] = BETA
) -> list[int | None]:
    return [limiter.admit(key, now) for _ in range(n)]


# -- the fixed window -----


def test_the_request_over_the_limit_waits_until_the_window_ends() -> None:
    limiter = FixedWindow(Limit(3, 10.0))
    assert _admit_all(limiter, 3, START + 2.5) == [None] * 3
    assert limiter.admit(BETA, START + 2.5) == 8  # 7.5 s to the window's end, rounded up
    assert limiter.admit(BETA, START + 9.0) == 1
    assert limiter.admit(BETA, START + 9.875) == 1  # never less than 1


def test_windows_are_aligned_to_the_clock_not_to_the_first_request() -> None:
    limiter = FixedWindow(Limit(1, 10.0))
    assert limiter.admit(BETA, START + 7.0) is None
    assert limiter.admit(BETA, START + 7.0) == 3


def test_a_new_window_starts_the_count_again() -> None:
    limiter = FixedWindow(Limit(2, 10.0))
    assert _admit_all(limiter, 3, START) == [None, None, 10]
    assert _admit_all(limiter, 3, START + 10.0) == [None, None, 10]
    assert _admit_all(limiter, 3, START + 25.0) == [None, None, 5]


def test_clients_and_versions_are_counted_apart() -> None:
    limiter = FixedWindow(Limit(1, 10.0))
    assert limiter.admit(BETA, START) is None
    assert limiter.admit(BETA, START) == 10
    assert limiter.admit(("rmsync-sandbox", "v2025"), START) is None
    assert limiter.admit(("rmsync-ci", "beta"), START) is None


def test_a_burst_of_twice_the_limit_across_a_boundary_all_passes() -> None:
    # What tells it from a sliding window: 2 x limit within 0.5 s, and none refused.
    limiter = FixedWindow(Limit(100, 10.0))
    assert _admit_all(limiter, 100, START + 9.75) == [None] * 100
    assert _admit_all(limiter, 100, START + 10.25) == [None] * 100
    assert limiter.admit(BETA, START + 10.25) == 10


def test_a_window_shorter_than_a_second_still_asks_for_one() -> None:
    limiter = FixedWindow(Limit(1, 0.25))
    assert limiter.admit(BETA, START + 0.125) is None
    assert limiter.admit(BETA, START + 0.125) == 1
    assert limiter.admit(BETA, START + 0.25) is None


def test_no_limit_admits_everything() -> None:
    assert _admit_all(FixedWindow(None), 1_000, START) == [None] * 1_000


def test_concurrent_requests_are_counted_exactly() -> None:
    limiter = FixedWindow(Limit(100, 10.0))
    results: list[int | None] = []
    gate = threading.Barrier(8)

    def worker() -> None:
        gate.wait()
        results.extend(_admit_all(limiter, 50, START))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 100
    assert results.count(10) == 300


# -- the sandbox over HTTP -----


def test_sandbox_refuses_the_request_over_the_limit_until_the_window_ends(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    clock.now = 1_790_000_003.5  # 3.5 s into a 10 s window
    sandbox = make_sandbox(rate_limit=Limit(3, 10.0))
    with api_client(sandbox.base_url) as api:
        assert [api.get("/beta/role-mining-sessions").status_code for _ in range(3)] == [200] * 3
        refused = api.get("/beta/role-mining-sessions")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "7"  # a sliding window would say 10
        assert refused.json() == {"message": " Rate Limit Exceeded "}
        clock.advance(6.25)
        assert api.get("/beta/role-mining-sessions").headers["Retry-After"] == "1"
        clock.advance(0.25)  # the window's end
        assert api.get("/beta/role-mining-sessions").status_code == 200


def test_sandbox_lets_a_burst_across_a_window_boundary_through(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    clock.now = 1_790_000_009.5
    sandbox = make_sandbox(rate_limit=Limit(3, 10.0))
    with api_client(sandbox.base_url) as api:
        before = [api.get("/beta/role-mining-sessions").status_code for _ in range(3)]
        clock.advance(1.0)
        after = [api.get("/beta/role-mining-sessions").status_code for _ in range(4)]
    assert before + after == [200] * 6 + [429]
