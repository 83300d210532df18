"""Dispatch: a terminal's request is offered to a free on-duty professional who qualifies.

Matching (signaling/matching) decides who gets what: priority with aging, then longest waiting;
the longest idle qualified professional. It runs incrementally: each event matches only what
changed (a request placed in the queue, a person who became free) against the shared dispatch
index, which holds the waiting requests and the free professionals. That is the whole match
because of the invariant every event keeps: no waiting request is qualified for any free
professional. A tick once a second re-checks the whole index (a safety net) and tells the
villagers where they stand.

A professional is a person, whatever sessions (tabs, devices) they have: busy while any of
them rings, talks or writes up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from room.call import Event
from room.consultation import NO_PROFESSIONAL, Consultation
from signaling.clock import Clock
from signaling.errors import ErrorCode, ProtocolError
from signaling.journal import Journal
from signaling.matching import KIND_ROLE, Free, Want, positions
from signaling.messages import (
    CallbackLeft,
    CallState,
    CallStateChanged,
    ConsultationEnded,
    ConsultationOffer,
    DutyState,
    EndReason,
    Kind,
    Language,
    OfferWithdrawn,
    RequestConsultation,
    Role,
    RoomJoined,
    ServerMessage,
    Waiting,
    WithdrawReason,
)
from signaling.outbox import send
from signaling.state.base import SessionRecord, SharedState
from signaling.timers import Timers
from signaling.topics import Professional, topic

log = logging.getLogger(__name__)

DISPATCH_LOCK = "dispatch"
PROFESSIONAL_KIND = {Professional.LAWYER: Kind.CONSULTATION, Professional.MEDIATOR: Kind.MEDIATION}
PROFESSIONAL_ROLES = (Role.LAWYER, Role.MEDIATOR)
IN_ROOM = (CallState.JOINED, CallState.NEGOTIATING, CallState.CONNECTED)


# The `waiting` tick's timer subject (one for the whole queue).
TICK = "queue"
# The sweep (matching what no event matched) runs with the tick at most this often (clock s).
SWEEP_EVERY = 5.0
# Telling the villagers reads the whole queue: at most this often (real seconds) per instance.
TELL_INTERVAL = 0.25
# A villager near the front hears of every change within a second; one far back, whose place
# moves with every offer, every few seconds (1,000 waiting would otherwise mean 1,000 messages
# a second, for news that matters little to those at the back).
NEAR_FRONT = 10
FAR_BACK_INTERVAL = 5.0


def update_interval(position: int) -> float:
    """Seconds at least between two `waiting` updates to a villager at this position."""
    return 1.0 if position <= NEAR_FRONT else FAR_BACK_INTERVAL


# (position, on duty, free, estimated wait) as last sent to a villager.
Update = tuple[int, int, int, int | None]


def new_consultation_id() -> str:
    return "c_" + secrets.token_urlsafe(12)


class Pairing:
    def __init__(
        self,
        state: SharedState,
        clock: Clock,
        timers: Timers,
        offer_timeout: float,
        journal: Journal,
        wrap_up_seconds: float = 0.0,
        escalate_after: float = 300.0,
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        callback_tries: int = 3,
        callback_retry_seconds: float = 120.0,
    ) -> None:
        """`spawn` runs background work the owner waits for at shutdown (`Hub.spawn`)."""
        self._state = state
        self.callback_tries = callback_tries
        self.callback_retry_seconds = callback_retry_seconds
        self.wrap_up_seconds = wrap_up_seconds
        self.escalate_after = escalate_after
        # Recent call lengths per topic, for the villager's estimated wait (this instance's).
        self._handled: dict[str, deque[float]] = {}
        self.journal = journal
        self._clock = clock
        self._timers = timers
        self._offer_timeout = offer_timeout
        self._spawn = spawn
        # What each villager was last told from this instance, and when (clock time).
        self._told: dict[str, tuple[Update, float]] = {}
        self._villagers: dict[str, str] = {}
        # The run that tells them: one at a time; another due if positions changed meanwhile.
        self._telling = False
        self._dirty = False
        self._told_real = float("-inf")
        self._last_sweep = float("-inf")
        timers.on("offer", self._offer_expired)
        timers.on("wrapup", self._wrap_up_over)
        timers.on("escalate", self._escalate)
        timers.on("tick", self._tick)
        timers.on("callback", self._ring_back_again)

    async def consultation_of(self, session: SessionRecord, consultation_id: str) -> Consultation:
        """The consultation if this session takes part in it; not_found otherwise, so a stranger
        learns nothing about other people's consultations."""
        c = await self._state.get_consultation(consultation_id)
        if c is None or session.session_id not in (
            c.village_session,
            c.professional_session,
            *c.also_ringing,
        ):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no consultation {consultation_id} of yours")
        return c

    # -- requests ------------------------------------------------------------------------------

    async def request(self, session: SessionRecord, msg: RequestConsultation) -> Consultation:
        async with self._state.lock(DISPATCH_LOCK):
            current = await self._state.get_session(session.session_id)
            if current is None or current.consultation_id is not None:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE,
                    "this terminal already has a consultation; hang up or cancel it first",
                )
            kind = msg.kind or PROFESSIONAL_KIND[topic(msg.topic).professional]
            c = Consultation(
                consultation_id=new_consultation_id(),
                village_session=session.session_id,
                village_identity=session.identity,
                village_name=session.display_name,
                topic=msg.topic,
                language=msg.language,
                kind=kind,
                requested_at=self._clock.now(),
                priority=msg.priority,
                sequence=await self._state.next_sequence(),
            )
            # The record first: a request the database never saw is not offered to anyone.
            await self.journal.requested(c, c.requested_at)
            await self._state.put_consultation(c)
            await self._state.put_session(
                current.model_copy(update={"consultation_id": c.consultation_id})
            )
            await self._timers.set("escalate", c.consultation_id, self.escalate_after)
            log.info(
                "consultation=%s requested by %s topic=%s language=%s kind=%s",
                c.consultation_id,
                session.identity,
                c.topic,
                c.language,
                c.kind,
            )
            await send(
                self._state,
                session.session_id,
                CallStateChanged(consultation_id=c.consultation_id, state=c.state),
            )
            await self._place(c)
        self._positions_changed()
        return c

    async def leave_callback(
        self, session: SessionRecord, consultation_id: str, phone: str | None
    ) -> None:
        """The villager would rather be rung back than wait: the request keeps its place in the
        queue without the terminal, which is free for the next villager meanwhile."""
        async with self._state.lock(DISPATCH_LOCK):
            c = await self.consultation_of(session, consultation_id)
            if c.village_session != session.session_id:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "only the terminal that asked may leave a callback"
                )
            if c.state is not CallState.WAITING:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE, "only a waiting request can become a callback"
                )
            c = c.model_copy(
                update={"callback": True, "callback_phone": phone, "village_session": ""}
            )
            await self._state.put_consultation(c)
            await self._free(session.session_id)
            log.info("consultation=%s left as a callback", consultation_id)
            await send(
                self._state,
                session.session_id,
                CallbackLeft(consultation_id=consultation_id, phone=phone),
            )
        self._told.pop(consultation_id, None)
        self._villagers.pop(consultation_id, None)

    async def requeue(self, c: Consultation) -> None:
        """The professional dropped out of the call and did not come back within the grace
        period: the request goes back to the front of the queue, and the villager is told (the
        terminal waits again, for the next professional)."""
        async with self._state.lock(DISPATCH_LOCK):
            current = await self._state.get_consultation(c.consultation_id)
            if current is None or current.state not in IN_ROOM:
                return
            gone = current.professional_identity
            c = current.moved(
                Event.REQUEUE,
                **NO_PROFESSIONAL,
                answered_at=None,
                front=True,
            )
            await self._state.put_consultation(c)
            log.warning(
                "consultation=%s: %s did not come back; back to the front of the queue",
                c.consultation_id,
                gone,
            )
            await self._to_terminal(
                c, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
            )
            await self._place(c)
        self._positions_changed()

    async def _ring_back_again(self, consultation_id: str, _payload: str) -> None:
        """A callback whose terminal was away goes back in the queue for another try."""
        async with self._state.lock(DISPATCH_LOCK):
            c = await self._state.get_consultation(consultation_id)
            if c is not None and c.callback and c.state is CallState.WAITING:
                c = c.model_copy(update={"ring_back_at": None})
                await self._state.put_consultation(c)
                await self._place(c)
        self._positions_changed()

    async def _idle_terminal(self, identity: str) -> SessionRecord | None:
        """A connected session of the terminal with nothing else going on: where a callback
        rings back."""
        idle = [
            s
            for s in await self._state.sessions_of(identity)
            if s.role is Role.VILLAGE and s.connected and s.consultation_id is None
        ]
        return min(idle, key=lambda s: s.session_id) if idle else None

    async def _place(self, c: Consultation) -> None:
        """Put a waiting request in the queue and offer it to the longest idle professional
        free to take it, if any. Under the dispatch lock."""
        want = _want(c)
        await self._state.put_want(want)
        while (pro := await self._state.first_free_for(want)) is not None:
            if await self._offer(c, pro.identity):
                return

    async def _escalate(self, consultation_id: str, _payload: str) -> None:
        """Nobody with the villager's language answered in time: any qualified professional
        will do, with an interpreter."""
        async with self._state.lock(DISPATCH_LOCK):
            c = await self._state.get_consultation(consultation_id)
            if c is None or c.state is CallState.ENDED or c.any_language:
                return
            c = c.model_copy(update={"any_language": True})
            await self._state.put_consultation(c)
            log.info(
                "consultation=%s widened to any language (interpreter needed)", c.consultation_id
            )
            if c.state is CallState.WAITING:
                await self._place(c)
        self._positions_changed()

    # -- professionals -------------------------------------------------------------------------

    async def refresh(self, identity: str) -> None:
        """Something about this person changed (duty, connection, a call ended, a wrap-up
        over): put them in or out of the free pool, and offer them the first request they may
        take."""
        async with self._state.lock(DISPATCH_LOCK):
            await self._refresh(identity)
        self._positions_changed()

    async def _refresh(self, identity: str) -> None:
        free, desks = await self._availability(identity, count_duty=True)
        if free is None:
            await self._state.remove_free(identity)
            return
        await self._state.put_free(free)
        while (want := await self._state.first_want_for(free)) is not None:
            c = await self._state.get_consultation(want.request_id)
            if c is None or c.state is not CallState.WAITING:
                await self._state.remove_want(want.request_id)  # left behind by a crash
                continue
            await self._offer(c, identity, desks)
            return

    async def _availability(
        self, identity: str, count_duty: bool = False
    ) -> tuple[Free | None, list[SessionRecord]]:
        """The person as matching sees them if they are free, and the desks that would ring.
        `count_duty`: also keep the count of those on duty in step (what villagers are told).
        """
        now = self._clock.now()
        sessions = [
            s for s in await self._state.sessions_of(identity) if s.role is not Role.VILLAGE
        ]
        desks = sorted(
            (s for s in sessions if s.on_duty and s.connected), key=lambda s: s.session_id
        )
        if count_duty:
            # A person's sessions share their account's role; with none left, neither role.
            for role in {s.role for s in sessions} or PROFESSIONAL_ROLES:
                await self._state.set_on_duty(role, identity, any(d.role is role for d in desks))
        if not desks or any(
            s.consultation_id is not None or s.wrap_up_until > now for s in sessions
        ):
            return None, []
        return _free(desks[0], max(s.free_since for s in desks)), desks

    # -- offers --------------------------------------------------------------------------------

    async def _offer(
        self, c: Consultation, identity: str, desks: list[SessionRecord] | None = None
    ) -> bool:
        """Ring the person for this request (at `desks`, if just read under this lock). False if
        they turn out not to be free (the index was behind): they leave the pool. Under the
        dispatch lock."""
        if desks is None:
            free, desks = await self._availability(identity)
            if free is None:
                await self._state.remove_free(identity)
                return False
        pro = desks[0]
        c = c.moved(
            Event.OFFER,
            professional_session=pro.session_id,
            also_ringing=tuple(d.session_id for d in desks[1:]),
            professional_identity=pro.identity,
            professional_role=pro.role,
            professional_name=pro.display_name,
        )
        await self._state.put_consultation(c)
        await self._state.remove_want(c.consultation_id)
        await self._state.remove_free(identity)
        for desk in desks:
            await self._state.put_session(
                desk.model_copy(update={"consultation_id": c.consultation_id})
            )
        await self._timers.set("offer", c.consultation_id, self._offer_timeout)
        await self.journal.offered(c.consultation_id, pro.identity, pro.role, self._clock.now())
        log.info(
            "consultation=%s offered to %s (%d desks)", c.consultation_id, identity, len(desks)
        )
        offer = ConsultationOffer(
            consultation_id=c.consultation_id,
            topic=c.topic,
            language=c.language,
            kind=c.kind,
            village=c.village_name,
            requested_at=_utc(c.requested_at),
            priority=c.priority,
            interpreter_needed=bool(pro.languages) and c.language not in pro.languages,
            callback=c.callback,
            phone=c.callback_phone,
        )
        for desk in desks:
            await send(self._state, desk.session_id, offer)
        await self._to_terminal(
            c, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
        )
        return True

    async def accept(self, session: SessionRecord, consultation_id: str) -> None:
        async with self._state.lock(DISPATCH_LOCK):
            c = await self.consultation_of(session, consultation_id)
            if session.session_id not in (c.professional_session, *c.also_ringing):
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "only the professional offered it may accept"
                )
            if c.callback and not c.village_session and c.state is CallState.RINGING:
                terminal = await self._idle_terminal(c.village_identity)
                if terminal is None:
                    await self._terminal_away(c, session.identity)
                    return
                # Rung back: the terminal is in it from now on, as if it had just asked.
                c = c.model_copy(update={"village_session": terminal.session_id})
                await self._state.put_session(
                    terminal.model_copy(update={"consultation_id": c.consultation_id})
                )
            now = self._clock.now()
            others = [d for d in c.ringing_desks() if d != session.session_id]
            c = c.moved(
                Event.ACCEPT,
                answered_at=now,
                professional_session=session.session_id,
                also_ringing=(),
            )
            await self._state.put_consultation(c)
            await self._timers.cancel("offer", consultation_id)
            # The first accept wins: the person's other desks stop ringing.
            for desk in others:
                await self._free(desk, keep_free_since=True)
                await send(
                    self._state,
                    desk,
                    OfferWithdrawn(consultation_id=consultation_id, reason="answered_elsewhere"),
                )
        await self.journal.offer_resolved(consultation_id, session.identity, "accepted", now)
        await self.journal.answered(c, now)
        await self.journal.joined(
            consultation_id, Role.VILLAGE, c.village_identity, c.village_name, now
        )
        await self.journal.joined(
            consultation_id, session.role, session.identity, session.display_name, now
        )
        log.info("consultation=%s accepted by %s", consultation_id, session.identity)
        pro_name = c.professional_name or ""
        assert c.professional_session is not None and c.professional_role is not None
        await send(
            self._state,
            c.village_session,
            RoomJoined(
                consultation_id=consultation_id,
                peer_role=c.professional_role,
                peer_name=pro_name,
                initiator=True,
            ),
        )
        await send(
            self._state,
            c.professional_session,
            RoomJoined(
                consultation_id=consultation_id,
                peer_role=Role.VILLAGE,
                peer_name=c.village_name,
                initiator=False,
            ),
        )
        await self.broadcast_state(c)

    async def _terminal_away(self, c: Consultation, identity: str) -> None:
        """The professional took a callback but its terminal is offline or busy: the offer is
        withdrawn (not their doing: they may take it again), and the request tries again later,
        or after its last try goes to the supervisors' list. Under the dispatch lock."""
        desks = c.ringing_desks()
        tries = c.callback_tries + 1
        c = c.moved(
            Event.DECLINE,
            **NO_PROFESSIONAL,
            callback_tries=tries,
        )
        await self._timers.cancel("offer", c.consultation_id)
        for desk in desks:
            await self._free(desk)
        await self.journal.offer_resolved(
            c.consultation_id, identity, "terminal_away", self._clock.now()
        )
        for desk in desks:
            await send(
                self._state,
                desk,
                OfferWithdrawn(consultation_id=c.consultation_id, reason="terminal_away"),
            )
        if tries >= self.callback_tries:
            log.warning("consultation=%s: callback missed %d times", c.consultation_id, tries)
            await self._state.delete_consultation(c.consultation_id)
            await self._timers.cancel("escalate", c.consultation_id, "callback")
            await self.journal.ended(
                c.consultation_id, EndReason.CALLBACK_MISSED, self._clock.now()
            )
        else:
            log.info("consultation=%s: terminal away, ringing back later", c.consultation_id)
            c = c.model_copy(
                update={"ring_back_at": self._clock.now() + self.callback_retry_seconds}
            )
            await self._state.put_consultation(c)
            await self._state.remove_want(c.consultation_id)
            await self._timers.set_at("callback", c.consultation_id, c.ring_back_at or 0.0)
        await self._refresh(identity)

    async def decline(self, session: SessionRecord, consultation_id: str) -> None:
        c = await self.consultation_of(session, consultation_id)
        if session.session_id not in c.ringing_desks():
            raise ProtocolError(ErrorCode.INVALID_STATE, "only a ringing offer can be declined")
        await self._pass(c.consultation_id, session.session_id, "declined")

    async def _offer_expired(self, consultation_id: str, _payload: str) -> None:
        c = await self._state.get_consultation(consultation_id)
        if c is not None and c.state is CallState.RINGING and c.professional_session:
            # One who lets an offer ring out is away: paused until they come back (as Asterisk's
            # autopause), so the next request is not offered to an empty chair.
            await self._pass(c.consultation_id, c.professional_session, "timeout", pause=True)

    async def pass_offer(self, session: SessionRecord, reason: WithdrawReason) -> None:
        """A ringing desk went off duty or dropped: it stops ringing there; with no other desk
        of the person still ringing, the offer moves on at once."""
        if session.consultation_id is None:
            return
        async with self._state.lock(DISPATCH_LOCK):
            c = await self._state.get_consultation(session.consultation_id)
            desks = c.ringing_desks() if c is not None else ()
            if c is None or session.session_id not in desks or len(desks) == 1:
                left = False
            else:
                rest = [d for d in desks if d != session.session_id]
                c = c.model_copy(
                    update={"professional_session": rest[0], "also_ringing": tuple(rest[1:])}
                )
                await self._state.put_consultation(c)
                await self._free(session.session_id, keep_free_since=True)
                await send(
                    self._state,
                    session.session_id,
                    OfferWithdrawn(consultation_id=c.consultation_id, reason=reason),
                )
                left = True
        if not left:
            await self._pass(session.consultation_id, session.session_id, reason)

    async def _pass(
        self, consultation_id: str, pro_session: str, reason: WithdrawReason, pause: bool = False
    ) -> None:
        """The offer goes back to its place in the queue and on to the next. `pause`: the
        professional goes off duty in the same step, so nothing rings at them again."""
        async with self._state.lock(DISPATCH_LOCK):
            # Read again under the lock: an accept or a hang-up may have got there first.
            c = await self._state.get_consultation(consultation_id)
            if c is None or pro_session not in c.ringing_desks():
                return
            assert c.professional_identity is not None
            identity = c.professional_identity
            desks = c.ringing_desks()
            c = c.moved(
                Event.DECLINE,
                **NO_PROFESSIONAL,
                passed_by=(*c.passed_by, identity),
            )
            await self._state.put_consultation(c)
            await self._timers.cancel("offer", c.consultation_id)
            for desk in desks:
                await self._free(desk, pause=pause)
            await self.journal.offer_resolved(
                c.consultation_id, identity, reason, self._clock.now()
            )
            log.info("consultation=%s offer %s", c.consultation_id, reason)
            for desk in desks:
                await send(
                    self._state,
                    desk,
                    OfferWithdrawn(consultation_id=c.consultation_id, reason=reason),
                )
                if pause:
                    await send(self._state, desk, DutyState(on_duty=False, paused=True))
            await self._to_terminal(
                c, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
            )
            # The request first: the one who passed may not take it, others may.
            await self._place(c)
            await self._refresh(identity)
        self._positions_changed()

    async def _free(
        self,
        session_id: str,
        wrap_up: float = 0.0,
        pause: bool = False,
        keep_free_since: bool = False,
    ) -> SessionRecord | None:
        """Release a session from its consultation. `keep_free_since`: a desk that only stopped
        ringing, while the person is still busy (or was never freed), keeps its idle time."""
        pro = await self._state.get_session(session_id)
        if pro is None:
            return None
        now = self._clock.now()
        update: dict[str, object] = {"consultation_id": None}
        if not keep_free_since:
            update |= {
                "free_since": now + wrap_up,
                "wrap_up_until": now + wrap_up,
                "on_duty": pro.on_duty and not pause,
            }
        pro = pro.model_copy(update=update)
        await self._state.put_session(pro)
        return pro

    # -- after a call --------------------------------------------------------------------------

    async def end_wrap_up(self, session: SessionRecord) -> None:
        """The professional saved the outcome: ready for the next request."""
        current = await self._state.get_session(session.session_id)
        if current is not None and current.wrap_up_until > self._clock.now():
            now = self._clock.now()
            await self._state.put_session(
                current.model_copy(update={"wrap_up_until": now, "free_since": now})
            )
            await self._timers.cancel("wrapup", session.session_id)
            await self.refresh(current.identity)

    async def _wrap_up_over(self, session_id: str, identity: str) -> None:
        await self.refresh(identity)

    async def end(self, c: Consultation, event: Event, reason: EndReason) -> None:
        """End the consultation for everyone in it and forget it."""
        async with self._state.lock(DISPATCH_LOCK):
            ringing = c.ringing_desks()
            was_in_room = c.state in IN_ROOM
            answered_at = c.answered_at
            # Moved first: a refused move (a cancel once in a room) must change nothing.
            c = c.moved(event)
            if was_in_room and answered_at is not None:
                lengths = self._handled.setdefault(c.topic, deque(maxlen=20))
                lengths.append(self._clock.now() - answered_at)
            # Out of the queue with it, if it waited.
            await self._state.delete_consultation(c.consultation_id)
            await self._timers.cancel("offer", c.consultation_id, "escalate", "callback")
            # After a call the professional writes it up before the next one.
            wrap_up = self.wrap_up_seconds if was_in_room else 0.0
            pro = None
            for desk in ringing[1:]:
                await self._free(desk)
            if c.professional_session is not None:
                pro = await self._free(c.professional_session, wrap_up)
                if wrap_up and pro is not None:
                    # At the very instant the record says the wrap-up ends.
                    await self._timers.set_at(
                        "wrapup", pro.session_id, pro.wrap_up_until, pro.identity
                    )
            log.info("consultation=%s ended: %s", c.consultation_id, reason)
            await self.journal.ended(c.consultation_id, reason, self._clock.now())
            withdrawn: WithdrawReason = (
                "abandoned" if reason is EndReason.ABANDONED else "cancelled"
            )
            for desk in ringing:
                await send(
                    self._state,
                    desk,
                    OfferWithdrawn(consultation_id=c.consultation_id, reason=withdrawn),
                )
            # The professional hears first and is offered their next request, so that it
            # waits on as little as possible; then the terminal is freed and told.
            if not ringing and c.professional_session is not None:
                for message in self._ended(c, reason):
                    await send(self._state, c.professional_session, message)
                if wrap_up and pro is not None:
                    # The desk's own duty flag: one who went off duty mid-call stays off.
                    await send(
                        self._state,
                        pro.session_id,
                        DutyState(on_duty=pro.on_duty, wrap_up_seconds=wrap_up),
                    )
            if pro is not None:
                await self._refresh(pro.identity)
            if c.village_session:
                await self._free(c.village_session)
            for message in self._ended(c, reason):
                await self._to_terminal(c, message)
        self._positions_changed()

    async def _to_terminal(self, c: Consultation, message: ServerMessage) -> None:
        """Tell the terminal, if one is in it (a callback not yet rung back has none)."""
        if c.village_session:
            await send(self._state, c.village_session, message)

    @staticmethod
    def _ended(c: Consultation, reason: EndReason) -> tuple[ServerMessage, ...]:
        return (
            CallStateChanged(consultation_id=c.consultation_id, state=c.state),
            ConsultationEnded(consultation_id=c.consultation_id, reason=reason),
        )

    async def broadcast_state(self, c: Consultation) -> None:
        for sid in c.members():
            await send(
                self._state, sid, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
            )

    # -- villagers told where they stand; the whole match re-checked -------------------------

    def _positions_changed(self) -> None:
        """Queue positions or who is free may have changed: tell the villagers soon. One run at
        a time, at most one every TELL_INTERVAL of real time (it reads the whole queue)."""
        self._dirty = True
        if not self._telling:
            self._telling = True
            self._spawn(self._tell_while_dirty())

    async def _tell_while_dirty(self) -> None:
        try:
            while self._dirty:
                # A rate limit on this instance's work, not a wait for anything.
                await asyncio.sleep(max(0.0, self._told_real + TELL_INTERVAL - time.monotonic()))
                self._dirty = False
                self._told_real = time.monotonic()
                await self._tell_positions()
        finally:
            self._telling = False

    async def _tick(self, _subject: str, _payload: str) -> None:
        """Once a second while anyone waits (whichever instance claims it): updates held back
        by the one-a-second rule, and now and then the sweep."""
        now = self._clock.now()
        if now >= self._last_sweep + SWEEP_EVERY:
            self._last_sweep = now
            await self.sweep()
        await self._tell_positions()

    async def sweep(self) -> None:
        """A safety net for the invariant: a free professional with a request they could take
        (an instance died between placing a request and matching it, say) is matched now.
        Reads without the lock (usually it finds nothing); acts under it."""
        for pro in await self._state.free_professionals():
            if await self._state.first_want_for(pro) is not None:
                log.warning("sweep: %s was free with a request waiting", pro.identity)
                await self.refresh(pro.identity)

    async def _tell_positions(self) -> bool:
        """Send each villager a changed `waiting` (position in their queue, who is on duty and
        free, the estimated wait), at most one a second each (less often far back in the queue).
        Returns whether anyone waits."""
        now = self._clock.now()
        wants = await self._state.wants()
        for request_id in set(self._told) - {w.request_id for w in wants}:
            del self._told[request_id]
            self._villagers.pop(request_id, None)
        if not wants:
            return False
        free = await self._state.free_professionals()
        on_duty = await self._state.on_duty_counts()
        by_id = {w.request_id: w for w in wants}
        # While anyone waits a tick is due within the second; sooner for one held back.
        next_tick = now + 1.0
        for request_id, position in positions(wants, now).items():
            want = by_id[request_id]
            role = KIND_ROLE[want.kind]
            staffed = on_duty.get(role, 0)
            update = (
                position,
                staffed,
                sum(1 for p in free if p.role is role),
                self._estimate(want.topic, position, staffed),
            )
            told = self._told.get(request_id)
            if told is not None and told[0] == update:
                continue
            interval = update_interval(position)
            if told is not None and now - told[1] < interval:
                next_tick = min(next_tick, told[1] + interval)
                continue
            village = await self._village_of(request_id)
            if village is None:
                continue
            self._told[request_id] = (update, now)
            await send(
                self._state,
                village,
                Waiting(
                    consultation_id=request_id,
                    position=position,
                    professionals_on_duty=staffed,
                    professionals_free=update[2],
                    estimated_wait_seconds=update[3],
                    callback_suggested=staffed == 0,
                ),
            )
        await self._timers.set("tick", TICK, next_tick - now, earlier_only=True)
        return True

    async def _village_of(self, request_id: str) -> str | None:
        village = self._villagers.get(request_id)
        if village is None:
            c = await self._state.get_consultation(request_id)
            if c is None:
                return None
            if not c.village_session:
                return None  # a callback: nobody waits at a terminal
            village = self._villagers[request_id] = c.village_session
        return village

    def _estimate(self, topic: str, position: int, staffed: int) -> int | None:
        """Seconds until this request is likely answered: the requests ahead of it, shared among
        those on duty, each as long as recent calls on this topic (or any topic)."""
        recent = self._handled.get(topic) or [d for q in self._handled.values() for d in q]
        if not recent or staffed == 0:
            return None
        ahead = position - 1
        return round((ahead // staffed + 0.5) * sum(recent) / len(recent))


def _want(c: Consultation) -> Want:
    return Want(
        sequence=c.sequence,
        request_id=c.consultation_id,
        kind=c.kind,
        topic=c.topic,
        language=c.language,
        priority=c.priority,
        arrived_at=c.requested_at,
        passed_by=frozenset(c.passed_by),
        any_language=c.any_language,
        front=c.front,
    )


def _free(s: SessionRecord, free_since: float) -> Free:
    return Free(
        identity=s.identity,
        role=s.role,
        topics=frozenset(s.topics),
        languages=frozenset(s.languages or tuple(Language)),
        free_since=free_since,
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
