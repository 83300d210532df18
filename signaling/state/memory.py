"""In-process shared state: the default, for one server instance and no setup."""

from __future__ import annotations

import asyncio
import bisect
import heapq
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from room.consultation import Consultation
from signaling.matching import KIND_ROLE, Free, Want, qualified, queue_of, queues_for, rank
from signaling.messages import Kind, Language, Role
from signaling.state.base import SessionRecord, Sink, check_indexable
from signaling.topics import TOPIC_SLUGS

# Messages kept per session for replay after a resume; a client away longer than this many
# messages resumes with a gap, which it is told about (`replayed` falls short).
OUTBOX_LIMIT = 512

# Queue order, then the request id: a total order, the same as the Redis backend's.
_WantKey = tuple[tuple[float, float, int], str]


class MemoryState:
    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sessions: dict[str, SessionRecord] = {}
        self._consultations: dict[str, Consultation] = {}
        self._by_identity: defaultdict[str, set[str]] = defaultdict(set)
        self._arrivals = 0
        self._on_duty: defaultdict[Role, set[str]] = defaultdict(set)
        self._seq: dict[str, int] = {}
        self._outbox: dict[str, deque[tuple[int, str]]] = {}
        self._sinks: dict[str, Sink] = {}
        self._timers: dict[str, tuple[float, str]] = {}
        self._timer_heap: list[tuple[float, str]] = []
        self._counts: dict[str, tuple[float, int]] = {}
        # The dispatch index: records by id, and sorted lists of (order key, id) per queue
        # (requests) or per role (professionals); an empty list is dropped.
        self._wants: dict[str, Want] = {}
        self._want_queues: dict[tuple[Kind, str, Language | None], list[_WantKey]] = {}
        self._free: dict[str, Free] = {}
        self._free_queues: dict[Role, list[tuple[float, str]]] = {}

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks[name]:
            yield

    async def put_session(self, session: SessionRecord) -> None:
        self._sessions[session.session_id] = session
        self._by_identity[session.identity].add(session.session_id)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def session_by_resume_token(self, token_hash: str) -> SessionRecord | None:
        for s in self._sessions.values():
            if s.resume_token_hash == token_hash:
                return s
        return None

    async def delete_session(self, session_id: str) -> None:
        gone = self._sessions.pop(session_id, None)
        if gone is not None:
            self._by_identity[gone.identity].discard(session_id)
            if not self._by_identity[gone.identity]:
                del self._by_identity[gone.identity]
        await self.drop_outbox(session_id)

    async def sessions_of(self, identity: str) -> list[SessionRecord]:
        return [self._sessions[sid] for sid in sorted(self._by_identity.get(identity, ()))]

    async def sessions(self) -> AsyncIterator[SessionRecord]:
        for s in list(self._sessions.values()):
            yield s

    async def put_consultation(self, consultation: Consultation) -> None:
        self._consultations[consultation.consultation_id] = consultation

    async def get_consultation(self, consultation_id: str) -> Consultation | None:
        return self._consultations.get(consultation_id)

    async def delete_consultation(self, consultation_id: str) -> None:
        self._consultations.pop(consultation_id, None)
        await self.remove_want(consultation_id)

    async def set_on_duty(self, role: Role, identity: str, on_duty: bool) -> None:
        if on_duty:
            self._on_duty[role].add(identity)
        else:
            self._on_duty[role].discard(identity)

    async def on_duty_counts(self) -> dict[Role, int]:
        return {role: len(people) for role, people in self._on_duty.items() if people}

    async def waiting(self) -> list[str]:
        return [w.request_id for w in await self.wants()]

    async def next_sequence(self) -> int:
        self._arrivals += 1
        return self._arrivals

    async def put_want(self, want: Want) -> None:
        check_indexable(want)
        await self.remove_want(want.request_id)
        self._wants[want.request_id] = want
        bisect.insort(self._want_queues.setdefault(queue_of(want), []), _want_key(want))

    async def remove_want(self, request_id: str) -> None:
        old = self._wants.pop(request_id, None)
        if old is not None:
            entries = self._want_queues[queue_of(old)]
            del entries[bisect.bisect_left(entries, _want_key(old))]
            if not entries:
                del self._want_queues[queue_of(old)]

    async def wants(self) -> list[Want]:
        merged = heapq.merge(*self._want_queues.values())
        return [self._wants[request_id] for _, request_id in merged]

    async def first_want_for(self, pro: Free) -> Want | None:
        best: tuple[_WantKey, Want] | None = None
        for queue in queues_for(pro, TOPIC_SLUGS):
            for key in self._want_queues.get(queue, ()):
                if best is not None and key >= best[0]:
                    break  # the rest of this queue comes later still
                want = self._wants[key[1]]
                if qualified(pro, want):
                    best = (key, want)
                    break
        return None if best is None else best[1]

    async def put_free(self, pro: Free) -> None:
        await self.remove_free(pro.identity)
        self._free[pro.identity] = pro
        bisect.insort(self._free_queues.setdefault(pro.role, []), (pro.free_since, pro.identity))

    async def remove_free(self, identity: str) -> None:
        old = self._free.pop(identity, None)
        if old is not None:
            idle = self._free_queues[old.role]
            del idle[bisect.bisect_left(idle, (old.free_since, old.identity))]
            if not idle:
                del self._free_queues[old.role]

    async def free_professionals(self) -> list[Free]:
        merged = heapq.merge(*self._free_queues.values())
        return [self._free[identity] for _, identity in merged]

    async def first_free_for(self, want: Want) -> Free | None:
        for _, identity in self._free_queues.get(KIND_ROLE[want.kind], ()):
            pro = self._free[identity]
            if qualified(pro, want):
                return pro
        return None

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

    async def set_timer(
        self, key: str, due: float, payload: str, earlier_only: bool = False
    ) -> None:
        current = self._timers.get(key)
        if earlier_only and current is not None and current[0] <= due:
            return
        self._timers[key] = (due, payload)
        heapq.heappush(self._timer_heap, (due, key))

    async def cancel_timer(self, *keys: str) -> None:
        for key in keys:
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


def _want_key(want: Want) -> _WantKey:
    return (rank(want), want.request_id)
