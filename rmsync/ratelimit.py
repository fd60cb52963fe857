"""ISC's rate limit: at most N requests per client id and API version in any window.

Owns: the `Limit` value, and the API client's own sliding-window count of its requests, which
keeps it under the limit (the sandbox enforces the limit with a different algorithm, in
rmsync/sandbox/ratelimit.py).
Must not: read the clock itself (callers pass the time) or know about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """`requests` per `window` seconds; ISC's default is 100 per 10 s."""

    requests: int = 100
    window: float = 10.0


class RateLimiter:
    """A sliding-window log per key; `None` as the limit turns it off."""

    def __init__(self, limit: Limit | None) -> None:
        self.limit = limit
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

    def settle(self, key: tuple[str, str], admitted: float, done: float) -> None:
        """Move a request's stamp from when it was sent to when its answer came back.

        A client that counts its requests from their answers can never be ahead of a server
        that counts them on arrival, however long each one spent in transit.
        """
        log = self._seen.get(key)
        if log and admitted in log:
            log[log.index(admitted)] = max(admitted, done)
