"""A token bucket per client address: public statute text needs no sign-in, so this is what
keeps one client from taking the advisor's CPU from the others."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float = 2.0  # tokens added per second
    burst: float = 20.0  # bucket size
    max_clients: int = 10_000  # least recently seen clients are forgotten beyond this


class TokenBuckets:
    """Buckets keyed by client; `clock` is injectable so tests need no sleeping."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens: 0.0 if allowed, otherwise the seconds until it would be."""
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - last) * self.limit.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.limit.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.limit.max_clients:
            self._buckets.popitem(last=False)
        return wait
