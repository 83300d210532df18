"""Where time comes from: the system clock in production, a hand-driven one in tests.

Every timeout (hello, offer, resume grace, rate limits) reads this, so a test advances time
instead of sleeping through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...

    async def sleep_until(self, deadline: float, wake: asyncio.Event | None = None) -> None:
        """Return at `deadline`, or earlier when `wake` is set."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float, wake: asyncio.Event | None = None) -> None:
        delay = max(0.0, deadline - time.time())
        if wake is None:
            await asyncio.sleep(delay)
            return
        # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that arrives as `wake`
        # is set, and the timer loop would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()


class ManualClock:
    """Time moves only when a test calls `advance`."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._ticked = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._ticked.set()
        self._ticked = asyncio.Event()

    async def sleep_until(self, deadline: float, wake: asyncio.Event | None = None) -> None:
        while self._now < deadline and not (wake is not None and wake.is_set()):
            waiters = [asyncio.ensure_future(self._ticked.wait())]
            if wake is not None:
                waiters.append(asyncio.ensure_future(wake.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
