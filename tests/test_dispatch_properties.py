"""Dispatch under random interleavings (issue 5): arrivals, cancels, accepts, declines, offer
timeouts, wrap-ups, escalations, dropped and resumed connections and hang-ups, on a real `Hub`
over each state backend.

After every step, from the shared state and from what each client was sent: no request rings at
two professionals, no professional is reserved twice, every request is in exactly one place
(waiting, ringing, in a room, or ended and its villager told), nothing that could be matched is
left waiting, and offers within one priority class and queue go out in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from room.consultation import Consultation
from server.authz import message_permissions
from signaling.errors import ProtocolError, error_for
from signaling.hub import Hub, HubSettings, handle
from signaling.identity import DemoAccount, Identity, StaticDirectory
from signaling.matching import Free, Want, qualified
from signaling.messages import (
    Accept,
    CallbackLeft,
    CallState,
    CallStateChanged,
    CancelRequest,
    ClientMessage,
    ConsultationEnded,
    ConsultationOffer,
    Decline,
    DutyState,
    EndReason,
    Error,
    HangUp,
    Hello,
    Kind,
    Language,
    LeaveCallback,
    OfferWithdrawn,
    Priority,
    RequestConsultation,
    Resume,
    Role,
    RoomJoined,
    ServerMessage,
    SetDuty,
    Welcome,
    parse_server,
)
from signaling.pairing import IN_ROOM
from signaling.state import MemoryState, SessionRecord, SharedState, Sink
from signaling.state.redis import RedisState
from signaling.topics import TOPIC_SLUGS

SETTINGS = HubSettings(
    grace_seconds=30.0, offer_timeout=20.0, wrap_up_seconds=5.0, escalate_after=60.0
)
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, as ManualClock
# How far the test clock moves each time it is read.
TICK_SECONDS = 1e-5
# Bounds on waiting for the hub's own work; reaching one is a failure, never a pause.
SETTLE_SECONDS = 10.0
# More timer rounds than this at one instant means a timer that keeps re-arming itself.
MAX_TIMER_ROUNDS = 200
# A session of no client: messages delivered to it mark how far delivery has got.
BARRIER_SESSION = "s_barrier"
# Withdrawal reasons that add the professional to the request's `passed_by`.
PASSES = frozenset({"declined", "timeout", "off_duty", "disconnected"})


def _account(role: Role, name: str, **what: Any) -> DemoAccount:
    return DemoAccount(Identity(role, name, name, **what), f"token-{name}")


LAWYER_ALL = _account(Role.LAWYER, "lawyer-all")
# Professionals who differ in what they take, so that qualification and escalation matter.
ACCOUNTS: tuple[DemoAccount, ...] = (
    _account(Role.VILLAGE, "village-1"),
    _account(Role.VILLAGE, "village-2"),
    _account(Role.VILLAGE, "village-3"),
    _account(Role.VILLAGE, "village-4"),
    _account(Role.VILLAGE, "village-5"),
    LAWYER_ALL,
    _account(Role.LAWYER, "lawyer-zh", topics=("labour", "traffic"), languages=(Language.ZH,)),
    _account(Role.LAWYER, "lawyer-mn", languages=(Language.MN,)),
    _account(Role.MEDIATOR, "mediator"),
)
# (name, account): one device per account...
DEVICES: tuple[tuple[str, DemoAccount], ...] = tuple((a.identity.identity, a) for a in ACCOUNTS)
# ...and a second tab for one lawyer: a person signed in twice is still one professional, to be
# offered one request at a time.
WITH_SECOND_TAB = (*DEVICES, ("lawyer-all/tab-2", LAWYER_ALL))
# Drawn with repeats, so that requests often share a priority class and a queue and the order
# among them is put to the test. A neighbour dispute goes to a mediator.
TOPICS = ("labour", "labour", "labour", "traffic", "neighbour")
LANGUAGES = (Language.ZH, Language.ZH, Language.ZH, Language.MN)
PRIORITIES = (Priority.NORMAL, Priority.NORMAL, Priority.NORMAL, Priority.ELDERLY, Priority.URGENT)
assert set(TOPICS) <= set(TOPIC_SLUGS)


class SteppedClock:
    """A hand-driven clock whose timer loop runs only when the test lets it.

    `ManualClock` wakes the loop on every advance and lets it run beside the next step; here
    timers fire at instants the test picks and never interleave with a step, so an example
    replays the same way every time (hypothesis shrinks by replaying).
    """

    def __init__(self, start: float, tick: float) -> None:
        self._now = start
        self._tick = tick
        self._parked = asyncio.Event()
        self._go = asyncio.Event()

    def now(self) -> float:
        # Each reading a little later than the last, as on a real clock. Timers due at one
        # instant fire in the order of their keys, which hold random ids: with ties, the same
        # steps could play out differently on a replay.
        self._now += self._tick
        return self._now

    def move_to(self, when: float) -> None:
        self._now = max(self._now, when)

    async def sleep_until(self, deadline: float, wake: asyncio.Event | None = None) -> None:
        # Deadline and wake are ignored: `turn` is the only way out.
        self._parked.set()
        await self._go.wait()
        self._go.clear()

    async def turn(self) -> None:
        """Let the parked timer loop fire what is due, once, and wait until it parks again."""
        async with asyncio.timeout(SETTLE_SECONDS):
            await self._parked.wait()
            self._parked.clear()
            self._go.set()
            await self._parked.wait()


class Line:
    """One connection of a device: the hub's `Peer`, standing in for the websocket."""

    def __init__(self, device: Device, number: int) -> None:
        self.connection_id = f"w_{device.name}_{number}"
        self.finished = asyncio.Event()
        self.closed_with: int | None = None
        self._device = device
        # One bound method for the line's life: the state detaches a sink by identity.
        self._sink: Sink = self._deliver

    def reply(self, message: ServerMessage) -> None:
        self._device.replies.append(message)

    @property
    def sink(self) -> Sink:
        return self._sink

    async def _deliver(self, seq: int, text: str) -> None:
        self._device.receive(self, seq, parse_server(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        self.finished.set()

    def close_after_flush(self, code: int, reason: str) -> None:
        # Nothing is queued here: every message was handed to the device as it was sent.
        self.closed_with = code
        self.finished.set()


@dataclass(eq=False)
class Device:
    """A terminal or a professional's desk: its current connection and what it was told."""

    name: str
    account: DemoAccount
    # Every message delivered to any device, in delivery order (the machine's, shared).
    deliveries: list[tuple[Device, ServerMessage]]
    session: SessionRecord | None = None
    resume_token: str | None = None
    line: Line | None = None
    lines: int = 0
    last_seq: int = 0
    replies: list[ServerMessage] = field(default_factory=list)
    # What the messages said, for the session it holds now.
    calls: dict[str, CallState] = field(default_factory=dict)
    ended: dict[str, EndReason] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)
    rooms: set[str] = field(default_factory=set)
    on_duty: bool = False

    @property
    def role(self) -> Role:
        return self.account.identity.role

    @property
    def identity(self) -> str:
        return self.account.identity.identity

    def holds(self, session_id: str) -> bool:
        return self.session is not None and self.session.session_id == session_id

    def open_calls(self) -> list[str]:
        return [cid for cid, state in self.calls.items() if state is not CallState.ENDED]

    def connect(self) -> Line:
        self.lines += 1
        self.line = Line(self, self.lines)
        return self.line

    def forget_session(self) -> None:
        """Signed in afresh or told the session is gone: what it knew no longer applies."""
        self.session, self.resume_token, self.last_seq = None, None, 0
        self.calls, self.ended, self.offers, self.rooms = {}, {}, set(), set()
        self.on_duty = False

    def receive(self, line: Line, seq: int, message: ServerMessage) -> None:
        assert line is self.line, f"{self.name}: message on a replaced connection: {message}"
        # Per session, seq counts up from 1: a gap is a lost message, a repeat a duplicate.
        assert seq == self.last_seq + 1, f"{self.name}: seq {seq} after {self.last_seq}"
        self.last_seq = seq
        self.deliveries.append((self, message))
        match message:
            case CallStateChanged(consultation_id=cid, state=state):
                self.calls[cid] = state
            case CallbackLeft(consultation_id=cid):
                # Out of this terminal's hands until it is rung back (a room_joined).
                self.calls.pop(cid, None)
            case ConsultationOffer(consultation_id=cid):
                self.offers.add(cid)
            case OfferWithdrawn(consultation_id=cid):
                assert cid in self.offers, f"{self.name}: {cid} withdrawn but never offered"
                self.offers.discard(cid)
            case RoomJoined(consultation_id=cid):
                self.offers.discard(cid)
                self.rooms.add(cid)
            case ConsultationEnded(consultation_id=cid, reason=reason):
                self.rooms.discard(cid)
                self.ended[cid] = reason
            case DutyState(on_duty=on_duty):
                self.on_duty = on_duty
            case _:
                pass


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the test made it; `arrival` is the order the terminals asked in."""

    consultation_id: str
    arrival: int
    device: Device
    village_session: str
    priority: Priority
    kind: Kind
    topic: str
    language: Language

    @property
    def queue(self) -> tuple[Kind, str, Language]:
        return (self.kind, self.topic, self.language)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The shared state between two steps."""

    now: float
    sessions: dict[str, SessionRecord]
    waiting: list[str]
    consultations: dict[str, Consultation | None]  # every known request; None: ended

    def comparable(self) -> tuple[Any, ...]:
        return (
            sorted(s.model_dump_json() for s in self.sessions.values()),
            self.waiting,
            {k: None if c is None else c.model_dump_json() for k, c in self.consultations.items()},
        )


class ErrorLog(logging.Handler):
    """Errors the hub only logs (a failing timer handler, a lock lost): each one fails."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def logged_errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logger = logging.getLogger("signaling")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _free(account: DemoAccount) -> Free:
    who = account.identity
    return Free(
        identity=who.identity,
        role=who.role,
        topics=frozenset(who.topics),
        languages=frozenset(who.languages or tuple(Language)),
        free_since=0.0,
    )


def _want(r: Request, passed_by: frozenset[str], any_language: bool) -> Want:
    return Want(
        request_id=r.consultation_id,
        kind=r.kind,
        topic=r.topic,
        language=r.language,
        priority=r.priority,
        arrived_at=0.0,
        passed_by=passed_by,
        any_language=any_language,
    )


Backend = Callable[[], SharedState]


class DispatchMachine(RuleBasedStateMachine):
    """One hub, five terminals, four professionals (and, in memory, a second tab of one); each
    rule is one thing a client or the network does, or a stretch of time, and every step ends
    with all the checks."""

    def __init__(
        self,
        backend: Backend,
        devices: tuple[tuple[str, DemoAccount], ...] = DEVICES,
        tick: float = TICK_SECONDS,
    ) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.deliveries: list[tuple[Device, ServerMessage]] = []
        self.devices = [Device(name, a, self.deliveries) for name, a in devices]
        self.tick = tick
        self.requests: dict[str, Request] = {}
        # Requests left as callbacks: no terminal follows them until they are rung back.
        self.callbacks: set[str] = set()
        self._errors = contextlib.ExitStack()
        self.errors = self._errors.enter_context(logged_errors())
        self.runner.run(self._start(backend))

    async def _start(self, backend: Backend) -> None:
        self.state = backend()
        self.clock = SteppedClock(START, self.tick)
        self.hub = Hub(
            self.state,
            self.clock,
            StaticDirectory(ACCOUNTS),
            SETTINGS,
            message_permissions(),
        )
        self.barrier = asyncio.Event()
        await self.state.attach(BARRIER_SESSION, self._at_barrier, 0)
        self.timer_loop = asyncio.create_task(self.hub.timers.run())
        self.timers_fired_until = START
        self.snapshot = await self._snapshot()
        self.seen = 0  # deliveries already checked

    async def _at_barrier(self, seq: int, text: str) -> None:
        self.barrier.set()

    def teardown(self) -> None:
        try:
            self.runner.run(self._stop())
        finally:
            self.runner.close()
            self._errors.close()

    async def _stop(self) -> None:
        self.timer_loop.cancel()
        await asyncio.gather(self.timer_loop, return_exceptions=True)
        await self.hub.drain()
        await self.state.close()

    # -- driving -------------------------------------------------------------------------------

    def step(self, work: Coroutine[Any, Any, None]) -> None:
        """Run one action, then every check against the state before it."""
        self.runner.run(self._step(work))

    async def _step(self, work: Coroutine[Any, Any, None]) -> None:
        before = self.snapshot
        lines_before = {d: d.line for d in self.devices}
        await work
        await self._settle()
        self.snapshot = await self._snapshot()
        self._check_places(self.snapshot)
        self._check_reservations(self.snapshot)
        self._check_views(self.snapshot)
        self._check_nothing_left_behind(self.snapshot)
        self._check_arrival_order(before, lines_before)
        self.seen = len(self.deliveries)
        assert not self.errors.records, [r.getMessage() for r in self.errors.records]

    async def _settle(self) -> None:
        """Wait until every message sent so far has reached its device: Redis hands them over
        from its pub/sub reader, in the order they were sent, so a marker sent last comes last.
        """
        self.barrier.clear()
        await self.state.deliver(BARRIER_SESSION, lambda seq: "barrier")
        async with asyncio.timeout(SETTLE_SECONDS):
            await self.barrier.wait()

    async def send(self, device: Device, message: ClientMessage) -> Error | None:
        """As the connection does: the hub's handler, a refusal answered with an error."""
        assert device.line is not None and device.session is not None
        try:
            await handle(self.hub, device.line, device.session, message)
        except ProtocolError as exc:
            code, text = error_for(exc)
            error = Error(code=code, message=text)
            device.line.reply(error)
            return error
        return None

    async def expect(self, device: Device, message: ClientMessage, ok: bool) -> None:
        """Send; a refusal must be expected and change nothing (since the last step: a refusal
        is expected only of a step's one message)."""
        error = await self.send(device, message)
        assert (error is None) == ok, f"{device.name} {message!r}: {error!r}, expected ok={ok}"
        if error is not None:
            after = await self._snapshot()
            assert after.comparable() == self.snapshot.comparable(), f"{error} changed the state"

    async def advance(self, seconds: float) -> None:
        """Move time on, firing each timer at its own instant, in order."""
        target = self.clock.now() + seconds
        for _ in range(MAX_TIMER_ROUNDS):
            due = await self.state.next_timer_due()
            if due is None or due > target:
                break
            self.clock.move_to(due)
            await self.clock.turn()
            self.timers_fired_until = due
        else:
            pytest.fail(f"timers still due after {MAX_TIMER_ROUNDS} rounds")
        self.clock.move_to(target)
        self.timers_fired_until = target

    async def _snapshot(self) -> Snapshot:
        sessions = {s.session_id: s async for s in self.state.sessions()}
        waiting = await self.state.waiting()
        ids = set(self.requests) | set(waiting)
        ids |= {s.consultation_id for s in sessions.values() if s.consultation_id}
        return Snapshot(
            now=self.clock.now(),
            sessions=sessions,
            waiting=waiting,
            consultations={cid: await self.state.get_consultation(cid) for cid in sorted(ids)},
        )

    def attached(self, village: bool | None = None) -> list[Device]:
        """Connected devices: terminals (True), professionals (False) or all (None)."""
        return [
            d
            for d in self.devices
            if d.line is not None and village in (None, d.role is Role.VILLAGE)
        ]

    def idle_terminals(self) -> list[Device]:
        return [d for d in self.attached(village=True) if not d.open_calls()]

    def pick(self, data: st.DataObject, devices: list[Device]) -> Device:
        # By name: what hypothesis prints, and the same on a replay.
        name = data.draw(st.sampled_from([d.name for d in devices]), label="device")
        return next(d for d in self.devices if d.name == name)

    # -- rules ---------------------------------------------------------------------------------

    @initialize(data=st.data())
    def open_the_day(self, data: st.DataObject) -> None:
        """Everyone signs in and some professionals go on duty, so that the steps go to
        dispatch rather than to getting there."""
        pros = [d.name for d in self.devices if d.role is not Role.VILLAGE]
        on_duty = data.draw(st.lists(st.sampled_from(pros), unique=True), label="on duty")
        self.step(self.start_day(*on_duty))

    async def start_day(self, *on_duty: str) -> None:
        for device in self.devices:
            await self.signs_in(device)
        for device in self.devices:
            if device.name in on_duty:
                await self.expect(device, SetDuty(on_duty=True), ok=True)

    async def signs_in(self, device: Device) -> None:
        device.forget_session()
        line = device.connect()
        device.session = await self.hub.hello(
            line,
            Hello(role=device.role, identity=device.identity, token=device.account.token),
        )
        welcome = device.replies[-1]
        assert isinstance(welcome, Welcome)
        device.resume_token = welcome.resume_token

    @precondition(lambda self: self.attached(village=False))
    @rule(data=st.data())
    def set_duty(self, data: st.DataObject) -> None:
        device = self.pick(data, self.attached(village=False))
        on_duty = data.draw(st.booleans(), label="on_duty")
        self.step(self.expect(device, SetDuty(on_duty=on_duty), ok=True))

    @precondition(lambda self: self.idle_terminals())
    @rule(data=st.data())
    def ask(self, data: st.DataObject) -> None:
        """A terminal asks for a consultation."""
        device = self.pick(data, self.idle_terminals())
        topic = data.draw(st.sampled_from(TOPICS), label="topic")
        language = data.draw(st.sampled_from(LANGUAGES), label="language")
        priority = data.draw(st.sampled_from(PRIORITIES), label="priority")
        self.step(self.asks(device, topic, language, priority))

    async def asks(
        self, device: Device, topic: str, language: Language, priority: Priority
    ) -> None:
        assert device.session is not None
        message = RequestConsultation(topic=topic, language=language, priority=priority)
        await self.expect(device, message, ok=True)
        session = await self.state.get_session(device.session.session_id)
        assert session is not None and session.consultation_id is not None
        c = await self.state.get_consultation(session.consultation_id)
        assert c is not None
        self.requests[c.consultation_id] = Request(
            consultation_id=c.consultation_id,
            arrival=len(self.requests),
            device=device,
            village_session=session.session_id,
            priority=priority,
            kind=c.kind,
            topic=topic,
            language=language,
        )

    @precondition(lambda self: any(d.offers for d in self.attached(village=False)))
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        """Accept or decline the offer ringing at this desk."""
        device = self.pick(data, [d for d in self.attached(village=False) if d.offers])
        accept = data.draw(st.booleans(), label="accept")
        (cid,) = device.offers  # one at a time, as the checks hold
        message = Accept(consultation_id=cid) if accept else Decline(consultation_id=cid)
        self.step(self.expect(device, message, ok=True))

    @precondition(lambda self: any(d.open_calls() for d in self.attached(village=True)))
    @rule(data=st.data())
    def terminal_ends(self, data: st.DataObject) -> None:
        """A terminal gives up waiting (cancel_request, or hang_up before a room) or hangs up."""
        device = self.pick(data, [d for d in self.attached(village=True) if d.open_calls()])
        hang_up = data.draw(st.booleans(), label="hang_up")
        (cid,) = device.open_calls()  # a terminal has one request at a time
        state = device.calls[cid]
        message: ClientMessage
        if hang_up or state in IN_ROOM:
            message = HangUp(consultation_id=cid)
        else:
            message = CancelRequest(consultation_id=cid)
        self.step(self.expect(device, message, ok=True))

    @precondition(lambda self: any(d.rooms for d in self.attached(village=False)))
    @rule(data=st.data())
    def professional_hangs_up(self, data: st.DataObject) -> None:
        device = self.pick(data, [d for d in self.attached(village=False) if d.rooms])
        (cid,) = device.rooms
        self.step(self.expect(device, HangUp(consultation_id=cid), ok=True))

    @precondition(lambda self: self.requests and self.attached())
    @rule(data=st.data())
    def out_of_turn(self, data: st.DataObject) -> None:
        """Any device sends accept, decline, cancel or hang-up about any request: mostly one
        that is not (or no longer) the sender's to act on (a stale offer, someone else's request,
        a cancel once in a room). Allowed exactly when it is theirs; a refusal changes nothing.
        """
        device = self.pick(data, self.attached())
        kind = data.draw(st.sampled_from(["accept", "decline", "cancel", "hang_up"]), label="kind")
        # By arrival number: consultation ids are random, and a replay must draw the same one.
        n = data.draw(st.sampled_from(sorted(r.arrival for r in self.requests.values())))
        cid = next(c for c, r in self.requests.items() if r.arrival == n)
        c = self.snapshot.consultations[cid]
        sid = device.session.session_id if device.session else None
        mine_to_answer = c is not None and sid in c.ringing_desks()
        mine_to_cancel = (
            c is not None
            and c.village_session == sid
            and c.state in (CallState.WAITING, CallState.RINGING)
        )
        in_it = c is not None and sid in (c.village_session, c.professional_session)
        message: ClientMessage
        if kind == "accept":
            message, ok = Accept(consultation_id=cid), mine_to_answer
        elif kind == "decline":
            message, ok = Decline(consultation_id=cid), mine_to_answer
        elif kind == "cancel":
            message, ok = CancelRequest(consultation_id=cid), mine_to_cancel
        else:
            message = HangUp(consultation_id=cid)
            ok = mine_to_cancel or (in_it and c is not None and c.state in IN_ROOM)
        allowed = self.hub.permissions.get(message.type, frozenset())
        self.step(self.expect(device, message, ok=ok and device.role in allowed))

    @precondition(lambda self: any(d.open_calls() for d in self.attached(village=True)))
    @rule(data=st.data())
    def leave_callback(self, data: st.DataObject) -> None:
        """A waiting terminal leaves a callback instead (allowed only while it waits)."""
        device = self.pick(data, [d for d in self.attached(village=True) if d.open_calls()])
        (cid,) = device.open_calls()
        c = self.snapshot.consultations[cid]
        waiting = c is not None and c.state is CallState.WAITING
        self.step(self.expect(device, LeaveCallback(consultation_id=cid), ok=waiting))
        if waiting:
            self.callbacks.add(cid)

    @precondition(lambda self: any(d.open_calls() for d in self.attached(village=True)))
    @rule(data=st.data())
    def ask_again(self, data: st.DataObject) -> None:
        """A terminal with a request open asks again: refused."""
        device = self.pick(data, [d for d in self.attached(village=True) if d.open_calls()])
        message = RequestConsultation(topic="labour", language=Language.ZH)
        self.step(self.expect(device, message, ok=False))

    @rule(data=st.data())
    def network(self, data: st.DataObject) -> None:
        """The network and the browser: a websocket drops; a device comes back (resuming if it
        can, else signing in); a page reloads and resumes while its old socket is still open;
        a page that lost its resume token signs in afresh, its old session left to expire."""
        attached = self.attached()
        detached = [d for d in self.devices if d.line is None]
        moves = {
            "drop": attached,
            "come_back": detached,
            "reload": [d for d in attached if d.resume_token],
            "sign_in_afresh": [d for d in detached if d.resume_token],
        }
        move = data.draw(st.sampled_from([m for m, ds in moves.items() if ds]), label="move")
        device = self.pick(data, moves[move])
        if move == "drop":
            self.step(self.drops(device))
        elif move == "sign_in_afresh" or device.resume_token is None:
            self.step(self.signs_in(device))
        else:
            self.step(self.resumes(device))

    async def drops(self, device: Device) -> None:
        assert device.line is not None and device.session is not None
        line, device.line = device.line, None
        await self.hub.disconnected(line, device.session.session_id)

    async def resumes(self, device: Device) -> None:
        assert device.resume_token is not None and device.session is not None
        session_id = device.session.session_id
        alive = session_id in self.snapshot.sessions
        old = device.line
        line = device.connect()
        try:
            device.session = await self.hub.resume(
                line, Resume(resume_token=device.resume_token, last_seq=device.last_seq)
            )
        except ProtocolError:
            assert not alive, f"{device.name} could not resume a live session"
            device.forget_session()
            device.line = None
            return
        assert alive, f"{device.name} resumed a session that had ended"
        if old is not None:
            assert old.closed_with == 4000, "the displaced connection was not closed"
            # What the old connection's handler does as it finishes (a no-op once displaced).
            await self.hub.disconnected(old, session_id)

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        """Some seconds, or (None) straight to the next timer: an offer timeout, the end of a
        grace period or a wrap-up, an escalation."""
        seconds = data.draw(st.sampled_from([None, 1.0, 3.0, 10.0, 25.0, 35.0]), label="seconds")
        self.step(self.lets_time_pass(seconds))

    async def lets_time_pass(self, seconds: float | None) -> None:
        if seconds is None:
            due = await self.state.next_timer_due()
            seconds = 0.0 if due is None else due - self.clock.now()
        await self.advance(seconds)

    # -- checks --------------------------------------------------------------------------------

    def _check_places(self, snap: Snapshot) -> None:
        """Every request is in exactly one place: waiting in the queue, ringing at one
        professional, in a room, or ended (deleted) with its villager told why."""
        assert len(snap.waiting) == len(set(snap.waiting)), f"queued twice: {snap.waiting}"
        assert set(snap.waiting) <= set(self.requests), "a queued request nobody made"
        referenced: dict[str, list[str]] = {}
        for s in snap.sessions.values():
            if s.consultation_id is not None:
                referenced.setdefault(s.consultation_id, []).append(s.session_id)
        for cid, r in self.requests.items():
            c = snap.consultations[cid]
            queued = cid in snap.waiting
            if c is None:
                assert not queued, f"{cid} ended but still queued"
                assert cid not in referenced, f"{cid} ended but {referenced[cid]} still hold it"
                # Told, if the terminal is still there to be told (its session not expired); a
                # callback that was never rung back has no terminal to tell.
                if (
                    cid not in self.callbacks
                    and r.device.line is not None
                    and r.device.holds(r.village_session)
                ):
                    assert cid in r.device.ended, f"{cid} ended; its terminal was not told"
                continue
            where = f"{cid} ({c.state})"
            assert c.state is not CallState.ENDED, f"{where} kept after it ended"
            # A callback whose terminal was away waits out its retry interval off the queue.
            retrying = c.ring_back_at is not None
            assert queued == (c.state is CallState.WAITING and not retrying), (
                f"{where} queued={queued}"
            )
            if c.callback and not c.village_session:
                assert c.state in (CallState.WAITING, CallState.RINGING), f"{where} unbound"
            else:
                village = snap.sessions.get(c.village_session)
                assert village is not None, f"{where} outlived its terminal's session"
                assert village.consultation_id == cid, f"{where}: terminal holds {village}"
            if c.state is CallState.WAITING:
                assert c.professional_session is None, f"{where} waits with a professional"
                continue
            assert c.professional_session is not None, f"{where} without a professional"
            if c.state is not CallState.RINGING:
                assert c.state in IN_ROOM and not c.also_ringing, f"{where} rings in a room"
            for desk in (c.professional_session, *c.also_ringing):
                pro = snap.sessions.get(desk)
                assert pro is not None, f"{where}: its professional's session {desk} is gone"
                assert pro.consultation_id == cid, f"{where}: its professional holds {pro}"
                assert pro.identity == c.professional_identity, f"{where} rings at {pro}"
                if c.state is CallState.RINGING:
                    # An offer rings only where someone can answer it.
                    assert pro.connected and pro.on_duty, f"{where} rings at an empty chair: {pro}"

    def _check_reservations(self, snap: Snapshot) -> None:
        """No professional (a person, whatever sessions they have) is ringing for or in more
        than one consultation; a session reserved for one is in it."""
        held: dict[str, list[str]] = {}
        for cid, c in snap.consultations.items():
            if c is not None and c.professional_identity is not None:
                held.setdefault(c.professional_identity, []).append(f"{cid} ({c.state})")
        for identity, cids in held.items():
            assert len(cids) == 1, f"{identity} reserved {len(cids)} times: {cids}"
        for s in snap.sessions.values():
            if s.role is Role.VILLAGE or s.consultation_id is None:
                continue
            c = snap.consultations.get(s.consultation_id)
            assert c is not None, f"{s.identity} reserved for an ended {s.consultation_id}"
            assert s.session_id in (c.professional_session, *c.also_ringing), (
                f"{s.identity} holds {c}"
            )

    def _check_views(self, snap: Snapshot) -> None:
        """What each connected device was told agrees with the state: one ringing offer at
        one professional (at every desk of theirs it rings at), the room, the duty flag, the
        terminal's call state."""
        ringing_at: dict[str, list[str]] = {}
        engaged: dict[str, set[str]] = {}  # identity -> what its devices ring for or are in
        for d in self.devices:
            if d.line is None or d.session is None:
                continue
            session = snap.sessions.get(d.session.session_id)
            assert session is not None, f"{d.name} is connected to an ended session"
            c = snap.consultations.get(session.consultation_id or "")
            if d.role is Role.VILLAGE:
                if c is not None:
                    assert d.calls.get(c.consultation_id) is c.state, (d.name, d.calls, c.state)
                for cid, state in d.calls.items():
                    if snap.consultations.get(cid) is None:
                        assert state is CallState.ENDED and cid in d.ended, (d.name, cid)
                continue
            assert len(d.offers) + len(d.rooms) <= 1, f"{d.name}: {d.offers} {d.rooms}"
            ringing = (
                {c.consultation_id} if c and session.session_id in c.ringing_desks() else set()
            )
            in_room = {c.consultation_id} if c and c.state in IN_ROOM else set()
            assert (d.offers, d.rooms) == (ringing, in_room), (d.name, d.offers, d.rooms, c)
            assert d.on_duty == session.on_duty, (d.name, d.on_duty, session)
            for cid in d.offers:
                ringing_at.setdefault(cid, []).append(d.identity)
            engaged.setdefault(d.identity, set()).update(d.offers | d.rooms)
        for cid, identities in ringing_at.items():
            assert len(set(identities)) == 1, f"{cid} rings at {identities}"
        for identity, cids in engaged.items():
            assert len(cids) <= 1, f"{identity}'s devices ring for or are in {cids}"

    def _check_nothing_left_behind(self, snap: Snapshot) -> None:
        """No request waits while a free professional could take it: dispatch ran after
        everything that frees someone. A person with a session in a call or writing one up
        (in another tab) is not counted free."""
        engaged = {
            c.professional_identity
            for c in snap.consultations.values()
            if c is not None and c.professional_identity is not None
        }
        # A wrap-up is over once its timer could fire: this clock moves a little with every
        # reading, but timers fire only when the test lets time pass.
        over_by = self.timers_fired_until
        engaged |= {s.identity for s in snap.sessions.values() if s.wrap_up_until > over_by}
        accounts = {a.identity.identity: a for a in ACCOUNTS}
        free = {
            s.identity
            for s in snap.sessions.values()
            if s.role is not Role.VILLAGE
            and s.on_duty
            and s.connected
            and s.consultation_id is None
            and s.wrap_up_until <= over_by
            and s.identity not in engaged
        }
        for cid in snap.waiting:
            c = snap.consultations[cid]
            assert c is not None
            want = _want(self.requests[cid], frozenset(c.passed_by), c.any_language)
            takers = [p for p in sorted(free) if qualified(_free(accounts[p]), want)]
            assert not takers, f"{cid} waits while {takers} are free to take it"

    def _check_arrival_order(
        self, before: Snapshot, lines_before: dict[Device, Line | None]
    ) -> None:
        """Replay this step's messages in the order they were sent: when a request is offered
        to someone, no older request of its priority class and queue that they could take is
        waiting.

        Where each request stands at that moment is followed from its terminal's call_state
        messages, so only requests whose terminal was connected throughout the step are judged.
        """
        status = {
            cid: (c.state if c else CallState.ENDED) for cid, c in before.consultations.items()
        }
        passed = {cid: set(c.passed_by) for cid, c in before.consultations.items() if c}
        # Widened during the step is not seen here: judging by the narrower request only ever
        # excuses an offer, never blames one.
        widened = {cid: c.any_language for cid, c in before.consultations.items() if c}
        followed = [
            r
            for r in self.requests.values()
            if r.consultation_id not in self.callbacks
            and r.device.line is not None
            and lines_before.get(r.device) is r.device.line
            and r.device.holds(r.village_session)
        ]
        for device, message in self.deliveries[self.seen :]:
            match message:
                case CallStateChanged(consultation_id=cid, state=state):
                    if device.role is Role.VILLAGE:
                        status[cid] = state
                case OfferWithdrawn(consultation_id=cid, reason=reason) if reason in PASSES:
                    passed.setdefault(cid, set()).add(device.identity)
                case ConsultationOffer(consultation_id=cid):
                    offered = self.requests[cid]
                    pro = _free(device.account)
                    for older in followed:
                        if (
                            older.arrival < offered.arrival
                            and status.get(older.consultation_id) is CallState.WAITING
                            and older.priority is offered.priority
                            and older.queue == offered.queue
                            and qualified(
                                pro,
                                _want(
                                    older,
                                    frozenset(passed.get(older.consultation_id, ())),
                                    widened.get(older.consultation_id, False),
                                ),
                            )
                        ):
                            pytest.fail(
                                f"{cid} (arrival {offered.arrival}) offered to {pro.identity} "
                                f"while {older.consultation_id} (arrival {older.arrival}), "
                                f"same class {older.priority} and queue {older.queue}, waited"
                            )
                case _:
                    pass


# -- the runs -----------------------------------------------------------------------------------


def _settings(examples: int, *, shrink: bool) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(
        max_examples=examples,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        # One failure, shrunk; not every distinct one, and no "explain" phase: each would replay
        # the failing sequence hundreds of times more.
        report_multiple_bugs=False,
        phases=[*phases, Phase.shrink] if shrink else phases,
    )


# The bound covers shrinking a failure (hypothesis gives it up to five minutes; in memory it
# takes seconds): a timeout would be reported instead of the failing steps. A pass takes ~15 s
# on a loaded two-core machine, the Redis run ~30 s.
@pytest.mark.timeout(330)
def test_dispatch_in_memory() -> None:
    class InMemory(DispatchMachine):
        def __init__(self) -> None:
            super().__init__(MemoryState, WITH_SECOND_TAB)

    run_state_machine_as_test(InMemory, settings=_settings(100, shrink=True))


@pytest.mark.timeout(90)
def test_dispatch_in_redis(redis_url: str) -> None:
    """The same machine on Redis, without the second tab: Redis lists sessions in hash order,
    so which of two free tabs rings would change from one replay to the next.

    Not shrunk: a replay costs 0.3-1.5 s and shrinking takes minutes. A failure is printed as
    found, kept in hypothesis' database and replayed first on the next run; the memory run
    above shrinks whatever the two have in common."""

    class InRedis(DispatchMachine):
        def __init__(self) -> None:
            # Examples share one redis-server: each gets its own keys.
            prefix = f"prop:{uuid.uuid4().hex}:"
            super().__init__(lambda: RedisState.from_url(redis_url, prefix=prefix))

    run_state_machine_as_test(InRedis, settings=_settings(20, shrink=False))


# -- the failures found, as the shortest sequences (issue 5) --------------------------------------


@contextlib.contextmanager
def scripted(
    devices: tuple[tuple[str, DemoAccount], ...] = DEVICES, tick: float = TICK_SECONDS
) -> Iterator[DispatchMachine]:
    """The machine without hypothesis: a test plays the steps, every check runs after each."""
    machine = DispatchMachine(MemoryState, devices, tick)
    try:
        yield machine
    finally:
        machine.teardown()


def _device(machine: DispatchMachine, name: str) -> Device:
    return next(d for d in machine.devices if d.name == name)


@pytest.mark.timeout(30)
def test_a_missed_offer_pauses_the_professional_before_anything_else_rings() -> None:
    """Autopause: the desk that let an offer ring out is paused, not offered the next request
    (which would ring at an empty chair and time out too)."""
    with scripted() as m:
        lawyer = _device(m, "lawyer-all")
        m.step(m.start_day("lawyer-all"))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        m.step(m.asks(_device(m, "village-2"), "labour", Language.ZH, Priority.NORMAL))
        assert len(lawyer.offers) == 1
        m.step(m.advance(SETTINGS.offer_timeout))
        assert not lawyer.offers and not lawyer.on_duty


@pytest.mark.timeout(30)
def test_the_wrap_up_leaves_an_off_duty_professional_off_duty() -> None:
    """Off duty during a call: the wrap-up notice after it must not tell the desk it is on duty
    (the server holds it off duty and offers it nothing)."""
    with scripted() as m:
        lawyer = _device(m, "lawyer-all")
        m.step(m.start_day("lawyer-all"))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        (cid,) = lawyer.offers
        m.step(m.expect(lawyer, Accept(consultation_id=cid), ok=True))
        m.step(m.expect(lawyer, SetDuty(on_duty=False), ok=True))
        m.step(m.expect(_device(m, "village-1"), HangUp(consultation_id=cid), ok=True))
        assert not lawyer.on_duty


@pytest.mark.timeout(30)
def test_a_professional_signed_in_twice_rings_for_one_request() -> None:
    """Two tabs on duty are one person: both ring for the first request; the second waits for
    someone else."""
    with scripted(WITH_SECOND_TAB) as m:
        tabs = _device(m, "lawyer-all"), _device(m, "lawyer-all/tab-2")
        m.step(m.start_day(*(t.name for t in tabs)))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        m.step(m.asks(_device(m, "village-2"), "labour", Language.ZH, Priority.NORMAL))
        assert tabs[0].offers == tabs[1].offers and len(tabs[0].offers) == 1


@pytest.mark.timeout(30)
def test_the_first_desk_to_accept_wins_and_the_other_stops_ringing() -> None:
    with scripted(WITH_SECOND_TAB) as m:
        first, second = _device(m, "lawyer-all"), _device(m, "lawyer-all/tab-2")
        m.step(m.start_day(first.name, second.name))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        (cid,) = second.offers
        m.step(m.expect(second, Accept(consultation_id=cid), ok=True))
        assert second.rooms == {cid} and not first.offers and not first.rooms
        told = [
            msg.reason for d, msg in m.deliveries if d is first and isinstance(msg, OfferWithdrawn)
        ]
        assert told == ["answered_elsewhere"]
        # The desk that lost is no longer in it: its late accept is refused.
        m.step(m.expect(first, Accept(consultation_id=cid), ok=False))


@pytest.mark.timeout(30)
def test_a_decline_at_one_desk_stops_every_desk_of_that_person() -> None:
    with scripted(WITH_SECOND_TAB) as m:
        first, second = _device(m, "lawyer-all"), _device(m, "lawyer-all/tab-2")
        m.step(m.start_day(first.name, second.name))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        (cid,) = first.offers
        m.step(m.expect(_device(m, "lawyer-zh"), SetDuty(on_duty=True), ok=True))
        m.step(m.expect(first, Decline(consultation_id=cid), ok=True))
        assert not first.offers and not second.offers
        assert _device(m, "lawyer-zh").offers == {cid}


@pytest.mark.timeout(30)
def test_one_desk_dropping_leaves_the_other_ringing() -> None:
    with scripted(WITH_SECOND_TAB) as m:
        first, second = _device(m, "lawyer-all"), _device(m, "lawyer-all/tab-2")
        m.step(m.start_day(first.name, second.name))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        (cid,) = second.offers
        m.step(m.drops(first))
        assert second.offers == {cid}
        m.step(m.expect(second, Accept(consultation_id=cid), ok=True))
        assert second.rooms == {cid}


@pytest.mark.timeout(30)
def test_signing_in_afresh_mid_call_brings_no_offer_until_the_call_ends() -> None:
    """A lawyer whose page lost its resume token signs in again while the villager waits for
    them to come back (the grace period): no new offer meanwhile."""
    with scripted() as m:
        lawyer = _device(m, "lawyer-all")
        m.step(m.start_day("lawyer-all"))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        (cid,) = lawyer.offers
        m.step(m.expect(lawyer, Accept(consultation_id=cid), ok=True))
        m.step(m.drops(lawyer))
        m.step(m.signs_in(lawyer))
        m.step(m.expect(lawyer, SetDuty(on_duty=True), ok=True))
        m.step(m.asks(_device(m, "village-2"), "labour", Language.ZH, Priority.NORMAL))


@pytest.mark.timeout(30)
def test_requests_of_one_instant_keep_their_order_after_a_pass() -> None:
    """Two requests read the same clock (ManualClock in tests; a coarse clock): the first,
    passed back to the queue, still goes before the second."""
    with scripted(tick=0.0) as m:
        m.step(m.start_day("lawyer-all"))
        m.step(m.asks(_device(m, "village-1"), "labour", Language.ZH, Priority.NORMAL))
        m.step(m.asks(_device(m, "village-2"), "labour", Language.ZH, Priority.NORMAL))
        m.step(m.expect(_device(m, "lawyer-all"), SetDuty(on_duty=False), ok=True))
        m.step(m.expect(_device(m, "lawyer-zh"), SetDuty(on_duty=True), ok=True))
