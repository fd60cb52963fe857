"""The sandbox tenant's own rate limit: a fixed-window counter per client id and API version.

Owns: counting requests per key in windows aligned to multiples of the period on the clock
it is given (window = floor(now / period)), and how many whole seconds a refused caller must
wait: until the current window ends. This is deliberately not the sliding window the API
client keeps under (rmsync.ratelimit): a server that counts differently can disagree with the
client, so the client's tests show it keeps under a tenant's limit, not that it agrees with
itself. Must not: read the clock (callers pass `now`), know about HTTP, or use rmsync.api or
rmsync.ratelimit's limiter (only its `Limit` value).
"""

from __future__ import annotations

import math
import threading

from rmsync.ratelimit import Limit

Key = tuple[str, str]  # (client id, API version)


class FixedWindow:
    """At most `limit.requests` per key in each window; `None` as the limit turns it off."""

    def __init__(self, limit: Limit | None) -> None:
        self.limit = limit
        self._counts: dict[Key, tuple[int, int]] = {}  # key -> (window index, requests in it)
        self._lock = threading.Lock()

    def admit(self, key: Key, now: float) -> int | None:
        """Count a request at `now`: None if admitted, else Retry-After (whole seconds, >= 1)."""
        if self.limit is None:
            return None
        window = math.floor(now / self.limit.window)
        with self._lock:
            seen, count = self._counts.get(key, (window, 0))
            count = count if seen == window else 0
            if count >= self.limit.requests:
                return max(1, math.ceil((window + 1) * self.limit.window - now))
            self._counts[key] = (window, count + 1)
            return None
