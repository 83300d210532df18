"""The contract every SharedState backend keeps (in-process now; Redis joins this suite)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from room.consultation import Consultation
from signaling.messages import Kind, Language, Role
from signaling.state import MemoryState, SessionRecord, SharedState

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(params=["memory"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    backend = MemoryState()
    yield backend
    await backend.close()


def session(sid: str, token_hash: str = "h") -> SessionRecord:
    return SessionRecord(
        session_id=sid,
        role=Role.LAWYER,
        identity=sid,
        display_name=sid,
        resume_token_hash=token_hash,
    )


def consultation(cid: str, at: float = 0.0) -> Consultation:
    return Consultation(
        consultation_id=cid,
        village_session="s_v",
        village_identity="v",
        village_name="村",
        topic="labour",
        language=Language.ZH,
        kind=Kind.CONSULTATION,
        requested_at=at,
    )


async def test_sessions(state: SharedState) -> None:
    await state.put_session(session("a", "ha"))
    await state.put_session(session("b", "hb"))
    assert (await state.get_session("a")) == session("a", "ha")
    assert (await state.session_by_resume_token("hb")) == session("b", "hb")
    assert await state.session_by_resume_token("nope") is None
    await state.delete_session("a")
    assert [s.session_id async for s in state.sessions()] == ["b"]


async def test_queue_keeps_order_and_no_duplicates(state: SharedState) -> None:
    for cid in ("c1", "c2", "c3"):
        await state.put_consultation(consultation(cid))
        await state.enqueue(cid)
    await state.enqueue("c2")
    await state.dequeue("c1")
    assert await state.waiting() == ["c2", "c3"]
    await state.delete_consultation("c2")
    assert await state.waiting() == ["c3"]
    assert await state.get_consultation("c2") is None


async def test_delivery_replays_what_a_detached_session_missed(state: SharedState) -> None:
    got: list[tuple[int, str]] = []

    async def sink(seq: int, text: str) -> None:
        got.append((seq, text))

    assert await state.attach("s", sink, after_seq=0) == 0
    await state.deliver("s", lambda seq: f"m{seq}")
    await state.detach("s", sink)
    await state.deliver("s", lambda seq: f"m{seq}")
    await state.deliver("s", lambda seq: f"m{seq}")
    assert got == [(1, "m1")]
    assert await state.attach("s", sink, after_seq=1) == 2
    assert got == [(1, "m1"), (2, "m2"), (3, "m3")]


async def test_detach_of_a_displaced_sink_keeps_the_new_one(state: SharedState) -> None:
    old: list[int] = []
    new: list[int] = []

    async def old_sink(seq: int, text: str) -> None:
        old.append(seq)

    async def new_sink(seq: int, text: str) -> None:
        new.append(seq)

    await state.attach("s", old_sink, after_seq=0)
    await state.attach("s", new_sink, after_seq=0)
    await state.detach("s", old_sink)
    await state.deliver("s", lambda seq: "x")
    assert (old, new) == ([], [1])


async def test_timers_fire_once_in_order_and_cancel(state: SharedState) -> None:
    await state.set_timer("grace:a", 10.0, "A")
    await state.set_timer("offer:b", 5.0, "B")
    await state.set_timer("grace:c", 7.0, "C")
    await state.cancel_timer("grace:c")
    assert await state.next_timer_due() == 5.0
    assert await state.claim_due_timers(4.9) == []
    assert await state.claim_due_timers(10.0) == [("offer:b", "B"), ("grace:a", "A")]
    assert await state.claim_due_timers(100.0) == []
    assert await state.next_timer_due() is None


async def test_resetting_a_timer_moves_it(state: SharedState) -> None:
    await state.set_timer("grace:a", 5.0, "")
    await state.set_timer("grace:a", 50.0, "")
    assert await state.claim_due_timers(10.0) == []
    assert await state.next_timer_due() == 50.0
