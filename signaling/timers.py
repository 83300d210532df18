"""Deadlines kept in shared state and fired by whichever instance claims them first.

A key is `kind:subject` (`grace:SESSION`, `offer:CONSULTATION`); the handler for each kind is
registered at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from signaling.cancellation import raise_if_cancelled
from signaling.clock import Clock
from signaling.state.base import SharedState

log = logging.getLogger(__name__)

Handler = Callable[[str, str], Awaitable[None]]  # (subject, payload)

# Another instance may set an earlier deadline without waking this loop: look again this often.
POLL_SECONDS = 0.5


class Timers:
    def __init__(self, state: SharedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()

    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    async def set(
        self, kind: str, subject: str, delay: float, payload: str = "", earlier_only: bool = False
    ) -> None:
        """Fire in `delay` seconds. `earlier_only`: unless it is already due sooner (so that a
        stream of callers cannot keep pushing it back)."""
        await self._state.set_timer(
            f"{kind}:{subject}", self._clock.now() + delay, payload, earlier_only
        )
        self._wake.set()

    async def set_at(self, kind: str, subject: str, due: float, payload: str = "") -> None:
        """Fire at `due` (clock time): for a deadline also written in a record, to the
        instant."""
        await self._state.set_timer(f"{kind}:{subject}", due, payload)
        self._wake.set()

    async def cancel(self, kind: str, subject: str, *more_kinds: str) -> None:
        """Cancel the `kind` timer of `subject` (and those of `more_kinds`), in one go."""
        await self._state.cancel_timer(*(f"{k}:{subject}" for k in (kind, *more_kinds)))

    async def run(self) -> None:
        """Fire due timers until cancelled."""
        while True:
            # Cleared before looking, not after: a timer set while this pass talks to the state
            # wakes the sleep below instead of waiting out a poll.
            self._wake.clear()
            for key, payload in await self._claim():
                kind, _, subject = key.partition(":")
                handler = self._handlers.get(kind)
                if handler is None:
                    log.error("timer %s has no handler", key)
                    continue
                try:
                    await handler(subject, payload)
                except Exception:
                    log.exception("timer %s failed", key)
            due = await self._next_due()
            # A cancel that landed in a call to the state above may have been lost (redis-py on
            # 3.11, see signaling.cancellation): without this the loop polls on for ever and the
            # server's shutdown, which cancels it and waits, never ends.
            raise_if_cancelled()
            now = self._clock.now()
            deadline = now + POLL_SECONDS if due is None else min(due, now + POLL_SECONDS)
            await self._clock.sleep_until(deadline, self._wake)

    # A failing state (Redis restarting, a network blip) must not stop the loop for good: every
    # deadline of this instance would be lost. Log it and look again after a poll.

    async def _claim(self) -> list[tuple[str, str]]:
        try:
            return await self._state.claim_due_timers(self._clock.now())
        except Exception:
            log.exception("timers: could not claim due timers; trying again")
            return []

    async def _next_due(self) -> float | None:
        try:
            return await self._state.next_timer_due()
        except Exception:
            log.exception("timers: could not read the next deadline; trying again")
            return None
