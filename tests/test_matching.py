"""Matching and the availability machine: pure rules, asserted as whole sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling.availability import (
    AVAILABILITY_TRANSITIONS,
    Availability,
    AvailabilityEvent,
    IllegalAvailability,
    next_availability,
)
from signaling.matching import Free, Want, match, positions, queue_order, score
from signaling.messages import Kind, Language, Priority, Role

A, V = Availability, AvailabilityEvent


def want(rid: str, at: float, priority: Priority = Priority.NORMAL, **kw: object) -> Want:
    base: dict[str, object] = {
        "kind": Kind.CONSULTATION,
        "topic": "labour",
        "language": Language.ZH,
    }
    base.update(kw)
    return Want(rid, arrived_at=at, priority=priority, **base)  # type: ignore[arg-type]


def pro(identity: str, since: float, role: Role = Role.LAWYER, **kw: object) -> Free:
    base: dict[str, object] = {"topics": frozenset(), "languages": frozenset({Language.ZH})}
    base.update(kw)
    return Free(identity, role=role, free_since=since, **base)  # type: ignore[arg-type]


def test_a_shift() -> None:
    state, seen = A.OFFLINE, [A.OFFLINE]
    for event in (
        V.ON_DUTY,
        V.RESERVE,
        V.ACCEPT,
        V.END_CALL,
        V.WRAP_UP_DONE,
        V.RESERVE,
        V.MISS,
        V.BACK,
        V.OFF_DUTY,
    ):
        state = next_availability(state, event)
        seen.append(state)
    assert seen == [
        A.OFFLINE,
        A.AVAILABLE,
        A.RESERVED,
        A.IN_CALL,
        A.WRAP_UP,
        A.AVAILABLE,
        A.RESERVED,
        A.BREAK,
        A.AVAILABLE,
        A.OFFLINE,
    ]


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s in A for e in V if e not in AVAILABILITY_TRANSITIONS[s]],
    ids=str,
)
def test_illegal_availability_moves(state: Availability, event: AvailabilityEvent) -> None:
    with pytest.raises(IllegalAvailability):
        next_availability(state, event)


def test_priority_first_then_longest_waiting_and_aging() -> None:
    now = 1000.0
    normal_old = want("n-old", at=now - 100)
    elderly_new = want("e-new", at=now - 10, priority=Priority.ELDERLY)
    urgent = want("u", at=now - 1, priority=Priority.URGENT)
    normal_new = want("n-new", at=now - 50)
    order = [w.request_id for w in queue_order([normal_new, normal_old, elderly_new, urgent], now)]
    assert order == ["u", "e-new", "n-old", "n-new"]
    # Waiting long enough overtakes a higher class: no request starves.
    starving = want("n-starving", at=now - 500)
    assert queue_order([elderly_new, starving], now)[0].request_id == "n-starving"


def test_longest_idle_qualified_professional_gets_it() -> None:
    w = want("r", at=0, topic="traffic", language=Language.MN)
    pros = [
        pro("zh-only", since=0),
        pro(
            "mn-traffic",
            since=50,
            languages=frozenset({Language.MN}),
            topics=frozenset({"traffic"}),
        ),
        pro("mn-any", since=10, languages=frozenset({Language.MN, Language.ZH})),
        pro("mn-labour", since=1, languages=frozenset({Language.MN}), topics=frozenset({"labour"})),
        pro("mediator", since=0, role=Role.MEDIATOR, languages=frozenset({Language.MN})),
    ]
    assert [(a.request_id, b.identity) for a, b in match([w], pros, now=100)] == [("r", "mn-any")]
    # Widened to any language once escalated.
    widened = want("r", at=0, topic="traffic", language=Language.MN, any_language=True)
    assert match([widened], pros, now=100)[0][1].identity == "zh-only"
    # Never again to one who passed.
    passed = want("r", at=0, topic="traffic", language=Language.MN, passed_by=frozenset({"mn-any"}))
    assert match([passed], pros, now=100)[0][1].identity == "mn-traffic"


def test_an_unmatchable_request_does_not_block_those_behind() -> None:
    mn = want("mn", at=0, language=Language.MN)
    zh = want("zh", at=5)
    assert [(a.request_id, b.identity) for a, b in match([mn, zh], [pro("l", 0)], now=10)] == [
        ("zh", "l")
    ]


def test_positions_per_queue() -> None:
    wants = [
        want("a", 0),
        want("b", 1),
        want("c", 2, topic="traffic"),
        want("d", 3, priority=Priority.URGENT),
    ]
    assert positions(wants, now=10) == {"d": 1, "a": 2, "b": 3, "c": 1}


EPOCH = 1_700_000_000.0


@st.composite
def wants_and_now(draw: st.DrawFn) -> tuple[list[Want], float]:
    """Times where `score`'s arithmetic is exact: epoch microseconds (one binade, as the server's
    clock gives) or small multiples of 1/64 s."""
    if draw(st.booleans()):
        instants = st.integers(0, 10**11).map(lambda us: EPOCH + us / 1e6)
    else:
        instants = st.integers(0, 2**20).map(lambda k: k / 64)
    n = draw(st.integers(0, 40))
    wants = [
        want(
            f"r{i}",
            at=draw(instants | st.sampled_from([draw(instants) + d for d in (0, 120, 900, 780)])),
            priority=draw(st.sampled_from(Priority)),
            sequence=draw(st.integers(0, 5)),
        )
        for i in range(n)
    ]
    return wants, draw(instants)


@given(wants_and_now())
def test_rank_is_the_order_of_waiting_plus_head_start_at_any_time(
    case: tuple[list[Want], float],
) -> None:
    """The stored order (`rank`, what `queue_order` sorts by) is highest score first, then the
    earlier arrival, then the arrival number, whatever the time."""
    wants, now = case
    by_score = sorted(wants, key=lambda w: (-score(w, now), w.arrived_at, w.sequence))
    assert queue_order(wants, now) == by_score


def test_a_request_put_back_at_the_front_goes_before_even_an_urgent_one() -> None:
    wants = [
        want("urgent", 0, priority=Priority.URGENT),
        want("back", 500, front=True),
        want("normal", 1),
    ]
    assert [w.request_id for w in queue_order(wants, now=600)] == ["back", "urgent", "normal"]
