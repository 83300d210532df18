"""Minimal pairing: a terminal's request is offered to a free on-duty professional of its kind.

Oldest request first; among free professionals the one idle longest. Decline (or no answer in
`offer_timeout`) offers it to the next, never again to one who passed. Replaced by the dispatch
router later, behind the same shared state.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from datetime import UTC, datetime

from room.call import Event
from room.consultation import Consultation
from signaling.clock import Clock
from signaling.errors import ErrorCode, ProtocolError
from signaling.journal import Journal
from signaling.matching import KIND_ROLE, Free, Want, match, positions
from signaling.messages import (
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
IN_ROOM = (CallState.JOINED, CallState.NEGOTIATING, CallState.CONNECTED)


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
    ) -> None:
        self._state = state
        self.wrap_up_seconds = wrap_up_seconds
        self.escalate_after = escalate_after
        # Recent call lengths per topic, for the villager's estimated wait (this instance's).
        self._handled: dict[str, deque[float]] = {}
        self.journal = journal
        self._clock = clock
        self._timers = timers
        self._offer_timeout = offer_timeout
        timers.on("offer", self._offer_expired)
        timers.on("wrapup", self._wrap_up_over)
        timers.on("escalate", self._escalate)
        timers.on("update", self._update_due)

    async def consultation_of(self, session: SessionRecord, consultation_id: str) -> Consultation:
        """The consultation if this session takes part in it; not_found otherwise, so a stranger
        learns nothing about other people's consultations."""
        c = await self._state.get_consultation(consultation_id)
        if c is None or session.session_id not in (c.village_session, c.professional_session):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no consultation {consultation_id} of yours")
        return c

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
            )
            # The record first: a request the database never saw is not offered to anyone.
            await self.journal.requested(c, c.requested_at)
            await self._state.put_consultation(c)
            await self._state.enqueue(c.consultation_id)
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
        await self.dispatch()
        return c

    async def dispatch(self) -> None:
        """Offer waiting requests to free professionals (signaling/matching decides who gets
        what), then tell the rest where they stand."""
        async with self._state.lock(DISPATCH_LOCK):
            now = self._clock.now()
            on_duty: dict[Role, int] = {}
            free: dict[str, SessionRecord] = {}
            async for s in self._state.sessions():
                if s.role is Role.VILLAGE or not (s.on_duty and s.connected):
                    continue
                on_duty[s.role] = on_duty.get(s.role, 0) + 1
                if s.consultation_id is None and s.wrap_up_until <= now:
                    free[s.identity] = s
            queue = {
                c.consultation_id: c
                for cid in await self._state.waiting()
                if (c := await self._state.get_consultation(cid)) and c.state is CallState.WAITING
            }
            wants = [_want(c, n) for n, c in enumerate(queue.values())]
            for want, pro in match(wants, [_free(s) for s in free.values()], now):
                await self._offer(queue.pop(want.request_id), free.pop(pro.identity))
            left = [w for w in wants if w.request_id in queue]
            for cid, position in positions(left, now).items():
                c = queue[cid]
                role = KIND_ROLE[c.kind]
                staffed = on_duty.get(role, 0)
                update = (
                    position,
                    staffed,
                    sum(1 for p in free.values() if p.role is role),
                    self._estimate(c.topic, position, staffed),
                )
                await self._tell_waiting(c, update, now)

    async def _tell_waiting(
        self, c: Consultation, update: tuple[int, int, int, int | None], now: float
    ) -> None:
        """Send the villager a changed `waiting`, coalesced to at most one a second."""
        if update == c.last_update:
            return
        if now - c.last_update_at < 1.0:
            await self._timers.set("update", c.consultation_id, c.last_update_at + 1.0 - now)
            return
        await self._state.put_consultation(
            c.model_copy(update={"last_update": update, "last_update_at": now})
        )
        position, staffed, free, estimate = update
        await send(
            self._state,
            c.village_session,
            Waiting(
                consultation_id=c.consultation_id,
                position=position,
                professionals_on_duty=staffed,
                professionals_free=free,
                estimated_wait_seconds=estimate,
            ),
        )

    def _estimate(self, topic: str, position: int, staffed: int) -> int | None:
        """Seconds until this request is likely answered: the requests ahead of it, shared among
        those on duty, each as long as recent calls on this topic (or any topic)."""
        recent = self._handled.get(topic) or [d for q in self._handled.values() for d in q]
        if not recent or staffed == 0:
            return None
        ahead = position - 1
        return round((ahead // staffed + 0.5) * sum(recent) / len(recent))

    async def _update_due(self, consultation_id: str, _payload: str) -> None:
        await self.dispatch()

    async def _escalate(self, consultation_id: str, _payload: str) -> None:
        """Nobody with the villager's language answered in time: any qualified professional
        will do, with an interpreter."""
        async with self._state.lock(DISPATCH_LOCK):
            c = await self._state.get_consultation(consultation_id)
            if c is None or c.state is CallState.ENDED or c.any_language:
                return
            await self._state.put_consultation(c.model_copy(update={"any_language": True}))
        log.info("consultation=%s widened to any language (interpreter needed)", consultation_id)
        await self.dispatch()

    async def _offer(self, c: Consultation, pro: SessionRecord) -> None:
        c = c.moved(
            Event.OFFER,
            professional_session=pro.session_id,
            professional_identity=pro.identity,
            professional_role=pro.role,
            professional_name=pro.display_name,
        )
        await self._state.put_consultation(c)
        await self._state.dequeue(c.consultation_id)
        await self._state.put_session(pro.model_copy(update={"consultation_id": c.consultation_id}))
        await self._timers.set("offer", c.consultation_id, self._offer_timeout)
        await self.journal.offered(c.consultation_id, pro.identity, pro.role, self._clock.now())
        log.info("consultation=%s offered to %s", c.consultation_id, pro.identity)
        await send(
            self._state,
            pro.session_id,
            ConsultationOffer(
                consultation_id=c.consultation_id,
                topic=c.topic,
                language=c.language,
                kind=c.kind,
                village=c.village_name,
                requested_at=_utc(c.requested_at),
                priority=c.priority,
                interpreter_needed=bool(pro.languages) and c.language not in pro.languages,
            ),
        )
        await send(
            self._state,
            c.village_session,
            CallStateChanged(consultation_id=c.consultation_id, state=c.state),
        )

    async def accept(self, session: SessionRecord, consultation_id: str) -> None:
        async with self._state.lock(DISPATCH_LOCK):
            c = await self.consultation_of(session, consultation_id)
            if c.professional_session != session.session_id:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "only the professional offered it may accept"
                )
            now = self._clock.now()
            c = c.moved(Event.ACCEPT, answered_at=now)
            await self._state.put_consultation(c)
            await self._timers.cancel("offer", consultation_id)
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

    async def decline(self, session: SessionRecord, consultation_id: str) -> None:
        c = await self.consultation_of(session, consultation_id)
        if c.professional_session != session.session_id or c.state is not CallState.RINGING:
            raise ProtocolError(ErrorCode.INVALID_STATE, "only a ringing offer can be declined")
        await self._pass(c, "declined")

    async def _offer_expired(self, consultation_id: str, _payload: str) -> None:
        c = await self._state.get_consultation(consultation_id)
        if c is not None and c.state is CallState.RINGING and c.professional_session:
            # One who lets an offer ring out is away: paused until they come back (as Asterisk's
            # autopause), so the next request is not offered to an empty chair.
            missed = c.professional_session
            await self._pass(c, "timeout")
            pro = await self._state.get_session(missed)
            if pro is not None:
                await self._state.put_session(pro.model_copy(update={"on_duty": False}))
                await send(self._state, missed, DutyState(on_duty=False, paused=True))

    async def pass_offer(self, session: SessionRecord, reason: WithdrawReason) -> None:
        """The ringing professional went off duty or dropped: the offer moves on at once."""
        if session.consultation_id is None:
            return
        c = await self._state.get_consultation(session.consultation_id)
        if (
            c is not None
            and c.state is CallState.RINGING
            and c.professional_session == session.session_id
        ):
            await self._pass(c, reason)

    async def _pass(self, c: Consultation, reason: WithdrawReason) -> None:
        async with self._state.lock(DISPATCH_LOCK):
            pro_session = c.professional_session
            assert pro_session is not None and c.professional_identity is not None
            c = c.moved(
                Event.DECLINE,
                professional_session=None,
                professional_identity=None,
                professional_role=None,
                professional_name=None,
                passed_by=(*c.passed_by, c.professional_identity),
            )
            await self._state.put_consultation(c)
            await self._state.enqueue(c.consultation_id)
            await self._timers.cancel("offer", c.consultation_id)
            await self._free(pro_session)
        await self.journal.offer_resolved(
            c.consultation_id, c.passed_by[-1], reason, self._clock.now()
        )
        log.info("consultation=%s offer %s", c.consultation_id, reason)
        await send(
            self._state,
            pro_session,
            OfferWithdrawn(consultation_id=c.consultation_id, reason=reason),
        )
        await send(
            self._state,
            c.village_session,
            CallStateChanged(consultation_id=c.consultation_id, state=c.state),
        )
        await self.dispatch()

    async def _free(self, session_id: str, wrap_up: float = 0.0) -> None:
        pro = await self._state.get_session(session_id)
        if pro is not None:
            now = self._clock.now()
            await self._state.put_session(
                pro.model_copy(
                    update={
                        "consultation_id": None,
                        "free_since": now + wrap_up,
                        "wrap_up_until": now + wrap_up,
                    }
                )
            )

    async def end_wrap_up(self, session: SessionRecord) -> None:
        """The professional saved the outcome: ready for the next request."""
        current = await self._state.get_session(session.session_id)
        if current is not None and current.wrap_up_until > self._clock.now():
            now = self._clock.now()
            await self._state.put_session(
                current.model_copy(update={"wrap_up_until": now, "free_since": now})
            )
            await self._timers.cancel("wrapup", session.session_id)
            await self.dispatch()

    async def _wrap_up_over(self, session_id: str, _payload: str) -> None:
        await self.dispatch()

    async def end(self, c: Consultation, event: Event, reason: EndReason) -> None:
        """End the consultation for everyone in it and forget it."""
        async with self._state.lock(DISPATCH_LOCK):
            ringing = c.professional_session if c.state is CallState.RINGING else None
            was_in_room = c.state in IN_ROOM
            if was_in_room and c.answered_at is not None:
                lengths = self._handled.setdefault(c.topic, deque(maxlen=20))
                lengths.append(self._clock.now() - c.answered_at)
            c = c.moved(event)
            await self._state.delete_consultation(c.consultation_id)
            await self._timers.cancel("offer", c.consultation_id)
            await self._timers.cancel("escalate", c.consultation_id)
            await self._timers.cancel("update", c.consultation_id)
            await self._free(c.village_session)
            # After a call the professional writes it up before the next one.
            wrap_up = self.wrap_up_seconds if was_in_room else 0.0
            if c.professional_session is not None:
                await self._free(c.professional_session, wrap_up)
                if wrap_up:
                    await self._timers.set("wrapup", c.professional_session, wrap_up)
        log.info("consultation=%s ended: %s", c.consultation_id, reason)
        await self.journal.ended(c.consultation_id, reason, self._clock.now())
        if ringing is not None:
            withdrawn: WithdrawReason = (
                "abandoned" if reason is EndReason.ABANDONED else "cancelled"
            )
            await send(
                self._state,
                ringing,
                OfferWithdrawn(consultation_id=c.consultation_id, reason=withdrawn),
            )
        members = c.members() if ringing is None else (c.village_session,)
        for sid in members:
            await send(
                self._state, sid, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
            )
            await send(
                self._state,
                sid,
                ConsultationEnded(consultation_id=c.consultation_id, reason=reason),
            )
        if wrap_up and c.professional_session is not None:
            await send(
                self._state,
                c.professional_session,
                DutyState(on_duty=True, wrap_up_seconds=wrap_up),
            )
        await self.dispatch()

    async def broadcast_state(self, c: Consultation) -> None:
        for sid in c.members():
            await send(
                self._state, sid, CallStateChanged(consultation_id=c.consultation_id, state=c.state)
            )


def _want(c: Consultation, sequence: int) -> Want:
    return Want(
        sequence=sequence,
        request_id=c.consultation_id,
        kind=c.kind,
        topic=c.topic,
        language=c.language,
        priority=c.priority,
        arrived_at=c.requested_at,
        passed_by=frozenset(c.passed_by),
        any_language=c.any_language,
    )


def _free(s: SessionRecord) -> Free:
    return Free(
        identity=s.identity,
        role=s.role,
        topics=frozenset(s.topics),
        languages=frozenset(s.languages or tuple(Language)),
        free_since=s.free_since,
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
