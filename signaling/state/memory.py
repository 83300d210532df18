"""In-process shared state: the default, for one server instance and no setup."""

from __future__ import annotations

import asyncio
import heapq
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from room.consultation import Consultation
from signaling.state.base import SessionRecord, Sink

# Messages kept per session for replay after a resume; a client away longer than this many
# messages resumes with a gap, which it is told about (`replayed` falls short).
OUTBOX_LIMIT = 512


class MemoryState:
    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sessions: dict[str, SessionRecord] = {}
        self._consultations: dict[str, Consultation] = {}
        self._queue: list[str] = []
        self._seq: dict[str, int] = {}
        self._outbox: dict[str, deque[tuple[int, str]]] = {}
        self._sinks: dict[str, Sink] = {}
        self._timers: dict[str, tuple[float, str]] = {}
        self._timer_heap: list[tuple[float, str]] = []
        self._counts: dict[str, tuple[float, int]] = {}

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks[name]:
            yield

    async def put_session(self, session: SessionRecord) -> None:
        self._sessions[session.session_id] = session

    async def get_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def session_by_resume_token(self, token_hash: str) -> SessionRecord | None:
        for s in self._sessions.values():
            if s.resume_token_hash == token_hash:
                return s
        return None

    async def delete_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        await self.drop_outbox(session_id)

    async def sessions(self) -> AsyncIterator[SessionRecord]:
        for s in list(self._sessions.values()):
            yield s

    async def put_consultation(self, consultation: Consultation) -> None:
        self._consultations[consultation.consultation_id] = consultation

    async def get_consultation(self, consultation_id: str) -> Consultation | None:
        return self._consultations.get(consultation_id)

    async def delete_consultation(self, consultation_id: str) -> None:
        self._consultations.pop(consultation_id, None)
        await self.dequeue(consultation_id)

    async def enqueue(self, consultation_id: str) -> None:
        if consultation_id not in self._queue:
            self._queue.append(consultation_id)

    async def dequeue(self, consultation_id: str) -> None:
        if consultation_id in self._queue:
            self._queue.remove(consultation_id)

    async def waiting(self) -> list[str]:
        return list(self._queue)

    async def deliver(self, session_id: str, build: Callable[[int], str]) -> None:
        seq = self._seq.get(session_id, 0) + 1
        self._seq[session_id] = seq
        text = build(seq)
        self._outbox.setdefault(session_id, deque(maxlen=OUTBOX_LIMIT)).append((seq, text))
        sink = self._sinks.get(session_id)
        if sink is not None:
            await sink(seq, text)

    async def attach(self, session_id: str, sink: Sink, after_seq: int) -> int:
        self._sinks[session_id] = sink
        missed = [(s, t) for s, t in self._outbox.get(session_id, ()) if s > after_seq]
        for seq, text in missed:
            await sink(seq, text)
        return len(missed)

    async def detach(self, session_id: str, sink: Sink) -> None:
        if self._sinks.get(session_id) is sink:
            del self._sinks[session_id]

    async def drop_outbox(self, session_id: str) -> None:
        self._outbox.pop(session_id, None)
        self._seq.pop(session_id, None)
        self._sinks.pop(session_id, None)

    async def set_timer(self, key: str, due: float, payload: str) -> None:
        self._timers[key] = (due, payload)
        heapq.heappush(self._timer_heap, (due, key))

    async def cancel_timer(self, key: str) -> None:
        self._timers.pop(key, None)

    async def claim_due_timers(self, now: float) -> list[tuple[str, str]]:
        due: list[tuple[str, str]] = []
        while self._timer_heap and self._timer_heap[0][0] <= now:
            when, key = heapq.heappop(self._timer_heap)
            current = self._timers.get(key)
            # Entries left behind by a cancel or a re-set are skipped here.
            if current is not None and current[0] == when:
                del self._timers[key]
                due.append((key, current[1]))
        return due

    async def next_timer_due(self) -> float | None:
        while self._timer_heap:
            when, key = self._timer_heap[0]
            current = self._timers.get(key)
            if current is not None and current[0] == when:
                return when
            heapq.heappop(self._timer_heap)
        return None

    async def count(self, key: str, window: float, now: float) -> int:
        start, n = self._counts.get(key, (now, 0))
        if now - start >= window:
            start, n = now, 0
        self._counts[key] = (start, n + 1)
        return n + 1

    async def reset_count(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        self._sinks.clear()
