"""Who gets which request: priority with aging, then longest waiting; the longest idle
qualified professional. Pure functions over snapshots, so every backend matches alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from signaling.messages import Kind, Language, Priority, Role

# A head start in seconds of waiting: a request of a higher class goes first, but one that has
# waited longer than the difference overtakes it, so no request starves.
HEAD_START: Mapping[Priority, float] = MappingProxyType(
    {
        Priority.NORMAL: 0.0,
        Priority.ELDERLY: 120.0,
        Priority.DISABLED: 120.0,
        Priority.MINOR: 120.0,
        Priority.URGENT: 900.0,
    }
)
KIND_ROLE: Mapping[Kind, Role] = MappingProxyType(
    {Kind.CONSULTATION: Role.LAWYER, Kind.MEDIATION: Role.MEDIATOR}
)


@dataclass(frozen=True, slots=True)
class Want:
    """A waiting request as matching sees it."""

    request_id: str
    kind: Kind
    topic: str
    language: Language
    priority: Priority
    arrived_at: float
    # Identities that declined or missed it: never offered it again.
    passed_by: frozenset[str] = frozenset()
    # No professional with the language was free for too long: any language will do.
    any_language: bool = False
    # Place in the arrival queue: the last tie-breaker (two requests in the same instant).
    sequence: int = 0
    # Back at the front of the queue: its professional dropped out of the call and did not come
    # back (before every request without this, whatever its class or wait).
    front: bool = False


@dataclass(frozen=True, slots=True)
class Free:
    """An available professional as matching sees it."""

    identity: str
    role: Role
    topics: frozenset[str]  # empty: every topic
    languages: frozenset[Language]
    free_since: float


# A head start no wait can make up: for a request put back at the front of the queue.
FRONT_HEAD_START = 1e10  # seconds, about three centuries


def head_start(want: Want) -> float:
    return HEAD_START[want.priority] + (FRONT_HEAD_START if want.front else 0.0)


def score(want: Want, now: float) -> float:
    """Higher goes first: seconds waited plus the class's head start."""
    return (now - want.arrived_at) + head_start(want)


def queue_order(wants: Iterable[Want], now: float) -> list[Want]:
    # By `rank`, which is the order of -score at any `now` (see there), without its roundings.
    return sorted(wants, key=rank)


def rank(want: Want) -> tuple[float, float, int]:
    """The queue-order key without the clock: lower goes first, the same order at every `now`.

    -score(w, now) = arrived_at - head start - now, so sorting by score is sorting by
    arrived_at - head start, then by arrival (an earlier request of the same score first) and
    arrival number; a stored index can therefore keep its order as requests wait.
    """
    return (want.arrived_at - head_start(want), want.arrived_at, want.sequence)


def queue_of(want: Want) -> tuple[Kind, str, Language | None]:
    """The queue a request waits in: its kind, topic and language; None once any will do."""
    return (want.kind, want.topic, None if want.any_language else want.language)


def queues_for(pro: Free, topics: Iterable[str]) -> list[tuple[Kind, str, Language | None]]:
    """Every queue that may hold a request `pro` qualifies for, `topics` standing for all when
    the professional takes every topic. `qualified` still decides (passed_by is per request)."""
    kinds = [kind for kind, role in KIND_ROLE.items() if role is pro.role]
    languages: list[Language | None] = [*sorted(pro.languages), None]
    return [
        (kind, topic, language)
        for kind in kinds
        for topic in sorted(pro.topics or topics)
        for language in languages
    ]


def qualified(pro: Free, want: Want) -> bool:
    return (
        pro.role is KIND_ROLE[want.kind]
        and (not pro.topics or want.topic in pro.topics)
        and (want.any_language or want.language in pro.languages)
        and pro.identity not in want.passed_by
    )


def match(wants: Iterable[Want], free: Iterable[Free], now: float) -> list[tuple[Want, Free]]:
    """Pairs to offer now: each request in queue order takes the longest-idle qualified
    professional still unpaired. A request nobody can take does not block the ones behind."""
    idle = sorted(free, key=lambda p: (p.free_since, p.identity))
    pairs: list[tuple[Want, Free]] = []
    for want in queue_order(wants, now):
        pro = next((p for p in idle if qualified(p, want)), None)
        if pro is not None:
            idle.remove(pro)
            pairs.append((want, pro))
    return pairs


def positions(wants: Sequence[Want], now: float) -> dict[str, int]:
    """Each request's place in its own queue (kind × topic × language), from 1."""
    counters: dict[tuple[Kind, str, Language], int] = {}
    result: dict[str, int] = {}
    for want in queue_order(wants, now):
        key = (want.kind, want.topic, want.language)
        counters[key] = counters.get(key, 0) + 1
        result[want.request_id] = counters[key]
    return result
