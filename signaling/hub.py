"""What the server does with each message: sessions, resume, the relay, and the handlers.

`HANDLERS` maps a message type to its handler; `Hub.permissions` (the server's authorization
table) says who may send it. The connection validates and authorizes before a handler runs;
handlers raise ProtocolError to refuse.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from room.call import Event
from signaling.clock import Clock
from signaling.errors import ErrorCode, ProtocolError
from signaling.identity import Directory, Identity
from signaling.journal import Journal, NoJournal, Parties
from signaling.messages import (
    Accept,
    CallState,
    CancelRequest,
    ClientMessage,
    Decline,
    DutyState,
    EndReason,
    HangUp,
    Hello,
    IceCandidate,
    IceServer,
    LeaveCallback,
    PeerDisconnected,
    PeerResumed,
    Rate,
    RequestConsultation,
    Resume,
    Resumed,
    Role,
    Saved,
    SaveNotes,
    Sdp,
    ServerMessage,
    SetDuty,
    SetOutcome,
    Welcome,
)
from signaling.outbox import send
from signaling.pairing import IN_ROOM, Pairing
from signaling.state.base import SessionRecord, SharedState, Sink
from signaling.timers import Timers

log = logging.getLogger(__name__)

PROFESSIONALS = frozenset({Role.LAWYER, Role.MEDIATOR})
EVERYONE = frozenset(Role)


class Peer(Protocol):
    """The connection as the hub sees it."""

    connection_id: str
    finished: asyncio.Event

    def reply(self, message: ServerMessage) -> None: ...

    @property
    def sink(self) -> Sink: ...

    async def close(self, code: int, reason: str) -> None: ...

    def close_after_flush(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HubSettings:
    grace_seconds: float = 30.0
    offer_timeout: float = 20.0
    wrap_up_seconds: float = 30.0
    escalate_after: float = 300.0
    callback_tries: int = 3
    callback_retry_seconds: float = 120.0
    ice_servers: tuple[IceServer, ...] = ()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Hub:
    def __init__(
        self,
        state: SharedState,
        clock: Clock,
        directory: Directory,
        settings: HubSettings,
        permissions: Permissions,
        journal: Journal | None = None,
    ) -> None:
        self.state = state
        self.permissions = permissions
        self.clock = clock
        self.settings = settings
        self.directory = directory
        self.timers = Timers(state, clock)
        self.pairing = Pairing(
            state,
            clock,
            self.timers,
            settings.offer_timeout,
            journal or NoJournal(),
            settings.wrap_up_seconds,
            settings.escalate_after,
            spawn=self.spawn,
            callback_tries=settings.callback_tries,
            callback_retry_seconds=settings.callback_retry_seconds,
        )
        # Sessions attached to a websocket of this instance, to displace one on resume.
        self._peers: dict[str, Peer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.timers.on("grace", self._grace_expired)
        # Messages that failed the schema, newest last (the page tests assert there are none).
        self.violations: deque[str] = deque(maxlen=1000)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work that must not be cut short by a cancelled websocket handler."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    def use_storage(self, directory: Directory, journal: Journal) -> None:
        """Hand in the database's directory and record once it is open (at start-up)."""
        self.directory = directory
        self.pairing.journal = journal

    # -- sign-in and resume ------------------------------------------------------------------

    async def hello(
        self, peer: Peer, msg: Hello, signed_in: Identity | None = None
    ) -> SessionRecord:
        """`signed_in`: who the page's session cookie says this is (browsers send no token)."""
        if msg.token is not None:
            who = await self.directory.authenticate(msg.role, msg.identity, msg.token)
        elif signed_in is not None and (signed_in.role, signed_in.identity) == (
            msg.role,
            msg.identity,
        ):
            who = signed_in
        else:
            who = None
        if who is None:
            raise ProtocolError(ErrorCode.BAD_CREDENTIALS, "unknown identity or wrong token")
        token = secrets.token_urlsafe(32)
        session = SessionRecord(
            session_id="s_" + secrets.token_urlsafe(12),
            role=who.role,
            identity=who.identity,
            display_name=who.display_name,
            resume_token_hash=_hash_token(token),
            free_since=self.clock.now(),
            topics=who.topics,
            languages=who.languages,
        )
        await self.state.put_session(session)
        peer.reply(
            Welcome(
                connection_id=peer.connection_id,
                role=who.role,
                identity=who.identity,
                display_name=who.display_name,
                resume_token=token,
                grace_seconds=self.settings.grace_seconds,
                ice_servers=list(self.settings.ice_servers),
            )
        )
        await self._attach(peer, session, after_seq=0)
        log.info(
            "conn=%s session=%s signed in as %s %s",
            peer.connection_id,
            session.session_id,
            who.role,
            who.identity,
        )
        return session

    async def resume(self, peer: Peer, msg: Resume) -> SessionRecord:
        session = await self.state.session_by_resume_token(_hash_token(msg.resume_token))
        if session is None:
            raise ProtocolError(
                ErrorCode.RESUME_FAILED,
                "nothing to resume: the grace period has passed; sign in again",
            )
        displaced = self._peers.get(session.session_id)
        if displaced is not None and displaced is not peer:
            # A reloaded page can come back before its old socket is noticed as closed.
            await self.state.detach(session.session_id, displaced.sink)
            await displaced.close(4000, "resumed on another connection")
        # Attached first, then marked connected: a `disconnected` of the old socket running
        # meanwhile either sees this peer attached (and leaves the session alone) or writes
        # before these lines do (see `disconnected`).
        replayed = await self._attach(peer, session, after_seq=msg.last_seq)
        await self.timers.cancel("grace", session.session_id)
        session = session.model_copy(update={"connected": True})
        await self.state.put_session(session)
        c = await self._consultation(session)
        peer.reply(
            Resumed(
                connection_id=peer.connection_id,
                replayed=replayed,
                consultation_id=c.consultation_id if c else None,
                call_state=c.state if c else None,
            )
        )
        log.info(
            "conn=%s session=%s resumed, %d replayed",
            peer.connection_id,
            session.session_id,
            replayed,
        )
        if c is not None and c.state in IN_ROOM:
            other = c.other(session.session_id)
            if other is not None:
                await send(
                    self.state,
                    other,
                    PeerResumed(consultation_id=c.consultation_id, peer_role=session.role),
                )
        if session.role in PROFESSIONALS:
            await self.pairing.refresh(session.identity)
        return session

    async def _attach(self, peer: Peer, session: SessionRecord, after_seq: int) -> int:
        self._peers[session.session_id] = peer
        return await self.state.attach(session.session_id, peer.sink, after_seq)

    async def disconnected(self, peer: Peer, session_id: str) -> None:
        """The websocket is gone: tell the other side, keep everything for the grace period."""
        if self._peers.get(session_id) is not peer:
            return  # already displaced by a resume on another connection
        del self._peers[session_id]
        await self.state.detach(session_id, peer.sink)
        session = await self.state.get_session(session_id)
        if session is None:
            return
        session = session.model_copy(update={"connected": False})
        await self.state.put_session(session)
        await self.timers.set("grace", session_id, self.settings.grace_seconds)
        if session_id in self._peers:
            # Resumed on this instance while the lines above ran, perhaps before them: the
            # session is connected, and no grace period runs.
            await self.timers.cancel("grace", session_id)
            await self.state.put_session(session.model_copy(update={"connected": True}))
            return
        if session.role in PROFESSIONALS:
            await self.pairing.refresh(session.identity)  # out of the free pool and the count
        log.info(
            "conn=%s session=%s disconnected; grace %.0f s",
            peer.connection_id,
            session_id,
            self.settings.grace_seconds,
        )
        c = await self._consultation(session)
        if c is None:
            return
        if session_id in c.ringing_desks():
            await self.pairing.pass_offer(session, "disconnected")
        elif c.state in IN_ROOM:
            other = c.other(session_id)
            if other is not None:
                await send(
                    self.state,
                    other,
                    PeerDisconnected(
                        consultation_id=c.consultation_id,
                        peer_role=session.role,
                        grace_seconds=self.settings.grace_seconds,
                    ),
                )

    async def revoke(self, role: Role, identity: str) -> int:
        """A revoked terminal or disabled account: its connections close and whatever it was in
        ends now (the other side is told). Returns how many sessions it had here."""
        roles = PROFESSIONALS if role in PROFESSIONALS else frozenset({role})
        gone = [
            s async for s in self.state.sessions() if s.role in roles and s.identity == identity
        ]
        for session in gone:
            await self.timers.cancel("grace", session.session_id)
            # Out of reach first, so that ending its call offers it nothing new.
            await self.state.put_session(
                session.model_copy(update={"on_duty": False, "connected": False})
            )
            c = await self._consultation(session)
            if c is not None and session.session_id in c.ringing_desks():
                await self.pairing.pass_offer(session, "disconnected")
            elif c is not None:
                event = Event.HANG_UP if c.state in IN_ROOM else Event.CANCEL
                await self.pairing.end(c, event, EndReason.REVOKED)
            peer = self._peers.pop(session.session_id, None)
            await self.state.delete_session(session.session_id)
            if peer is not None:
                await self.state.detach(session.session_id, peer.sink)
                # After what is queued: the terminal hears that its call ended, and why.
                peer.close_after_flush(4003, "access revoked")
            log.warning("session=%s %s %s revoked", session.session_id, role, identity)
        if gone and role in PROFESSIONALS:
            await self.pairing.refresh(identity)
        return len(gone)

    async def _grace_expired(self, session_id: str, _payload: str) -> None:
        session = await self.state.get_session(session_id)
        if session is None or session.connected or session_id in self._peers:
            return  # (the last: a resume on this instance is under way)
        log.info("session=%s did not come back; ending it", session_id)
        c = await self._consultation(session)
        if c is not None and c.state in IN_ROOM and session.role is not Role.VILLAGE:
            # The professional is gone: the villager is not, and waits for the next one.
            await self.pairing.requeue(c)
        elif c is not None:
            reason = (
                EndReason.ABANDONED
                if session.role is Role.VILLAGE and c.state not in IN_ROOM
                else EndReason.PEER_GONE
            )
            if c.village_session == session_id or c.state in IN_ROOM:
                await self.pairing.end(c, Event.PEER_GONE, reason)
        await self.state.delete_session(session_id)
        if session.role in PROFESSIONALS:
            await self.pairing.refresh(session.identity)

    async def _consultation(self, session: SessionRecord) -> Any:
        if session.consultation_id is None:
            return None
        return await self.state.get_consultation(session.consultation_id)

    async def close_all(self) -> None:
        """Server shutdown: close every websocket of this instance, finish their bookkeeping."""
        peers = list(self._peers.values())
        for peer in peers:
            await peer.close(1001, "server shutting down")
        for peer in peers:
            await peer.finished.wait()
        await self.drain()

    async def drain(self) -> None:
        """Wait for spawned work (what a closed websocket left to do)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- handlers ------------------------------------------------------------------------

    async def _request(self, peer: Peer, session: SessionRecord, msg: RequestConsultation) -> None:
        await self.pairing.request(await self._fresh(session), msg)

    async def _cancel(self, peer: Peer, session: SessionRecord, msg: CancelRequest) -> None:
        c = await self.pairing.consultation_of(session, msg.consultation_id)
        if c.village_session != session.session_id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only the terminal that asked may cancel")
        await self.pairing.end(c, Event.CANCEL, EndReason.CANCELLED)

    async def _leave_callback(self, peer: Peer, session: SessionRecord, msg: LeaveCallback) -> None:
        await self.pairing.leave_callback(session, msg.consultation_id, msg.phone)

    async def _set_duty(self, peer: Peer, session: SessionRecord, msg: SetDuty) -> None:
        session = await self._fresh(session)
        await self.state.put_session(
            session.model_copy(update={"on_duty": msg.on_duty, "free_since": self.clock.now()})
        )
        log.info("session=%s %s on duty=%s", session.session_id, session.identity, msg.on_duty)
        await send(self.state, session.session_id, DutyState(on_duty=msg.on_duty))
        if not msg.on_duty:
            await self.pairing.pass_offer(session, "off_duty")
        await self.pairing.refresh(session.identity)

    async def _accept(self, peer: Peer, session: SessionRecord, msg: Accept) -> None:
        await self.pairing.accept(session, msg.consultation_id)

    async def _decline(self, peer: Peer, session: SessionRecord, msg: Decline) -> None:
        await self.pairing.decline(session, msg.consultation_id)

    async def _hang_up(self, peer: Peer, session: SessionRecord, msg: HangUp) -> None:
        c = await self.pairing.consultation_of(session, msg.consultation_id)
        if c.state in (CallState.WAITING, CallState.RINGING):
            if c.village_session != session.session_id:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE, "not in a call yet: decline the offer instead"
                )
            await self.pairing.end(c, Event.CANCEL, EndReason.CANCELLED)
            return
        await self.pairing.end(c, Event.HANG_UP, EndReason.HANG_UP)

    async def _sdp(self, peer: Peer, session: SessionRecord, msg: Sdp) -> None:
        c = await self.pairing.consultation_of(session, msg.consultation_id)
        event = Event.SDP_OFFER if msg.sdp_type == "offer" else Event.SDP_ANSWER
        other = c.other(session.session_id)
        moved = c.moved(event)
        assert other is not None
        await self.state.put_consultation(moved)
        await send(
            self.state,
            other,
            Sdp(consultation_id=c.consultation_id, sdp_type=msg.sdp_type, sdp=msg.sdp),
        )
        if moved.state is not c.state:
            await self.pairing.broadcast_state(moved)

    async def _ice(self, peer: Peer, session: SessionRecord, msg: IceCandidate) -> None:
        c = await self.pairing.consultation_of(session, msg.consultation_id)
        other = c.other(session.session_id)
        if c.state not in IN_ROOM or other is None:
            raise ProtocolError(
                ErrorCode.INVALID_STATE, f'no call to add a candidate to in state "{c.state}"'
            )
        await send(self.state, other, msg.model_copy(update={"id": None}))

    # -- the record: only the consultation's own professional writes notes and the outcome,
    # only its terminal rates it; to anyone else it does not exist.

    async def _parties(self, session: SessionRecord, consultation_id: str, role: str) -> Parties:
        parties = await self.pairing.journal.parties(consultation_id)
        mine = parties is not None and (
            parties.professional_identity == session.identity
            if role == "professional"
            else parties.village_identity == session.identity
        )
        if parties is None or not mine:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no consultation {consultation_id} of yours")
        return parties

    async def _save_notes(self, peer: Peer, session: SessionRecord, msg: SaveNotes) -> None:
        await self._parties(session, msg.consultation_id, "professional")
        status = await self.pairing.journal.save_notes(
            msg.consultation_id, session.identity, msg.revision, msg.text, self.clock.now()
        )
        peer.reply(
            Saved(
                consultation_id=msg.consultation_id,
                what="notes",
                revision=msg.revision,
                status=status,
                ref=msg.id,
            )
        )

    async def _set_outcome(self, peer: Peer, session: SessionRecord, msg: SetOutcome) -> None:
        await self._parties(session, msg.consultation_id, "professional")
        await self.pairing.journal.set_outcome(
            msg.consultation_id, msg.outcome, msg.detail, session.identity, self.clock.now()
        )
        peer.reply(Saved(consultation_id=msg.consultation_id, what="outcome", ref=msg.id))
        await self.pairing.end_wrap_up(session)

    async def _rate(self, peer: Peer, session: SessionRecord, msg: Rate) -> None:
        parties = await self._parties(session, msg.consultation_id, "village")
        if not parties.ended:
            raise ProtocolError(ErrorCode.INVALID_STATE, "a consultation is rated after it ends")
        if not await self.pairing.journal.rate(msg.consultation_id, msg.rating, self.clock.now()):
            raise ProtocolError(ErrorCode.INVALID_STATE, "this consultation was rated already")
        peer.reply(Saved(consultation_id=msg.consultation_id, what="rating", ref=msg.id))

    async def _fresh(self, session: SessionRecord) -> SessionRecord:
        current = await self.state.get_session(session.session_id)
        if current is None:
            raise ProtocolError(
                ErrorCode.NOT_AUTHENTICATED, "this session has ended; sign in again"
            )
        return current


Handler = Callable[[Hub, Peer, SessionRecord, Any], Awaitable[None]]

# Message type -> handler. hello, resume and ping are handled by the connection itself (before
# and after sign-in). Who may send each type is the server's authorization table, handed in as
# `Permissions` so that one table covers HTTP routes and messages alike.
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "request_consultation": Hub._request,
        "cancel_request": Hub._cancel,
        "leave_callback": Hub._leave_callback,
        "set_duty": Hub._set_duty,
        "accept": Hub._accept,
        "decline": Hub._decline,
        "hang_up": Hub._hang_up,
        "sdp": Hub._sdp,
        "ice_candidate": Hub._ice,
        "save_notes": Hub._save_notes,
        "set_outcome": Hub._set_outcome,
        "rate": Hub._rate,
    }
)
Permissions = Mapping[str, frozenset[Role]]


async def handle(hub: Hub, peer: Peer, session: SessionRecord, msg: ClientMessage) -> None:
    """Authorize by role, then run the message's handler."""
    if session.role not in hub.permissions.get(msg.type, frozenset()):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"a {session.role} may not send {msg.type}")
    await HANDLERS[msg.type](hub, peer, session, msg)
