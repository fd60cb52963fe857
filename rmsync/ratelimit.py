"""ISC's rate limit: at most N requests per client id and API version in any window.

Owns: the API client's own sliding-window count of its requests, which keeps it under the
limit (`Limit`, the value, is in models; the sandbox enforces the limit with a different
algorithm, in rmsync/sandbox/ratelimit.py), and slowing down when a 429 comes all the same.
Must not: read the clock itself (callers pass the time) or know about HTTP.
"""

from __future__ import annotations

from rmsync.models import Limit

__all__ = ["Limit", "RateLimiter"]


class RateLimiter:
    """A sliding-window log per key; `None` as the limit turns it off."""

    def __init__(self, limit: Limit | None) -> None:
        self.limit = limit
        self._slowed_until = float("-inf")
        self._seen: dict[tuple[str, str], list[float]] = {}

    def admit(self, key: tuple[str, str], now: float) -> float | None:
        """Count a request at `now`; None if admitted, else the seconds until one would be."""
        if self.limit is None:
            return None
        horizon = now - self.limit.window
        log = [t for t in self._seen.get(key, ()) if t > horizon]
        self._seen[key] = log
        if len(log) >= self.limit.requests:
            return min(log) + self.limit.window - now
        log.append(now)
        return None

    def headroom(self, key: tuple[str, str], now: float) -> float:
        """How many requests `admit` would take at `now` without a wait (inf with no limit)."""
        if self.limit is None:
            return float("inf")
        horizon = now - self.limit.window
        return max(0, self.limit.requests - sum(t > horizon for t in self._seen.get(key, ())))

    def slow(self, now: float) -> None:
        """A 429 came all the same: the tenant's limit is lower than we were told. Keep to
        four fifths of it from now on (one request a window at least), once a window: the
        requests in flight together meet the same 429, and count as one."""
        if self.limit is None or self.limit.requests <= 1 or now < self._slowed_until:
            return
        self.limit = Limit(max(1, self.limit.requests * 4 // 5), self.limit.window)
        self._slowed_until = now + self.limit.window

    def settle(self, key: tuple[str, str], admitted: float, done: float) -> None:
        """Move a request's stamp from when it was sent to when its answer came back.

        A client that counts its requests from their answers can never be ahead of a server
        that counts them on arrival, however long each one spent in transit.
        """
        log = self._seen.get(key)
        if log and admitted in log:
            log[log.index(admitted)] = max(admitted, done)
