"""The consultation record: written step by step as the call goes (request, offers, answer,
participants, notes, citations, outcome, end, rating), read back as one timeline or a list.

Each call is one committed transaction, so whatever was saved before a connection or the server
drops is kept. Writes that a retry may repeat (a request, a note, a citation) are idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import audit
from server.db.audit import Actor
from server.db.engine import Database
from server.db.errors import InvalidRecordState, InvalidValue, NotFound
from server.db.models import (
    IDENTITY_LEN,
    NAME_LEN,
    AuditAction,
    Base,
    Citation,
    Consultation,
    NoteRevision,
    Offer,
    OfferResult,
    Outcome,
    Participant,
    require_aware,
)
from signaling.messages import EndReason, Kind, Language, Role
from signaling.topics import TOPIC_SLUGS

CONSULTATION_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as the protocol's
MAX_NOTES_CHARS: Final = 100_000
MAX_OUTCOME_DETAIL_CHARS: Final = 2_000
MAX_REVISION: Final = 2**31 - 1
MAX_LIST: Final = 500


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSave:
    """What became of one autosave.

    saved: stored, and the newest. stale: stored, but a newer revision was already there (the
    newer one stays current). duplicate: this revision was stored before with this text (a retry).
    conflict: this revision was stored before with other text; the stored one is kept.
    """

    status: Literal["saved", "stale", "duplicate", "conflict"]
    revision: int
    latest_revision: int


@dataclass(frozen=True, slots=True)
class NoteVersion:
    author: str
    revision: int
    text: str
    saved_at: datetime
    saves: int  # how many revisions this author saved


@dataclass(frozen=True, slots=True)
class OfferView:
    professional_identity: str
    professional_role: Role
    offered_at: datetime
    result: OfferResult | None  # None: still ringing
    responded_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParticipantView:
    role: Role
    identity: str
    display_name: str
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True, slots=True)
class CitationView:
    law: str
    article: str
    shown_by: str
    shown_at: datetime
    pinned: bool
    pushed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsultationSummary:
    """A row of the supervisors' list: no personal data, so listing is not an audited read."""

    id: str
    terminal_identity: str
    village: str
    topic: str
    language: Language
    kind: Kind
    priority: int
    requested_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: EndReason | None
    professional_identity: str | None
    professional_name: str | None
    outcome: Outcome | None
    rating: int | None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    kind: str  # requested, offered, offer_<result>, answered, joined, left, citation_shown,
    # citation_pushed, notes_saved, outcome, ended, rated
    actor: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class RecordView:
    """One whole record as a supervisor opens it (personal fields included: an audited read)."""

    summary: ConsultationSummary
    professional_role: Role | None
    villager_name: str | None
    villager_phone: str | None
    outcome_detail: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    rated_at: datetime | None
    offers: tuple[OfferView, ...]
    participants: tuple[ParticipantView, ...]
    notes: tuple[NoteVersion, ...]
    citations: tuple[CitationView, ...]
    events: tuple[TimelineEvent, ...]


@dataclass(frozen=True, slots=True)
class ConsultationFilter:
    """The supervisors' list filters; every value is bound as a parameter, never spliced into SQL.
    `village` matches a part of the name, case-insensitively; the others match exactly."""

    requested_from: datetime | None = None  # inclusive
    requested_before: datetime | None = None  # exclusive
    topic: str | None = None
    village: str | None = None
    professional: str | None = None
    outcome: Outcome | None = None
    terminal: str | None = None


def _summary(c: Consultation) -> ConsultationSummary:
    return ConsultationSummary(
        id=c.id,
        terminal_identity=c.terminal_identity,
        village=c.village,
        topic=c.topic,
        language=c.language,
        kind=c.kind,
        priority=c.priority,
        requested_at=c.requested_at,
        answered_at=c.answered_at,
        ended_at=c.ended_at,
        end_reason=c.end_reason,
        professional_identity=c.professional_identity,
        professional_name=c.professional_name,
        outcome=c.outcome,
        rating=c.rating,
    )


# -- helpers -----------------------------------------------------------------------------------


def _check_id(consultation_id: str) -> str:
    if not CONSULTATION_ID_RE.fullmatch(consultation_id):
        raise InvalidValue("a consultation id is 1-64 letters, digits, '_' or '-'")
    return consultation_id


def _check_text(value: str, limit: int, what: str) -> str:
    # The message names the field, never the value: it may be personal.
    if len(value) > limit:
        raise InvalidValue(f"{what}: at most {limit} characters")
    return value


async def _consultation(session: AsyncSession, consultation_id: str) -> Consultation:
    consultation = await session.get(Consultation, _check_id(consultation_id))
    if consultation is None:
        raise NotFound(f"no consultation {consultation_id!r}")
    return consultation


async def _insert_or_ignore(
    db: Database, session: AsyncSession, model: type[Base], values: dict[str, Any]
) -> bool:
    """INSERT that does nothing on a unique-key clash (a retried write); True if it inserted.
    Not a caught IntegrityError: on PostgreSQL that would abort the whole transaction."""
    if db.engine.dialect.name == "postgresql":
        stmt: Any = postgresql.insert(model).values(**values).on_conflict_do_nothing()
    elif db.engine.dialect.name == "sqlite":
        stmt = sqlite.insert(model).values(**values).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"no upsert for {db.engine.dialect.name}")
    return _rowcount(await session.execute(stmt)) == 1


def _rowcount(result: object) -> int:
    # INSERT/UPDATE results are CursorResults; the typed API only promises Result.
    return int(getattr(result, "rowcount", 0))


# -- writing the record ------------------------------------------------------------------------


async def create_consultation(
    db: Database,
    *,
    consultation_id: str,
    terminal_identity: str,
    village: str,
    topic: str,
    language: Language,
    kind: Kind,
    requested_at: datetime,
    priority: int = 0,
) -> bool:
    """The record of a new request; False if this id was recorded already (a retry)."""
    require_aware(requested_at)
    _check_id(consultation_id)
    if topic not in TOPIC_SLUGS:
        raise InvalidValue(f"unknown topic {topic!r}")
    if not -100 <= priority <= 100:
        raise InvalidValue("priority: -100 to 100")
    async with db.transaction() as session:
        return await _insert_or_ignore(
            db,
            session,
            Consultation,
            {
                "id": consultation_id,
                "terminal_identity": _check_text(terminal_identity, IDENTITY_LEN, "terminal"),
                "village": _check_text(village, NAME_LEN, "village"),
                "topic": topic,
                "language": Language(language),
                "kind": Kind(kind),
                "priority": priority,
                "requested_at": requested_at,
            },
        )


async def add_offer(
    db: Database,
    consultation_id: str,
    *,
    professional_identity: str,
    professional_role: Role,
    at: datetime,
) -> None:
    """A new row for each offer, even to someone offered this consultation before."""
    require_aware(at)
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        session.add(
            Offer(
                consultation_id=consultation_id,
                professional_identity=professional_identity,
                professional_role=Role(professional_role),
                offered_at=at,
                result=None,
                responded_at=None,
            )
        )


async def resolve_offer(
    db: Database,
    consultation_id: str,
    *,
    professional_identity: str,
    result: OfferResult,
    at: datetime,
) -> bool:
    """Settle the latest open offer to this professional; False if none was open (a repeat)."""
    require_aware(at)
    async with db.transaction() as session:
        latest_open = (
            select(func.max(Offer.id))
            .where(
                Offer.consultation_id == _check_id(consultation_id),
                Offer.professional_identity == professional_identity,
                Offer.result.is_(None),
            )
            .scalar_subquery()
        )
        done = await session.execute(
            update(Offer)
            .where(Offer.id == latest_open, Offer.result.is_(None))
            .values(result=OfferResult(result), responded_at=at)
        )
        return _rowcount(done) == 1


async def mark_answered(
    db: Database,
    consultation_id: str,
    *,
    professional_identity: str,
    professional_role: Role,
    professional_name: str,
    at: datetime,
) -> bool:
    """Who answered and when; the first answer stands (False for a repeat)."""
    require_aware(at)
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        done = await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation_id, Consultation.answered_at.is_(None))
            .values(
                answered_at=at,
                professional_identity=professional_identity,
                professional_role=Role(professional_role),
                professional_name=_check_text(professional_name, NAME_LEN, "name"),
            )
        )
        return _rowcount(done) == 1


async def add_participant(
    db: Database,
    consultation_id: str,
    *,
    role: Role,
    identity: str,
    display_name: str,
    at: datetime,
) -> bool:
    """Someone joined; False if they are already in (a resumed connection is not a new join)."""
    require_aware(at)
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        present = await session.scalar(
            select(Participant.id).where(
                Participant.consultation_id == consultation_id,
                Participant.identity == identity,
                Participant.left_at.is_(None),
            )
        )
        if present is not None:
            return False
        session.add(
            Participant(
                consultation_id=consultation_id,
                role=Role(role),
                identity=identity,
                display_name=_check_text(display_name, NAME_LEN, "name"),
                joined_at=at,
                left_at=None,
            )
        )
        return True


async def participant_left(
    db: Database, consultation_id: str, *, identity: str, at: datetime
) -> bool:
    require_aware(at)
    async with db.transaction() as session:
        done = await session.execute(
            update(Participant)
            .where(
                Participant.consultation_id == _check_id(consultation_id),
                Participant.identity == identity,
                Participant.left_at.is_(None),
            )
            .values(left_at=at)
        )
        return _rowcount(done) > 0


async def mark_ended(
    db: Database, consultation_id: str, *, reason: EndReason, at: datetime
) -> bool:
    """The end; the first one stands (False for a repeat). Whoever is still in the room leaves
    now, and offers still ringing are closed as cancelled (villager gave up) or abandoned."""
    require_aware(at)
    reason = EndReason(reason)
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        done = await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation_id, Consultation.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )
        if _rowcount(done) != 1:
            return False
        await _close_open_rows(session, [consultation_id], reason, at)
        return True


async def _close_open_rows(
    session: AsyncSession, consultation_ids: list[str], reason: EndReason, at: datetime
) -> None:
    await session.execute(
        update(Participant)
        .where(Participant.consultation_id.in_(consultation_ids), Participant.left_at.is_(None))
        .values(left_at=at)
    )
    closed = OfferResult.CANCELLED if reason is EndReason.CANCELLED else OfferResult.ABANDONED
    await session.execute(
        update(Offer)
        .where(Offer.consultation_id.in_(consultation_ids), Offer.result.is_(None))
        .values(result=closed, responded_at=at)
    )


async def close_interrupted(db: Database, at: datetime) -> int:
    """At start-up with in-process state: every consultation left open by a previous run ended
    when that run did (`server_shutdown`). Its notes and the rest are kept. How many."""
    require_aware(at)
    async with db.transaction() as session:
        ids = list(
            await session.scalars(select(Consultation.id).where(Consultation.ended_at.is_(None)))
        )
        if not ids:
            return 0
        await session.execute(
            update(Consultation)
            .where(Consultation.id.in_(ids), Consultation.ended_at.is_(None))
            .values(ended_at=at, end_reason=EndReason.SERVER_SHUTDOWN)
        )
        await _close_open_rows(session, ids, EndReason.SERVER_SHUTDOWN, at)
        return len(ids)


async def consultation_parties(
    db: Database, consultation_id: str
) -> tuple[str, str | None, bool] | None:
    """(terminal identity, professional identity, ended) of a record, for authorization."""
    if not CONSULTATION_ID_RE.match(consultation_id):
        return None
    async with db.sessions() as session:
        row = (
            await session.execute(
                select(
                    Consultation.terminal_identity,
                    Consultation.professional_identity,
                    Consultation.ended_at,
                ).where(Consultation.id == consultation_id)
            )
        ).one_or_none()
    if row is None:
        return None
    return row[0], row[1], row[2] is not None


async def save_notes(
    db: Database,
    consultation_id: str,
    *,
    author: str,
    revision: int,
    text: str,
    at: datetime,
) -> NoteSave:
    """Store one autosave. Every revision is kept; the current notes are the highest revision,
    so a save that arrives late never replaces a newer one, and a retried save changes nothing.
    The client numbers its saves 1, 2, 3... per consultation (continuing from `latest_notes`
    after a reload)."""
    require_aware(at)
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise InvalidValue("revision: a whole number")
    if not 1 <= revision <= MAX_REVISION:
        raise InvalidValue(f"revision: 1 to {MAX_REVISION}")
    _check_text(text, MAX_NOTES_CHARS, "notes")
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        inserted = await _insert_or_ignore(
            db,
            session,
            NoteRevision,
            {
                "consultation_id": consultation_id,
                "author": author,
                "revision": revision,
                "text": text,
                "saved_at": at,
            },
        )
        mine = (NoteRevision.consultation_id == consultation_id, NoteRevision.author == author)
        latest = await session.scalar(select(func.max(NoteRevision.revision)).where(*mine))
        assert latest is not None
        if inserted:
            status: Literal["saved", "stale", "duplicate", "conflict"] = (
                "saved" if revision == latest else "stale"
            )
        else:
            stored = await session.scalar(
                select(NoteRevision.text).where(*mine, NoteRevision.revision == revision)
            )
            status = "duplicate" if stored == text else "conflict"
        return NoteSave(status=status, revision=revision, latest_revision=latest)


async def latest_notes(
    db: Database, consultation_id: str, author: str | None = None
) -> list[NoteVersion]:
    """The current notes of each author (or of `author`), e.g. to refill an editor after a
    reload. The professional reading their own notes back is not an audited read."""
    async with db.transaction() as session:
        return await _latest_notes(session, _check_id(consultation_id), author)


async def _latest_notes(
    session: AsyncSession, consultation_id: str, author: str | None
) -> list[NoteVersion]:
    counts = (
        select(
            NoteRevision.author,
            func.max(NoteRevision.revision).label("latest"),
            func.count().label("saves"),
        )
        .where(NoteRevision.consultation_id == consultation_id)
        .group_by(NoteRevision.author)
    )
    if author is not None:
        counts = counts.where(NoteRevision.author == author)
    sub = counts.subquery()
    rows = await session.execute(
        select(NoteRevision, sub.c.saves)
        .join(
            sub,
            (NoteRevision.author == sub.c.author) & (NoteRevision.revision == sub.c.latest),
        )
        .where(NoteRevision.consultation_id == consultation_id)
        .order_by(NoteRevision.author)
    )
    return [
        NoteVersion(
            author=note.author,
            revision=note.revision,
            text=note.text,
            saved_at=note.saved_at,
            saves=saves,
        )
        for note, saves in rows
    ]


async def record_citation(
    db: Database,
    consultation_id: str,
    *,
    law: str,
    article: str,
    shown_by: str,
    at: datetime,
    pinned: bool | None = None,
    pushed: bool = False,
) -> None:
    """A provision shown in the call, once per (law, article); showing it again changes only
    the flags: `pinned` as given (None leaves it), `pushed` records the first push."""
    require_aware(at)
    law = _check_text(law.strip(), NAME_LEN, "law")
    article = _check_text(article.strip(), IDENTITY_LEN, "article")
    if not law or not article:
        raise InvalidValue("a citation names a law and an article")
    async with db.transaction() as session:
        await _consultation(session, consultation_id)
        await _insert_or_ignore(
            db,
            session,
            Citation,
            {
                "consultation_id": consultation_id,
                "law": law,
                "article": article,
                "shown_by": shown_by,
                "shown_at": at,
                "pinned": bool(pinned),
                "pushed_at": at if pushed else None,
            },
        )
        this = (
            Citation.consultation_id == consultation_id,
            Citation.law == law,
            Citation.article == article,
        )
        if pinned is not None:
            await session.execute(update(Citation).where(*this).values(pinned=pinned))
        if pushed:
            await session.execute(
                update(Citation).where(*this, Citation.pushed_at.is_(None)).values(pushed_at=at)
            )


async def set_outcome(
    db: Database,
    consultation_id: str,
    outcome: Outcome,
    *,
    by: str,
    at: datetime,
    detail: str | None = None,
) -> None:
    """The professional's outcome; a later choice replaces an earlier one."""
    require_aware(at)
    if detail is not None:
        _check_text(detail, MAX_OUTCOME_DETAIL_CHARS, "outcome detail")
    async with db.transaction() as session:
        consultation = await _consultation(session, consultation_id)
        consultation.outcome = Outcome(outcome)
        consultation.outcome_detail = detail
        consultation.outcome_by = by
        consultation.outcome_at = at


async def set_villager(
    db: Database, consultation_id: str, *, name: str | None, phone: str | None
) -> None:
    """The villager's identity, if they choose to give it (personal data: never logged)."""
    async with db.transaction() as session:
        consultation = await _consultation(session, consultation_id)
        consultation.villager_name = (
            None if name is None else _check_text(name.strip(), NAME_LEN, "villager name")
        )
        consultation.villager_phone = (
            None if phone is None else _check_text(phone.strip(), 32, "villager phone")
        )


async def set_rating(db: Database, consultation_id: str, rating: int, *, at: datetime) -> bool:
    """The villager's 1-5 rating at the terminal after the call; the first one stands (False for
    a repeat). InvalidValue outside 1-5, InvalidRecordState before the call has ended."""
    require_aware(at)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidValue("a rating is a whole number from 1 to 5")
    async with db.transaction() as session:
        consultation = await _consultation(session, consultation_id)
        if consultation.ended_at is None:
            raise InvalidRecordState("a consultation is rated after it ends")
        done = await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation_id, Consultation.rating.is_(None))
            .values(rating=rating, rated_at=at)
        )
        return _rowcount(done) == 1


# -- reading -----------------------------------------------------------------------------------


async def read_record(
    db: Database, consultation_id: str, *, reader: Actor, at: datetime
) -> RecordView:
    """The whole record and its timeline, for a supervisor; the read is audited in the same
    transaction, so no record is shown without its audit entry."""
    require_aware(at)
    async with db.transaction() as session:
        c = await _consultation(session, consultation_id)
        offers = (
            await session.scalars(
                select(Offer).where(Offer.consultation_id == c.id).order_by(Offer.id)
            )
        ).all()
        participants = (
            await session.scalars(
                select(Participant)
                .where(Participant.consultation_id == c.id)
                .order_by(Participant.id)
            )
        ).all()
        citations = (
            await session.scalars(
                select(Citation).where(Citation.consultation_id == c.id).order_by(Citation.id)
            )
        ).all()
        notes = await _latest_notes(session, c.id, None)
        audit.append(session, reader, AuditAction.RECORD_READ, at, consultation_id=c.id)
        return RecordView(
            summary=_summary(c),
            professional_role=c.professional_role,
            villager_name=c.villager_name,
            villager_phone=c.villager_phone,
            outcome_detail=c.outcome_detail,
            outcome_by=c.outcome_by,
            outcome_at=c.outcome_at,
            rated_at=c.rated_at,
            offers=tuple(
                OfferView(
                    professional_identity=o.professional_identity,
                    professional_role=o.professional_role,
                    offered_at=o.offered_at,
                    result=o.result,
                    responded_at=o.responded_at,
                )
                for o in offers
            ),
            participants=tuple(
                ParticipantView(
                    role=p.role,
                    identity=p.identity,
                    display_name=p.display_name,
                    joined_at=p.joined_at,
                    left_at=p.left_at,
                )
                for p in participants
            ),
            notes=tuple(notes),
            citations=tuple(
                CitationView(
                    law=x.law,
                    article=x.article,
                    shown_by=x.shown_by,
                    shown_at=x.shown_at,
                    pinned=x.pinned,
                    pushed_at=x.pushed_at,
                )
                for x in citations
            ),
            events=_timeline(c, offers, participants, citations, notes),
        )


def _timeline(
    c: Consultation,
    offers: Sequence[Offer],
    participants: Sequence[Participant],
    citations: Sequence[Citation],
    notes: list[NoteVersion],
) -> tuple[TimelineEvent, ...]:
    events = [TimelineEvent(c.requested_at, "requested", c.terminal_identity, c.topic)]
    for o in offers:
        events.append(TimelineEvent(o.offered_at, "offered", o.professional_identity, ""))
        if o.result is not None and o.responded_at is not None:
            events.append(
                TimelineEvent(o.responded_at, f"offer_{o.result}", o.professional_identity, "")
            )
    if c.answered_at is not None:
        events.append(TimelineEvent(c.answered_at, "answered", c.professional_identity, ""))
    for p in participants:
        events.append(TimelineEvent(p.joined_at, "joined", p.identity, p.role))
        if p.left_at is not None:
            events.append(TimelineEvent(p.left_at, "left", p.identity, p.role))
    for x in citations:
        cited = f"{x.law} {x.article}"
        events.append(TimelineEvent(x.shown_at, "citation_shown", x.shown_by, cited))
        if x.pushed_at is not None:
            events.append(TimelineEvent(x.pushed_at, "citation_pushed", x.shown_by, cited))
    for n in notes:
        events.append(TimelineEvent(n.saved_at, "notes_saved", n.author, f"revision {n.revision}"))
    if c.outcome is not None and c.outcome_at is not None:
        events.append(TimelineEvent(c.outcome_at, "outcome", c.outcome_by, c.outcome))
    if c.ended_at is not None:
        events.append(TimelineEvent(c.ended_at, "ended", None, c.end_reason or ""))
    if c.rated_at is not None:
        events.append(TimelineEvent(c.rated_at, "rated", c.terminal_identity, str(c.rating)))
    # Stable: events at the same instant keep the order they happen in a call.
    return tuple(sorted(events, key=lambda e: e.at))


def _where(filters: ConsultationFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.requested_from is not None:
        clauses.append(Consultation.requested_at >= require_aware(filters.requested_from))
    if filters.requested_before is not None:
        clauses.append(Consultation.requested_at < require_aware(filters.requested_before))
    if filters.topic is not None:
        clauses.append(Consultation.topic == filters.topic)
    if filters.village:
        # autoescape: a '%' or '_' typed into the filter matches itself, not anything.
        clauses.append(Consultation.village.icontains(filters.village, autoescape=True))
    if filters.professional is not None:
        clauses.append(Consultation.professional_identity == filters.professional)
    if filters.outcome is not None:
        clauses.append(Consultation.outcome == Outcome(filters.outcome))
    if filters.terminal is not None:
        clauses.append(Consultation.terminal_identity == filters.terminal)
    return clauses


async def list_consultations(
    db: Database, filters: ConsultationFilter | None = None, *, limit: int = 50, offset: int = 0
) -> list[ConsultationSummary]:
    """Newest first."""
    query = (
        select(Consultation)
        .where(*_where(filters or ConsultationFilter()))
        .order_by(Consultation.requested_at.desc(), Consultation.id.desc())
        .limit(max(1, min(limit, MAX_LIST)))
        .offset(max(0, offset))
    )
    async with db.transaction() as session:
        return [_summary(c) for c in await session.scalars(query)]


async def count_consultations(db: Database, filters: ConsultationFilter | None = None) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Consultation)
            .where(*_where(filters or ConsultationFilter()))
        )
        return int(count or 0)
