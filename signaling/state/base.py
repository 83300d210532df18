"""The interface to state that crosses server instances.

Presence, waiting requests, consultations (room membership), delivery of a message to a session
and timers all go through `SharedState`. The in-process backend is `MemoryState`; a Redis one
implements the same interface for more than one instance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from room.consultation import Consultation
from signaling.matching import Free, Want
from signaling.messages import Language, Role
from signaling.topics import TOPIC_SLUGS

# Called with (seq, text) for each message delivered to an attached session.
Sink = Callable[[int, str], Awaitable[None]]


class SessionRecord(BaseModel):
    """One signed-in client, outliving any one websocket for the resume grace period."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    role: Role
    identity: str
    display_name: str
    resume_token_hash: str
    connected: bool = True
    on_duty: bool = False
    # The consultation this session waits for, rings for or talks in.
    consultation_id: str | None = None
    # When the professional last became free: the longest idle is offered first.
    free_since: float = 0.0
    # What they take (from their account; empty: everything).
    topics: tuple[str, ...] = ()
    languages: tuple[Language, ...] = ()
    # After a call, no offers until then (saving the outcome ends it sooner).
    wrap_up_until: float = 0.0


def check_indexable(want: Want) -> None:
    """The dispatch index keeps a queue per catalogue topic: refuse a request for another, which
    a professional taking every topic would otherwise never be offered."""
    if want.topic not in TOPIC_SLUGS:
        raise ValueError(f"request {want.request_id}: unknown topic {want.topic!r}")


class SharedState(Protocol):
    # -- mutual exclusion over a read-modify-write of several records -----------------------
    def lock(self, name: str) -> AbstractAsyncContextManager[None]: ...

    # -- sessions and presence ---------------------------------------------------------------
    async def put_session(self, session: SessionRecord) -> None: ...
    async def get_session(self, session_id: str) -> SessionRecord | None: ...
    async def session_by_resume_token(self, token_hash: str) -> SessionRecord | None: ...
    async def delete_session(self, session_id: str) -> None: ...
    def sessions(self) -> AsyncIterator[SessionRecord]: ...
    async def sessions_of(self, identity: str) -> list[SessionRecord]:
        """Every session of one identity (a person's tabs and devices)."""
        ...

    # -- consultations ------------------------------------------------------------------------
    async def put_consultation(self, consultation: Consultation) -> None: ...
    async def get_consultation(self, consultation_id: str) -> Consultation | None: ...
    async def delete_consultation(self, consultation_id: str) -> None: ...
    async def waiting(self) -> list[str]:
        """Ids of the waiting requests in queue order (those in the dispatch index)."""
        ...

    async def next_sequence(self) -> int:
        """The next arrival number, shared by every instance: orders same-instant requests."""
        ...

    # -- the dispatch index: waiting requests and free professionals as matching sees them ---
    # Kept in queue order (`matching.rank`, then request_id) and longest idle first, one queue
    # per kind × topic × language, so the next match costs a walk over queue heads, not over
    # every waiting request. A want's topic must be in the catalogue (`signaling.topics`).
    async def put_want(self, want: Want) -> None:
        """Add or replace the request `want.request_id` (a replaced one changes queue)."""
        ...

    async def remove_want(self, request_id: str) -> None:
        """Forget the request, if it is there."""
        ...

    async def wants(self) -> list[Want]:
        """All waiting requests in queue order (`matching.queue_order` at any time)."""
        ...

    async def first_want_for(self, pro: Free) -> Want | None:
        """The first request in queue order that `matching.qualified(pro, want)` holds for."""
        ...

    async def put_free(self, pro: Free) -> None:
        """Add or replace the free professional `pro.identity`."""
        ...

    async def remove_free(self, identity: str) -> None:
        """Forget the professional, if they are there."""
        ...

    async def free_professionals(self) -> list[Free]:
        """All free professionals, longest idle first: by (free_since, identity)."""
        ...

    async def set_on_duty(self, role: Role, identity: str, on_duty: bool) -> None:
        """Count the person as on duty (any desk on duty and connected), or not."""
        ...

    async def on_duty_counts(self) -> dict[Role, int]:
        """How many people are on duty, per role (roles with nobody may be left out)."""
        ...

    async def first_free_for(self, want: Want) -> Free | None:
        """The longest idle professional qualified for `want`."""
        ...

    # -- delivery to a session, wherever its websocket is -----------------------------------
    async def deliver(self, session_id: str, build: Callable[[int], str]) -> None:
        """Give the message the session's next seq, keep it for replay, pass it to the sink."""
        ...

    async def attach(self, session_id: str, sink: Sink, after_seq: int) -> int:
        """Route the session's messages to `sink`, first replaying those after `after_seq`.

        Returns how many were replayed.
        """
        ...

    async def detach(self, session_id: str, sink: Sink) -> None:
        """Stop routing to `sink` (if it is still the session's); later messages wait."""
        ...

    async def drop_outbox(self, session_id: str) -> None: ...

    # -- timers: deadlines any instance may claim once ---------------------------------------
    async def set_timer(
        self, key: str, due: float, payload: str, earlier_only: bool = False
    ) -> None:
        """Set or move the deadline `key`. `earlier_only`: leave one already due sooner."""
        ...

    async def cancel_timer(self, *keys: str) -> None:
        """Cancel these deadlines (those not set are ignored)."""
        ...

    async def claim_due_timers(self, now: float) -> list[tuple[str, str]]: ...
    async def next_timer_due(self) -> float | None: ...

    # -- counters over a time window (sign-in attempts, lockouts) -----------------------------
    async def count(self, key: str, window: float, now: float) -> int:
        """Add one to `key` and return how many in the window that began with its first count
        (a new window starts once `window` seconds have passed)."""
        ...

    async def reset_count(self, key: str) -> None: ...

    async def close(self) -> None: ...
