"""The consultation record written as the call goes: signaling's Journal on the database."""

from __future__ import annotations

import logging

from room.consultation import Consultation
from server.db import records
from server.db.engine import Database
from server.db.errors import InvalidRecordState, NotFound
from server.db.models import OfferResult, utc_from_epoch
from server.db.models import Outcome as RecordOutcome
from signaling.errors import ErrorCode, ProtocolError
from signaling.journal import NoteStatus, Parties
from signaling.messages import EndReason, Outcome, Role, WithdrawReason

log = logging.getLogger(__name__)


class DbJournal:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def requested(self, c: Consultation, at: float) -> None:
        # Not guarded: a request the record cannot hold is refused (the terminal is told).
        await records.create_consultation(
            self._db,
            consultation_id=c.consultation_id,
            terminal_identity=c.village_identity,
            village=c.village_name,
            topic=c.topic,
            language=c.language,
            kind=c.kind,
            requested_at=utc_from_epoch(at),
        )

    # The rest happen after the call has moved on: a failed write is logged loudly, and the call
    # goes on rather than half-undoing what both sides were already told.

    async def offered(self, consultation_id: str, identity: str, role: Role, at: float) -> None:
        try:
            await records.add_offer(
                self._db,
                consultation_id,
                professional_identity=identity,
                professional_role=role,
                at=utc_from_epoch(at),
            )
        except Exception:
            log.exception("consultation=%s: offer not recorded", consultation_id)

    async def offer_resolved(
        self, consultation_id: str, identity: str, result: WithdrawReason | str, at: float
    ) -> None:
        try:
            await records.resolve_offer(
                self._db,
                consultation_id,
                professional_identity=identity,
                result=OfferResult(result),
                at=utc_from_epoch(at),
            )
        except Exception:
            log.exception("consultation=%s: offer result not recorded", consultation_id)

    async def answered(self, c: Consultation, at: float) -> None:
        assert c.professional_identity and c.professional_role
        try:
            await records.mark_answered(
                self._db,
                c.consultation_id,
                professional_identity=c.professional_identity,
                professional_role=c.professional_role,
                professional_name=c.professional_name or "",
                at=utc_from_epoch(at),
            )
        except Exception:
            log.exception("consultation=%s: answer not recorded", c.consultation_id)

    async def joined(
        self, consultation_id: str, role: Role, identity: str, name: str, at: float
    ) -> None:
        try:
            await records.add_participant(
                self._db,
                consultation_id,
                role=role,
                identity=identity,
                display_name=name,
                at=utc_from_epoch(at),
            )
        except Exception:
            log.exception("consultation=%s: participant not recorded", consultation_id)

    async def ended(self, consultation_id: str, reason: EndReason, at: float) -> None:
        try:
            await records.mark_ended(
                self._db, consultation_id, reason=reason, at=utc_from_epoch(at)
            )
        except Exception:
            log.exception("consultation=%s: end not recorded", consultation_id)

    # -- what the participants write: refused clearly when the record does not allow it --------

    async def parties(self, consultation_id: str) -> Parties | None:
        found = await records.consultation_parties(self._db, consultation_id)
        if found is None:
            return None
        village, professional, ended = found
        return Parties(village, professional, ended)

    async def save_notes(
        self, consultation_id: str, author: str, revision: int, text: str, at: float
    ) -> NoteStatus:
        try:
            saved = await records.save_notes(
                self._db,
                consultation_id,
                author=author,
                revision=revision,
                text=text,
                at=utc_from_epoch(at),
            )
        except NotFound:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such consultation") from None
        return saved.status

    async def set_outcome(
        self, consultation_id: str, outcome: Outcome, detail: str | None, by: str, at: float
    ) -> None:
        await records.set_outcome(
            self._db,
            consultation_id,
            RecordOutcome(outcome.value),
            by=by,
            at=utc_from_epoch(at),
            detail=detail,
        )

    async def rate(self, consultation_id: str, rating: int, at: float) -> bool:
        try:
            return await records.set_rating(
                self._db, consultation_id, rating, at=utc_from_epoch(at)
            )
        except InvalidRecordState:
            raise ProtocolError(
                ErrorCode.INVALID_STATE, "a consultation is rated after it ends"
            ) from None
