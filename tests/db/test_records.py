"""The consultation record: written as a call goes, read back as a timeline and a filtered list."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.db import audit, records
from server.db.audit import Actor
from server.db.engine import Database
from server.db.errors import InvalidRecordState, InvalidValue, NotFound
from server.db.models import AuditAction, Consultation, OfferResult, Outcome
from server.db.records import ConsultationFilter
from signaling.messages import EndReason, Kind, Language, Role
from tests.db.times import at

CHIEF = Actor.account("chief")


async def request(
    db: Database,
    consultation_id: str = "c1",
    *,
    village: str = "巴彦村",
    topic: str = "land",
    seconds: float = 0,
    terminal: str = "village-1",
) -> None:
    await records.create_consultation(
        db,
        consultation_id=consultation_id,
        terminal_identity=terminal,
        village=village,
        topic=topic,
        language=Language.ZH,
        kind=Kind.CONSULTATION,
        requested_at=at(seconds),
    )


async def answered_by(db: Database, consultation_id: str, lawyer: str, seconds: float) -> None:
    await records.mark_answered(
        db,
        consultation_id,
        professional_identity=lawyer,
        professional_role=Role.LAWYER,
        professional_name=f"{lawyer} 律师",
        at=at(seconds),
    )


@pytest.mark.timeout(60)
async def test_a_record_from_request_to_rating(db: Database) -> None:
    await request(db)
    assert (
        await records.create_consultation(
            db,
            consultation_id="c1",
            terminal_identity="village-1",
            village="巴彦村",
            topic="land",
            language=Language.ZH,
            kind=Kind.CONSULTATION,
            requested_at=at(0),
        )
        is False
    ), "a retried request is recorded once"

    async def offer(lawyer: str, seconds: float) -> None:
        await records.add_offer(
            db, "c1", professional_identity=lawyer, professional_role=Role.LAWYER, at=at(seconds)
        )

    async def resolve(lawyer: str, result: OfferResult, seconds: float) -> bool:
        return await records.resolve_offer(
            db, "c1", professional_identity=lawyer, result=result, at=at(seconds)
        )

    await offer("lawyer-2", 1)
    assert await resolve("lawyer-2", OfferResult.DECLINED, 3)
    assert not await resolve("lawyer-2", OfferResult.TIMEOUT, 4), "an offer is settled once"
    await offer("lawyer-1", 4)
    assert await resolve("lawyer-1", OfferResult.TIMEOUT, 24)
    await offer("lawyer-1", 25)
    assert await resolve("lawyer-1", OfferResult.ACCEPTED, 27)
    await answered_by(db, "c1", "lawyer-1", 27)
    for role, identity, name in (
        (Role.VILLAGE, "village-1", "巴彦村"),
        (Role.LAWYER, "lawyer-1", "lawyer-1 律师"),
    ):
        assert await records.add_participant(
            db, "c1", role=role, identity=identity, display_name=name, at=at(28)
        )
    # A resumed connection is not a second join.
    assert not await records.add_participant(
        db, "c1", role=Role.VILLAGE, identity="village-1", display_name="巴彦村", at=at(50)
    )
    await records.record_citation(
        db, "c1", law="民法典", article="第1079条", shown_by="lawyer-1", at=at(40)
    )
    await records.record_citation(
        db,
        "c1",
        law="民法典",
        article="第1079条",
        shown_by="lawyer-1",
        at=at(45),
        pinned=True,
        pushed=True,
    )
    await records.save_notes(db, "c1", author="lawyer-1", revision=1, text="土地", at=at(60))
    await records.save_notes(db, "c1", author="lawyer-1", revision=2, text="土地承包", at=at(70))
    await records.set_outcome(
        db, "c1", Outcome.REFERRED_MEDIATION, by="lawyer-1", at=at(100), detail="村委会调解"
    )
    assert await records.mark_ended(db, "c1", reason=EndReason.HANG_UP, at=at(120))
    assert not await records.mark_ended(db, "c1", reason=EndReason.PEER_GONE, at=at(121))
    assert await records.set_rating(db, "c1", 5, at=at(130))

    record = await records.read_record(db, "c1", reader=CHIEF, at=at(200))
    assert [(e.at, e.kind, e.actor) for e in record.events] == [
        (at(0), "requested", "village-1"),
        (at(1), "offered", "lawyer-2"),
        (at(3), "offer_declined", "lawyer-2"),
        (at(4), "offered", "lawyer-1"),
        (at(24), "offer_timeout", "lawyer-1"),
        (at(25), "offered", "lawyer-1"),
        (at(27), "offer_accepted", "lawyer-1"),
        (at(27), "answered", "lawyer-1"),
        (at(28), "joined", "village-1"),
        (at(28), "joined", "lawyer-1"),
        (at(40), "citation_shown", "lawyer-1"),
        (at(45), "citation_pushed", "lawyer-1"),
        (at(70), "notes_saved", "lawyer-1"),
        (at(100), "outcome", "lawyer-1"),
        # Whoever was still in the room left when the call ended.
        (at(120), "left", "village-1"),
        (at(120), "left", "lawyer-1"),
        (at(120), "ended", None),
        (at(130), "rated", "village-1"),
    ]
    assert record.summary.professional_identity == "lawyer-1"
    assert (record.summary.outcome, record.outcome_detail) == (
        Outcome.REFERRED_MEDIATION,
        "村委会调解",
    )
    assert (record.summary.rating, record.summary.end_reason) == (5, EndReason.HANG_UP)
    [citation] = record.citations
    assert (citation.pinned, citation.shown_at, citation.pushed_at) == (True, at(40), at(45))
    [notes] = record.notes
    assert (notes.revision, notes.text, notes.saves) == (2, "土地承包", 2)
    assert [(o.professional_identity, o.result) for o in record.offers] == [
        ("lawyer-2", OfferResult.DECLINED),
        ("lawyer-1", OfferResult.TIMEOUT),
        ("lawyer-1", OfferResult.ACCEPTED),
    ]

    # Opening a record is audited; listing (no personal data) is not.
    await records.list_consultations(db)
    [entry] = await audit.entries(db, consultation_id="c1")
    assert (entry.action, entry.actor, entry.at) == (AuditAction.RECORD_READ, "chief", at(200))


@pytest.mark.timeout(60)
async def test_notes_autosave_keeps_the_newest_and_ignores_repeats(db: Database) -> None:
    await request(db)

    async def save(revision: int, text: str, seconds: float) -> records.NoteSave:
        return await records.save_notes(
            db, "c1", author="lawyer-1", revision=revision, text=text, at=at(seconds)
        )

    assert (await save(1, "租", 1)).status == "saved"
    assert (await save(3, "租地合同", 3)).status == "saved"
    # Revision 2 was delayed on a bad connection and arrives last: kept, but not current.
    late = await save(2, "租地", 4)
    assert (late.status, late.latest_revision) == ("stale", 3)
    assert (await save(3, "租地合同", 5)).status == "duplicate"
    assert (await save(3, "something else", 6)).status == "conflict"
    [current] = await records.latest_notes(db, "c1")
    assert (current.revision, current.text, current.saved_at, current.saves) == (
        3,
        "租地合同",
        at(3),
        3,
    )
    # Two deliveries of one save at the same moment: exactly one is stored.
    both = await asyncio.gather(save(4, "租地合同，五年", 7), save(4, "租地合同，五年", 7))
    assert sorted(s.status for s in both) == ["duplicate", "saved"]
    # Another author's notes are their own.
    await records.save_notes(db, "c1", author="mediator-1", revision=1, text="调解", at=at(8))
    assert [(n.author, n.revision) for n in await records.latest_notes(db, "c1")] == [
        ("lawyer-1", 4),
        ("mediator-1", 1),
    ]
    for revision in (0, -1, 2**31):
        with pytest.raises(InvalidValue):
            await save(revision, "x", 9)
    with pytest.raises(InvalidValue):
        await save(5, "x" * (records.MAX_NOTES_CHARS + 1), 9)
    with pytest.raises(NotFound):
        await records.save_notes(db, "c404", author="lawyer-1", revision=1, text="x", at=at(9))


@pytest.mark.timeout(60)
async def test_a_rating_is_1_to_5_after_the_call_and_given_once(db: Database) -> None:
    await request(db)
    with pytest.raises(InvalidRecordState):
        await records.set_rating(db, "c1", 4, at=at(1))
    await records.mark_ended(db, "c1", reason=EndReason.HANG_UP, at=at(2))
    for bad in (0, 6, -1, 3.5, True, "5"):
        with pytest.raises(InvalidValue):
            await records.set_rating(db, "c1", bad, at=at(3))  # type: ignore[arg-type]
    assert await records.set_rating(db, "c1", 4, at=at(4))
    assert not await records.set_rating(db, "c1", 1, at=at(5))
    [row] = await records.list_consultations(db)
    assert row.rating == 4
    # The database itself refuses a rating out of range, whoever writes it.
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text("UPDATE consultations SET rating = 9"))


@pytest.mark.timeout(60)
async def test_filters_bind_their_values_and_match_exactly(db: Database) -> None:
    villages = {
        "c-bayan": "巴彦村",
        "c-percent": "100%村",
        "c-under": "a_b村",
        "c-quote": "O'Brien Farm",
        "c-slash": "东/西村",
        "c-mongol": "ᠪᠠᠶᠠᠨ ᠭᠠᠴᠠᠭ",
        "c-plain": "ab村",
    }
    for n, (cid, village) in enumerate(sorted(villages.items())):
        await request(db, cid, village=village, seconds=n * 3600, topic="land")
    await request(db, "c-labour", village="乌兰村", topic="labour", seconds=86400)
    await answered_by(db, "c-labour", "lawyer-1", 86401)
    await answered_by(db, "c-bayan", "lawyer-2", 1)
    await records.set_outcome(db, "c-labour", Outcome.LEGAL_AID_APPLICATION, by="x", at=at(9e4))
    await records.set_outcome(db, "c-bayan", Outcome.ADVICE_GIVEN, by="x", at=at(9e4))

    async def ids(**filters: object) -> list[str]:
        chosen = ConsultationFilter(**filters)  # type: ignore[arg-type]
        found = sorted(c.id for c in await records.list_consultations(db, chosen, limit=500))
        assert await records.count_consultations(db, chosen) == len(found)
        return found

    injection = "' OR 1=1 --"
    assert await ids(village="%") == ["c-percent"]
    assert await ids(village="_") == ["c-under"]
    assert await ids(village="a_b") == ["c-under"]
    assert await ids(village="/") == ["c-slash"]
    assert await ids(village="'") == ["c-quote"]
    assert await ids(village="o'brien") == ["c-quote"]
    assert await ids(village="巴彦") == ["c-bayan"]
    assert await ids(village="ᠪᠠᠶᠠᠨ") == ["c-mongol"]
    assert await ids(village=injection) == []
    assert await ids(village='"; DROP TABLE consultations; --') == []
    assert await ids(topic=injection) == []
    assert await ids(topic="labour") == ["c-labour"]
    assert await ids(professional=injection) == []
    assert await ids(professional="lawyer-1") == ["c-labour"]
    assert await ids(terminal=injection) == []
    assert await ids(outcome=Outcome.ADVICE_GIVEN) == ["c-bayan"]
    assert await ids(topic="land", outcome=Outcome.LEGAL_AID_APPLICATION) == []
    # From inclusive, before exclusive: the 1st and 2nd hour, not the 3rd.
    assert await ids(requested_from=at(3600), requested_before=at(3 * 3600)) == [
        "c-mongol",
        "c-percent",
    ]
    assert await ids(requested_from=at(86400)) == ["c-labour"]
    assert len(await ids()) == 8
    # Newest first, and paged.
    newest = await records.list_consultations(db, limit=2)
    assert [c.id for c in newest] == ["c-labour", "c-under"]
    assert [c.id for c in await records.list_consultations(db, limit=2, offset=2)] == [
        "c-slash",
        "c-quote",
    ]


@pytest.mark.timeout(60)
async def test_records_left_open_by_a_stopped_server_are_closed_not_lost(db: Database) -> None:
    await request(db, "c1")
    await records.add_offer(
        db, "c1", professional_identity="lawyer-1", professional_role=Role.LAWYER, at=at(1)
    )
    await request(db, "c2")
    await answered_by(db, "c2", "lawyer-2", 2)
    await records.add_participant(
        db, "c2", role=Role.LAWYER, identity="lawyer-2", display_name="李律师", at=at(2)
    )
    await records.save_notes(db, "c2", author="lawyer-2", revision=7, text="借款", at=at(3))
    await request(db, "c3")
    await records.mark_ended(db, "c3", reason=EndReason.CANCELLED, at=at(4))

    assert await records.close_interrupted(db, at(100)) == 2
    assert await records.close_interrupted(db, at(101)) == 0
    one = await records.read_record(db, "c1", reader=CHIEF, at=at(102))
    assert (one.summary.end_reason, one.summary.ended_at) == (EndReason.SERVER_SHUTDOWN, at(100))
    assert [o.result for o in one.offers] == [OfferResult.ABANDONED]
    two = await records.read_record(db, "c2", reader=CHIEF, at=at(102))
    assert [p.left_at for p in two.participants] == [at(100)]
    assert [(n.revision, n.text) for n in two.notes] == [(7, "借款")]
    three = await records.read_record(db, "c3", reader=CHIEF, at=at(102))
    assert three.summary.end_reason is EndReason.CANCELLED


@pytest.mark.timeout(60)
async def test_record_validation(db: Database) -> None:
    with pytest.raises(InvalidValue):
        await request(db, "c 1")
    with pytest.raises(InvalidValue):
        await request(db, "c1", topic="astrology")
    with pytest.raises(NotFound):
        await records.read_record(db, "c404", reader=CHIEF, at=at(1))
    await request(db, "c1")
    with pytest.raises(InvalidValue):
        await records.record_citation(
            db, "c1", law=" ", article="第1条", shown_by="lawyer-1", at=at(1)
        )
    with pytest.raises(InvalidValue):
        await records.set_villager(db, "c1", name="名" * 101, phone=None)
    # Nothing was audited for reads that failed.
    assert await audit.entries(db) == []


@pytest.mark.timeout(60)
async def test_personal_fields_never_reach_the_logs(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    name, phone, secret_note = "其木格", "13800138000", "其木格的土地纠纷"
    caplog.set_level(logging.DEBUG)
    # SQL statement logging on, as an operator debugging the database would turn it on.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    await request(db, "c1")
    await records.set_villager(db, "c1", name=name, phone=phone)
    await records.save_notes(db, "c1", author="lawyer-1", revision=1, text=secret_note, at=at(1))
    await records.set_outcome(
        db, "c1", Outcome.LEGAL_AID_APPLICATION, by="lawyer-1", at=at(2), detail=f"{name} 申请"
    )
    record = await records.read_record(db, "c1", reader=CHIEF, at=at(3))
    assert record.villager_name == name and record.villager_phone == phone

    # A database error about a row with personal data does not quote it either.
    with pytest.raises(IntegrityError) as clash:
        async with db.transaction() as session:
            await session.execute(
                insert(Consultation).values(
                    id="c1",
                    terminal_identity="village-1",
                    village="巴彦村",
                    topic="land",
                    language=Language.ZH,
                    kind=Kind.CONSULTATION,
                    priority=0,
                    requested_at=at(4),
                    villager_name=name,
                )
            )
    logging.getLogger("test").exception("stored failed", exc_info=clash.value)
    # Nor does a row's repr, which ends up in tracebacks.
    async with db.transaction() as session:
        row = await session.get(Consultation, "c1")
        logging.getLogger("test").debug("row %r", row)
    # PostgreSQL puts the whole failing row in a CHECK violation's detail.
    with pytest.raises(DBAPIError) as refused:
        async with db.transaction() as session:
            await session.execute(text("UPDATE consultations SET rating = 0"))
    logging.getLogger("test").exception("rating refused", exc_info=refused.value)

    assert "consultations" in caplog.text, "SQL logging was on"
    for value in (name, phone, secret_note):
        assert value not in caplog.text
        assert value not in str(clash.value)
        assert value not in str(refused.value)
