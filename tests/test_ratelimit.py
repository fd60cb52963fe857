"""The sliding-window rate limiter, with explicit times."""

from __future__ import annotations

from rmsync.ratelimit import Limit, RateLimiter


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
