"""The contract every SharedState backend keeps, in process and in a real Redis; then what
several instances on one Redis must guarantee each other.

Delivery may be asynchronous (Redis hands a message to the sink from its pub/sub reader), so a
test waits for the sink to have been given what it expects instead of assuming it already was.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from room.consultation import Consultation
from signaling.clock import ManualClock, SystemClock
from signaling.matching import Free, Want, qualified, queue_order
from signaling.messages import Kind, Language, Priority, Role
from signaling.state import MemoryState, SessionRecord, SharedState
from signaling.state.memory import OUTBOX_LIMIT
from signaling.state.redis import LockTimeout, RedisState
from signaling.timers import Timers

WAIT_SECONDS = 5.0


def _prefix() -> str:
    # Tests share one redis-server: each gets its own keys.
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    backend: MemoryState | RedisState
    if request.param == "memory":
        backend = MemoryState()
    else:
        backend = RedisState.from_url(request.getfixturevalue("redis_url"), prefix=_prefix())
    yield backend
    await backend.close()


class Inbox:
    """A sink that records what it is given and lets a test wait until enough arrived."""

    def __init__(self, *, yields: bool = False) -> None:
        self.got: list[tuple[int, str]] = []
        self._changed = asyncio.Event()
        # Give the event loop a turn per message, like a sink writing to its socket directly:
        # other tasks (the pub/sub reader) run in the middle of a replay.
        self._yields = yields

    async def __call__(self, seq: int, text: str) -> None:
        if self._yields:
            await asyncio.sleep(0)
        self.got.append((seq, text))
        self._changed.set()

    async def wait_for(self, count: int) -> list[tuple[int, str]]:
        async with asyncio.timeout(WAIT_SECONDS):
            while len(self.got) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.got


def numbered(seq: int) -> str:
    return f"m{seq}"


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
        passed_by=("x", "y"),
    )


# -- the contract, for every backend ----------------------------------------------------------


@pytest.mark.timeout(10)
async def test_sessions(state: SharedState) -> None:
    await state.put_session(session("a", "ha"))
    await state.put_session(session("b", "hb"))
    assert (await state.get_session("a")) == session("a", "ha")
    assert (await state.session_by_resume_token("hb")) == session("b", "hb")
    assert await state.session_by_resume_token("nope") is None
    await state.delete_session("a")
    assert [s.session_id async for s in state.sessions()] == ["b"]
    assert await state.session_by_resume_token("ha") is None


@pytest.mark.timeout(10)
async def test_a_changed_resume_token_replaces_the_old_one(state: SharedState) -> None:
    await state.put_session(session("a", "old"))
    await state.put_session(session("a", "new").model_copy(update={"connected": False}))
    assert await state.session_by_resume_token("old") is None
    found = await state.session_by_resume_token("new")
    assert found is not None and not found.connected


@pytest.mark.timeout(10)
async def test_consultations_round_trip(state: SharedState) -> None:
    await state.put_consultation(consultation("c1", at=12.5))
    assert await state.get_consultation("c1") == consultation("c1", at=12.5)
    assert await state.get_consultation("nope") is None


@pytest.mark.timeout(10)
async def test_arrival_numbers_only_count_up(state: SharedState) -> None:
    numbers = [await state.next_sequence() for _ in range(5)]
    assert numbers == sorted(set(numbers))


@pytest.mark.timeout(10)
async def test_a_persons_sessions_are_found_by_identity(state: SharedState) -> None:
    tab = session("tab-1").model_copy(update={"identity": "lawyer-1"})
    other_tab = session("tab-2").model_copy(update={"identity": "lawyer-1"})
    await state.put_session(tab)
    await state.put_session(other_tab)
    await state.put_session(session("someone-else"))
    assert await state.sessions_of("lawyer-1") == [tab, other_tab]
    await state.delete_session("tab-1")
    assert await state.sessions_of("lawyer-1") == [other_tab]
    assert await state.sessions_of("nobody") == []


@pytest.mark.timeout(10)
async def test_people_on_duty_are_counted_once_per_role(state: SharedState) -> None:
    await state.set_on_duty(Role.LAWYER, "lawyer-1", True)
    await state.set_on_duty(Role.LAWYER, "lawyer-1", True)  # a second desk
    await state.set_on_duty(Role.LAWYER, "lawyer-2", True)
    await state.set_on_duty(Role.MEDIATOR, "mediator-1", True)
    assert await state.on_duty_counts() == {Role.LAWYER: 2, Role.MEDIATOR: 1}
    await state.set_on_duty(Role.MEDIATOR, "mediator-1", False)
    await state.set_on_duty(Role.LAWYER, "nobody", False)
    assert await state.on_duty_counts() == {Role.LAWYER: 2}


@pytest.mark.timeout(10)
async def test_an_ended_consultation_leaves_the_queue(state: SharedState) -> None:
    await state.put_consultation(consultation("c1"))
    await state.put_want(want("c1", 0.0))
    await state.put_want(want("c2", 1.0))
    assert await state.waiting() == ["c1", "c2"]
    await state.delete_consultation("c1")
    assert await state.waiting() == ["c2"]
    assert await state.get_consultation("c1") is None


@pytest.mark.timeout(10)
async def test_delivery_replays_what_a_detached_session_missed(state: SharedState) -> None:
    inbox = Inbox()
    assert await state.attach("s", inbox, after_seq=0) == 0
    await state.deliver("s", numbered)
    await inbox.wait_for(1)
    await state.detach("s", inbox)
    await state.deliver("s", numbered)
    await state.deliver("s", numbered)
    assert inbox.got == [(1, "m1")]
    assert await state.attach("s", inbox, after_seq=1) == 2
    assert inbox.got == [(1, "m1"), (2, "m2"), (3, "m3")]


@pytest.mark.timeout(10)
async def test_message_text_arrives_unchanged(state: SharedState) -> None:
    inbox = Inbox()
    await state.attach("s", inbox, after_seq=0)
    text = '{"seq": 1, "note": "村\\n a/b: \\"q\\" \\u00e9", "x": [1.5e300, null]}\n'
    await state.deliver("s", lambda seq: text)
    assert await inbox.wait_for(1) == [(1, text)]
    await state.detach("s", inbox)
    replayed = Inbox()
    await state.attach("s", replayed, after_seq=0)
    assert replayed.got == [(1, text)]


@pytest.mark.timeout(10)
async def test_detach_of_a_displaced_sink_keeps_the_new_one(state: SharedState) -> None:
    old, new = Inbox(), Inbox()
    await state.attach("s", old, after_seq=0)
    await state.attach("s", new, after_seq=0)
    await state.detach("s", old)
    await state.deliver("s", lambda seq: "x")
    assert await new.wait_for(1) == [(1, "x")]
    assert old.got == []


@pytest.mark.timeout(10)
async def test_the_outbox_keeps_the_newest_messages(state: SharedState) -> None:
    for _ in range(OUTBOX_LIMIT + 5):
        await state.deliver("s", numbered)
    inbox = Inbox()
    assert await state.attach("s", inbox, after_seq=0) == OUTBOX_LIMIT
    assert inbox.got[0] == (6, "m6")
    assert inbox.got[-1] == (OUTBOX_LIMIT + 5, f"m{OUTBOX_LIMIT + 5}")


@pytest.mark.timeout(10)
async def test_ending_a_session_forgets_its_messages(state: SharedState) -> None:
    await state.put_session(session("s"))
    await state.deliver("s", numbered)
    await state.delete_session("s")
    inbox = Inbox()
    assert await state.attach("s", inbox, after_seq=0) == 0
    await state.deliver("s", numbered)
    assert await inbox.wait_for(1) == [(1, "m1")]  # seq starts again


@pytest.mark.timeout(10)
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


@pytest.mark.timeout(10)
async def test_resetting_a_timer_moves_it(state: SharedState) -> None:
    await state.set_timer("grace:a", 5.0, "")
    await state.set_timer("grace:a", 50.0, "")
    assert await state.claim_due_timers(10.0) == []
    assert await state.next_timer_due() == 50.0


@pytest.mark.timeout(10)
async def test_timers_keep_full_epoch_precision(state: SharedState) -> None:
    due = 1_767_225_600.123456
    await state.set_timer("offer:c", due, "")
    assert await state.next_timer_due() == due
    assert await state.claim_due_timers(due - 1e-6) == []
    assert await state.claim_due_timers(due) == [("offer:c", "")]


@pytest.mark.timeout(10)
async def test_lock_excludes_other_tasks(state: SharedState) -> None:
    inside = 0
    most = 0

    async def critical() -> None:
        nonlocal inside, most
        async with state.lock("dispatch"):
            inside += 1
            most = max(most, inside)
            await state.waiting()  # a real await inside the section
            inside -= 1

    await asyncio.gather(*(critical() for _ in range(20)))
    assert most == 1


# -- a cancel lost on the way --------------------------------------------------------------------
# On Python 3.11 asyncio.wait_for returns normally when it is cancelled as the call it waits for
# completes, and redis-py sends every command through it: a task cancelled in a Redis call may
# carry on. These stand-ins lose the cancel deterministically, as that race does now and then.


async def losing_a_cancel(entered: asyncio.Event) -> None:
    """Wait to be cancelled, then carry on as if nothing happened (as 3.11's wait_for may)."""
    entered.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


async def stops_in_time(task: asyncio.Task[Any]) -> bool:
    # asyncio.wait, not a timeout around `await task`: a timeout's own cancel would be taken
    # for the task's and suppressed.
    done, _ = await asyncio.wait([task], timeout=WAIT_SECONDS)
    return task in done


@pytest.mark.timeout(10)
async def test_the_timer_loop_stops_when_a_call_to_the_state_lost_its_cancel(
    state: SharedState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server shutdown cancels the timer loop and waits for it (it hung with Redis)."""
    entered = asyncio.Event()
    claim = state.claim_due_timers

    async def claim_losing_a_cancel(now: float) -> list[tuple[str, str]]:
        claimed = await claim(now)
        if not entered.is_set():
            await losing_a_cancel(entered)
        return claimed

    monkeypatch.setattr(state, "claim_due_timers", claim_losing_a_cancel)
    # A clock nobody advances: a loop that missed its cancel waits in its sleep for ever.
    loop = asyncio.create_task(Timers(state, ManualClock()).run())
    await entered.wait()
    loop.cancel()
    assert await stops_in_time(loop)
    assert loop.cancelled()


# -- several instances on one Redis -----------------------------------------------------------


class ErrorSeen(logging.Handler):
    """Sets `seen` once an error is logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


@pytest.mark.timeout(20)
async def test_the_timer_loop_rides_out_a_redis_error(
    make_instance: Callable[..., RedisState],
) -> None:
    """A Redis error while claiming (here a key of the wrong type, a real error from the real
    server) is logged and retried: the deadlines set afterwards still fire."""
    state = make_instance()
    await state._redis.set(state._keys.timers, "not a sorted set")
    fired = asyncio.Event()

    async def fire(subject: str, payload: str) -> None:
        fired.set()

    timers = Timers(state, SystemClock())
    timers.on("t", fire)
    errors = ErrorSeen()
    logging.getLogger("signaling.timers").addHandler(errors)
    loop = asyncio.create_task(timers.run())
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await errors.seen.wait()
        assert not loop.done()
        await state._redis.delete(state._keys.timers)
        await timers.set("t", "after", 0.0)
        async with asyncio.timeout(WAIT_SECONDS):
            await fired.wait()
    finally:
        logging.getLogger("signaling.timers").removeHandler(errors)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


Instances = tuple[RedisState, RedisState]


@pytest.fixture
async def make_instance(redis_url: str) -> AsyncIterator[Callable[..., RedisState]]:
    """Instances sharing one key prefix, as two servers would; closed at the end."""
    prefix = _prefix()
    made: list[RedisState] = []

    def make(**options: Any) -> RedisState:
        instance = RedisState.from_url(redis_url, prefix=prefix, **options)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        await instance.close()


@pytest.fixture
def pair(make_instance: Callable[..., RedisState]) -> Instances:
    return make_instance(), make_instance()


@pytest.mark.timeout(20)
async def test_two_instances_racing_for_a_lock_are_serialized(pair: Instances) -> None:
    a, b = pair
    inside = 0
    most = 0
    entered = 0

    async def critical(state: RedisState) -> None:
        nonlocal inside, most, entered
        async with state.lock("dispatch"):
            inside += 1
            most = max(most, inside)
            entered += 1
            await state.waiting()
            inside -= 1

    await asyncio.gather(*(critical(s) for s in (a, b) * 15))
    assert (most, entered) == (1, 30)


@pytest.mark.timeout(20)
async def test_a_due_timer_is_claimed_by_exactly_one_instance(pair: Instances) -> None:
    a, b = pair
    keys = [f"offer:c{i}" for i in range(50)]
    for i, key in enumerate(keys):
        await (a if i % 2 else b).set_timer(key, 100.0 + i, key.upper())
    claims = await asyncio.gather(
        *(s.claim_due_timers(100.0 + n) for n in range(50) for s in (a, b))
    )
    claimed = [key for batch in claims for key, _ in batch]
    assert sorted(claimed) == sorted(keys)
    assert all(payload == key.upper() for batch in claims for key, payload in batch)


@pytest.mark.timeout(20)
async def test_a_timer_set_by_a_dead_instance_fires_on_another(
    make_instance: Callable[..., RedisState],
) -> None:
    a, b = make_instance(), make_instance()
    await a.set_timer("grace:s", 10.0, "p")
    await a.close()
    assert await b.next_timer_due() == 10.0
    assert await b.claim_due_timers(11.0) == [("grace:s", "p")]


@pytest.mark.timeout(20)
async def test_a_message_from_a_reaches_a_session_attached_on_b(pair: Instances) -> None:
    a, b = pair
    inbox = Inbox()
    await b.attach("s", inbox, after_seq=0)
    await a.deliver("s", numbered)
    await a.deliver("s", numbered)
    assert await inbox.wait_for(2) == [(1, "m1"), (2, "m2")]


@pytest.mark.timeout(20)
async def test_a_resumed_session_moves_to_its_new_instance(pair: Instances) -> None:
    a, b = pair
    on_a, on_b = Inbox(), Inbox()
    await a.attach("s", on_a, after_seq=0)
    await b.deliver("s", numbered)
    await on_a.wait_for(1)
    # The page reloads onto b before a notices its socket closed.
    assert await b.attach("s", on_b, after_seq=1) == 0
    await a.detach("s", on_a)  # must not take the session away from b
    await a.deliver("s", numbered)
    assert await on_b.wait_for(1) == [(2, "m2")]
    assert on_a.got == [(1, "m1")]


@pytest.mark.timeout(20)
async def test_a_failing_sink_does_not_stop_delivery_to_others(
    pair: Instances, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pair
    failed = asyncio.Event()

    async def closing_socket(seq: int, text: str) -> None:
        failed.set()
        raise ConnectionResetError("websocket closing")

    good = Inbox()
    await b.attach("broken", closing_socket, after_seq=0)
    await b.attach("fine", good, after_seq=0)
    with caplog.at_level(logging.ERROR, logger="signaling.state.redis"):
        await a.deliver("broken", numbered)
        await a.deliver("fine", numbered)
        await a.deliver("broken", numbered)
        await a.deliver("fine", numbered)
        assert await good.wait_for(2) == [(1, "m1"), (2, "m2")]
    assert failed.is_set()
    assert "session=broken sink failed" in caplog.text


@pytest.mark.timeout(20)
async def test_detach_deliver_attach_elsewhere_replays_exactly_the_missed(
    pair: Instances,
) -> None:
    a, b = pair
    inbox = Inbox()
    await b.attach("s", inbox, after_seq=0)
    await a.deliver("s", numbered)
    await inbox.wait_for(1)
    await b.detach("s", inbox)
    await a.deliver("s", numbered)
    await b.deliver("s", numbered)
    assert await a.attach("s", inbox, after_seq=1) == 2
    await a.deliver("s", numbered)
    assert await inbox.wait_for(4) == [(1, "m1"), (2, "m2"), (3, "m3"), (4, "m4")]


@pytest.mark.timeout(20)
async def test_concurrent_senders_on_two_instances_keep_seq_order(pair: Instances) -> None:
    a, b = pair
    inbox = Inbox()
    await b.attach("s", inbox, after_seq=0)
    await asyncio.gather(*(s.deliver("s", numbered) for s in (a, b) * 50))
    got = await inbox.wait_for(100)
    assert got == [(n, f"m{n}") for n in range(1, 101)]


@pytest.mark.timeout(20)
async def test_attaching_while_messages_flow_loses_and_repeats_nothing(pair: Instances) -> None:
    a, b = pair
    per_sender, senders = 100, (a, b, a)
    total = per_sender * len(senders)
    sent = 0
    halfway = asyncio.Event()

    async def sender(state: RedisState) -> None:
        nonlocal sent
        for _ in range(per_sender):
            await state.deliver("s", numbered)
            sent += 1
            if sent == total // 2:
                halfway.set()

    inbox = Inbox(yields=True)
    sending = asyncio.gather(*(sender(s) for s in senders))
    async with asyncio.timeout(WAIT_SECONDS):
        await halfway.wait()
    await b.attach("s", inbox, after_seq=0)
    await sending
    assert await inbox.wait_for(total) == [(n, f"m{n}") for n in range(1, total + 1)]


@pytest.mark.timeout(20)
async def test_a_dead_instance_holding_a_lock_lets_it_expire(
    make_instance: Callable[..., RedisState],
) -> None:
    dying = make_instance(lock_ttl=0.3)
    impatient = make_instance(lock_timeout=1.0)
    survivor = make_instance()
    held = dying.lock("dispatch")
    await held.__aenter__()  # and never leaves: the instance dies inside the section
    # Held well past its TTL while the holder lives: it is being extended.
    with pytest.raises(LockTimeout):
        async with impatient.lock("dispatch"):
            pass
    await dying.close()
    async with asyncio.timeout(WAIT_SECONDS), survivor.lock("dispatch"):
        pass


@pytest.mark.timeout(20)
async def test_a_lock_is_released_when_its_keeper_lost_the_cancel(
    make_instance: Callable[..., RedisState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release cancels the keeper and waits for it: a keeper that missed the cancel would
    extend the lock for ever, the release would never return, and no instance could dispatch."""
    holder = make_instance(lock_ttl=0.3)  # extended every 0.1 s
    other = make_instance()
    entered = asyncio.Event()
    extend = holder._scripts.extend_lock

    async def extend_losing_a_cancel(**kwargs: Any) -> Any:
        extended = await extend(**kwargs)
        if not entered.is_set():
            await losing_a_cancel(entered)
        return extended

    monkeypatch.setattr(holder._scripts, "extend_lock", extend_losing_a_cancel)

    async def hold() -> None:
        async with holder.lock("dispatch"):
            await entered.wait()  # leaves while the keeper is in its extend call

    holding = asyncio.create_task(hold())
    assert await stops_in_time(holding)
    holding.result()
    async with asyncio.timeout(WAIT_SECONDS), other.lock("dispatch"):
        pass


@pytest.mark.timeout(20)
async def test_close_stops_a_reader_that_lost_the_cancel(
    make_instance: Callable[..., RedisState],
) -> None:
    """Server shutdown closes the state, which cancels the pub/sub reader and waits for it."""
    a, sender = make_instance(), make_instance()
    entered = asyncio.Event()

    async def sink(seq: int, text: str) -> None:
        await losing_a_cancel(entered)  # any call in the reader's loop: a catch-up's script

    await a.attach("s", sink, after_seq=0)
    await sender.deliver("s", numbered)
    await entered.wait()
    closing = asyncio.create_task(a.close())
    assert await stops_in_time(closing)
    closing.result()


@pytest.mark.timeout(20)
async def test_a_bounded_pool_rides_out_a_burst(make_instance: Callable[..., RedisState]) -> None:
    small = make_instance(max_connections=3)
    inbox = Inbox()
    await small.attach("s", inbox, after_seq=0)  # the reader holds one of the three
    burst: list[Awaitable[object]] = [small.deliver("s", numbered) for _ in range(200)]
    burst += [small.put_session(session(f"p{n}", f"h{n}")) for n in range(200)]
    await asyncio.gather(*burst)
    assert len(await inbox.wait_for(200)) == 200
    assert len([s async for s in small.sessions()]) == 200


@pytest.mark.timeout(20)
async def test_delivery_catches_up_after_the_pubsub_connection_drops(
    pair: Instances, redis_url: str
) -> None:
    a, b = pair
    inbox = Inbox()
    await b.attach("s", inbox, after_seq=0)
    await a.deliver("s", numbered)
    await inbox.wait_for(1)
    admin = Redis.from_url(redis_url)
    try:
        assert await admin.client_kill_filter(_type="pubsub") >= 1
    finally:
        await admin.aclose()
    # Published while b's reader is reconnecting: nobody receives it live.
    await a.deliver("s", numbered)
    await a.deliver("s", numbered)
    assert await inbox.wait_for(3) == [(1, "m1"), (2, "m2"), (3, "m3")]


@pytest.mark.timeout(10)
async def test_counts_run_over_a_window_and_reset(state: SharedState) -> None:
    assert [await state.count("signin:a", 60.0, now) for now in (0.0, 10.0, 59.0)] == [1, 2, 3]
    assert await state.count("signin:a", 60.0, 60.0) == 1  # a new window
    assert await state.count("signin:b", 60.0, 60.0) == 1
    await state.reset_count("signin:a")
    assert await state.count("signin:a", 60.0, 61.0) == 1


# -- the dispatch index, for every backend ----------------------------------------------------

# Epoch seconds: the float arithmetic of `queue_order` is exact there, so its order at any time
# is the index's time-free order exactly.
T0 = 1_700_000_000.0
ZH, MN = Language.ZH, Language.MN


def want(
    rid: str, at: float, priority: Priority = Priority.NORMAL, seq: int = 0, **kw: Any
) -> Want:
    fields: dict[str, Any] = {"kind": Kind.CONSULTATION, "topic": "labour", "language": ZH}
    fields.update(kw)
    return Want(rid, arrived_at=T0 + at, priority=priority, sequence=seq, **fields)


def free(identity: str, since: float, role: Role = Role.LAWYER, **kw: Any) -> Free:
    fields: dict[str, Any] = {"topics": frozenset(), "languages": frozenset({ZH})}
    fields.update(kw)
    return Free(identity, role=role, free_since=T0 + since, **fields)


async def ids(state: SharedState) -> list[str]:
    return [w.request_id for w in await state.wants()]


async def first_id(state: SharedState, pro: Free) -> str | None:
    found = await state.first_want_for(pro)
    return None if found is None else found.request_id


@pytest.mark.timeout(10)
async def test_wants_put_replace_and_remove(state: SharedState) -> None:
    a, b = want("a", 0, seq=1), want("b", 1, seq=2)
    await state.put_want(a)
    await state.put_want(b)
    moved = want("a", 2, seq=1, passed_by=frozenset({"x"}), topic="traffic")
    await state.put_want(moved)
    assert await state.wants() == [b, moved]
    await state.remove_want("b")
    await state.remove_want("b")
    await state.remove_want("never")
    assert await state.wants() == [moved]
    await state.remove_want("a")
    assert await state.wants() == []
    assert await state.first_want_for(free("l", 0)) is None


@pytest.mark.timeout(10)
async def test_a_want_for_a_topic_outside_the_catalogue_is_refused(state: SharedState) -> None:
    with pytest.raises(ValueError, match="unknown topic"):
        await state.put_want(want("a", 0, topic="astrology"))
    assert await state.wants() == []


@pytest.mark.timeout(10)
async def test_wants_come_in_queue_order(state: SharedState) -> None:
    wants = [
        want("n-old", 0, seq=1),
        want("n-new", 50, seq=2, topic="traffic", language=MN),
        want("e-new", 90, Priority.ELDERLY, seq=3, kind=Kind.MEDIATION, topic="land"),
        want("u", 99, Priority.URGENT, seq=4, any_language=True),
        # Arrived 120 s after n-old, an elderly class: the same score, so arrival decides.
        want("e-tie", 120, Priority.ELDERLY, seq=5),
        # Two in the same instant: the sequence decides.
        want("same-2", 60, seq=7),
        want("same-1", 60, seq=6, topic="traffic"),
    ]
    for w in wants:
        await state.put_want(w)
    expected = [w.request_id for w in queue_order(wants, now=T0 + 100)]
    assert expected == ["u", "e-new", "n-old", "e-tie", "n-new", "same-1", "same-2"]
    assert await ids(state) == expected
    # Time passing never reorders them.
    assert [w.request_id for w in queue_order(wants, now=T0 + 10_000)] == expected


@pytest.mark.timeout(10)
async def test_equal_scores_go_by_arrival_then_sequence(state: SharedState) -> None:
    # The same score (an elderly head start of 120 s); sequences against the arrival order.
    normal = want("normal", 0, seq=9)
    elderly = want("elderly", 120, Priority.ELDERLY, seq=3)
    elsewhere = want("elsewhere", 120, Priority.ELDERLY, seq=1, topic="traffic")
    for w in (elsewhere, elderly, normal):
        await state.put_want(w)
    assert await ids(state) == ["normal", "elsewhere", "elderly"]
    assert await first_id(state, free("l", 0, topics={"labour"})) == "normal"
    assert await first_id(state, free("l", 0)) == "normal"
    await state.remove_want("normal")
    # The same score and instant in two queues: the sequence decides.
    assert await first_id(state, free("l", 0)) == "elsewhere"


@pytest.mark.timeout(10)
async def test_first_want_for_takes_kind_topic_and_language_into_account(
    state: SharedState,
) -> None:
    for w in (
        want("mediation", 0, seq=1, kind=Kind.MEDIATION, topic="land"),
        want("traffic-mn", 1, seq=2, topic="traffic", language=MN),
        want("labour-mn", 2, seq=3, language=MN),
        want("labour-mn-any", 3, seq=4, language=MN, any_language=True),
        want("labour-zh", 4, seq=5),
    ):
        await state.put_want(w)
    assert await first_id(state, free("mediator", 0, Role.MEDIATOR)) == "mediation"
    assert await first_id(state, free("mediator", 0, Role.MEDIATOR, topics={"labour"})) is None
    # Empty topics: every topic.
    assert await first_id(state, free("all-mn", 0, languages={MN})) == "traffic-mn"
    assert await first_id(state, free("labour-mn", 0, topics={"labour"}, languages={MN})) == (
        "labour-mn"
    )
    # A zh speaker: the mn request once any language will do, before the later zh one.
    assert await first_id(state, free("zh", 0, topics={"labour"})) == "labour-mn-any"
    assert await first_id(state, free("zh", 0, topics={"consumer"})) is None
    assert await first_id(state, free("village", 0, Role.VILLAGE)) is None


@pytest.mark.timeout(10)
async def test_first_want_for_skips_what_the_professional_passed_on(state: SharedState) -> None:
    for w in (
        want("a", 0, seq=1, passed_by=frozenset({"l1", "l2"})),
        want("b", 1, seq=2, passed_by=frozenset({"l1"})),
        want("c", 2, seq=3, topic="traffic"),
        want("d", 3, seq=4),
    ):
        await state.put_want(w)
    assert await first_id(state, free("l1", 0)) == "c"  # best across queues
    assert await first_id(state, free("l1", 0, topics={"labour"})) == "d"
    assert await first_id(state, free("l2", 0)) == "b"
    assert await first_id(state, free("l3", 0)) == "a"


@pytest.mark.timeout(10)
async def test_first_want_for_walks_past_a_long_run_it_passed_on(state: SharedState) -> None:
    for i in range(40):
        await state.put_want(want(f"passed-{i:02}", i, seq=i, passed_by=frozenset({"l"})))
    await state.put_want(want("open", 50, seq=50))
    await state.put_want(want("later", 60, seq=60, topic="traffic"))
    assert await first_id(state, free("l", 0)) == "open"


@pytest.mark.timeout(10)
async def test_a_replaced_want_changes_queue_without_a_stale_entry(state: SharedState) -> None:
    mn = want("r", 0, seq=1, language=MN)
    zh_pro = free("zh", 0)
    await state.put_want(mn)
    assert await state.first_want_for(zh_pro) is None
    widened = want("r", 0, seq=1, language=MN, any_language=True)
    await state.put_want(widened)
    assert await state.first_want_for(zh_pro) == widened
    assert await state.first_want_for(free("mn", 0, languages={MN})) == widened
    passed = want("r", 0, seq=1, language=MN, any_language=True, passed_by=frozenset({"zh"}))
    await state.put_want(passed)
    assert await state.first_want_for(zh_pro) is None
    assert await state.wants() == [passed]
    await state.remove_want("r")
    assert await state.first_want_for(free("mn", 0, languages={MN})) is None
    assert await state.wants() == []


@pytest.mark.timeout(10)
async def test_free_professionals_longest_idle_first(state: SharedState) -> None:
    pros = [
        free("b", 5),
        free("a", 5, Role.MEDIATOR),
        free("c", 1, languages={MN}),
        free("d", 9, topics={"labour"}),
    ]
    for p in pros:
        await state.put_free(p)
    assert [p.identity for p in await state.free_professionals()] == ["c", "a", "b", "d"]
    again = free("c", 20, languages={MN})
    await state.put_free(again)
    await state.remove_free("a")
    await state.remove_free("never")
    assert await state.free_professionals() == [pros[0], pros[3], again]


@pytest.mark.timeout(10)
async def test_first_free_for_is_the_longest_idle_qualified(state: SharedState) -> None:
    for p in (
        free("zh-only", 0),
        free("mn-traffic", 50, languages={MN}, topics={"traffic"}),
        free("mn-any", 10, languages={MN, ZH}),
        free("mn-labour", 1, languages={MN}, topics={"labour"}),
        free("mediator", 0, Role.MEDIATOR, languages={MN}),
    ):
        await state.put_free(p)

    async def first(w: Want) -> str | None:
        found = await state.first_free_for(w)
        return None if found is None else found.identity

    assert await first(want("r", 0, topic="traffic", language=MN)) == "mn-any"
    assert await first(want("r", 0, topic="traffic", language=MN, any_language=True)) == "zh-only"
    passed = frozenset({"mn-any"})
    assert await first(want("r", 0, topic="traffic", language=MN, passed_by=passed)) == (
        "mn-traffic"
    )
    assert await first(want("r", 0, kind=Kind.MEDIATION, topic="land", language=ZH)) is None
    assert await first(want("r", 0, kind=Kind.MEDIATION, topic="land", language=MN)) == "mediator"
    await state.remove_free("mn-any")
    assert await first(want("r", 0, topic="labour", language=MN)) == "mn-labour"


# Few topics, identities and instants, so that queues, passes and ties are common.
TOPICS = ("labour", "traffic", "land")
IDENTITIES = ("p1", "p2", "p3", "p4", "p5")
instants = st.one_of(
    st.integers(0, 40).map(lambda k: T0 + 30 * k),  # many requests tied in score
    st.integers(0, 2000).map(lambda k: T0 + k / 4),  # ties across classes: head starts differ
    st.integers(0, 10**10).map(lambda us: T0 + us / 1e6),  # microseconds over a few hours
)
identity_sets = st.frozensets(st.sampled_from(IDENTITIES))


@st.composite
def wants_st(draw: st.DrawFn, min_size: int = 0, max_size: int = 30) -> list[Want]:
    """Requests r0, r1, ... with sequence = index (arrival times drawn apart from it)."""
    n = draw(st.integers(min_size, max_size))
    return [
        Want(
            f"r{i}",
            kind=draw(st.sampled_from(Kind)),
            topic=draw(st.sampled_from(TOPICS)),
            language=draw(st.sampled_from(Language)),
            priority=draw(st.sampled_from(Priority)),
            arrived_at=draw(instants),
            passed_by=draw(identity_sets),
            any_language=draw(st.booleans()),
            sequence=i,
        )
        for i in range(n)
    ]


pros_st = st.builds(
    Free,
    identity=st.sampled_from(IDENTITIES),
    role=st.sampled_from(Role),
    topics=st.frozensets(st.sampled_from(TOPICS)),
    languages=st.frozensets(st.sampled_from(Language), min_size=1),
    free_since=instants,
)


async def _emptied(state: SharedState) -> SharedState:
    """The same state for every example (a fixture): what the last one left goes first."""
    for w in await state.wants():
        await state.remove_want(w.request_id)
    for p in await state.free_professionals():
        await state.remove_free(p.identity)
    return state


@pytest.mark.timeout(60)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    wants=wants_st(),
    replaced=st.lists(st.tuples(st.integers(0, 29), identity_sets, st.booleans()), max_size=5),
    removed=st.sets(st.integers(0, 29), max_size=5),
    pro=pros_st,
    wait=st.floats(0, 10_000),
)
async def test_first_want_for_is_the_first_qualified_in_queue_order(
    state: SharedState,
    wants: list[Want],
    replaced: list[tuple[int, frozenset[str], bool]],
    removed: set[int],
    pro: Free,
    wait: float,
) -> None:
    state = await _emptied(state)
    current = {w.request_id: w for w in wants}
    for w in wants:
        await state.put_want(w)
    # Replace some (passes grow, any language flips) and remove some: no stale entry may stay.
    for i, more, flip in replaced:
        if (old := current.get(f"r{i}")) is not None:
            new = dataclasses.replace(
                old, passed_by=old.passed_by | more, any_language=old.any_language ^ flip
            )
            current[new.request_id] = new
            await state.put_want(new)
    for i in removed:
        current.pop(f"r{i}", None)
        await state.remove_want(f"r{i}")
    now = max((w.arrived_at for w in current.values()), default=T0) + wait
    order = queue_order(current.values(), now)
    assert await state.wants() == order
    assert await state.first_want_for(pro) == next((w for w in order if qualified(pro, w)), None)


@pytest.mark.timeout(60)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pros=st.lists(pros_st, max_size=len(IDENTITIES), unique_by=lambda p: p.identity),
    w=wants_st(min_size=1, max_size=1).map(lambda ws: ws[0]),
)
async def test_first_free_for_is_the_longest_idle_qualified_in_match_order(
    state: SharedState, pros: list[Free], w: Want
) -> None:
    state = await _emptied(state)
    for p in pros:
        await state.put_free(p)
    idle = sorted(pros, key=lambda p: (p.free_since, p.identity))
    assert await state.free_professionals() == idle
    assert await state.first_free_for(w) == next((p for p in idle if qualified(p, w)), None)
