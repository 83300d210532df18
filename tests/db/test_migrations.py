"""Migrations: an empty database upgraded to head matches the models exactly (Alembic's
autogenerate finds nothing), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import get_args

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.db import audit, records
from server.db.audit import Actor
from server.db.engine import (
    Database,
    alembic_config,
    create_engine,
    current_revision,
    head_revision,
    open_database,
    schema_drift,
    upgrade_database,
)
from server.db.errors import DatabaseNotUpgraded
from server.db.models import (
    AuditAction,
    OfferResult,
    Recording,
    RecordingSegment,
    personal_columns,
)
from signaling.messages import Kind, Language, WithdrawReason
from tests.db.times import at


@pytest.mark.timeout(60)
async def test_upgrade_from_empty_to_head_leaves_no_drift(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade_database(engine)
        assert await current_revision(engine) == head_revision()
        assert list(await schema_drift(engine)) == []
        # Upgrading again is harmless: a server restarting runs it every time.
        await upgrade_database(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


@pytest.mark.timeout(60)
async def test_downgrade_to_empty_and_upgrade_again(database_url: str) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    engine = create_engine(database_url)
    try:
        await upgrade_database(engine)
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
        assert await current_revision(engine) is None
        await upgrade_database(engine)
        assert list(await schema_drift(engine)) == []
    finally:
        await engine.dispose()


@pytest.mark.timeout(60)
async def test_a_named_database_is_not_upgraded_behind_the_operators_back(
    database_url: str, data_dir: Path
) -> None:
    with pytest.raises(DatabaseNotUpgraded, match="lawroom db upgrade") as caught:
        await open_database(database_url, data_dir, upgrade=False)
    assert "revision none" in str(caught.value)


@pytest.mark.timeout(60)
async def test_the_embedded_default_upgrades_itself(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    db = await open_database("", data_dir)
    try:
        assert (data_dir / "lawroom.db").is_file()
        for name in ("lawroom.db", "secret.key"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
        assert await current_revision(db.engine) == head_revision()
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await db.close()


@pytest.mark.timeout(60)
async def test_the_audit_log_refuses_update_and_delete(db: Database) -> None:
    async with db.transaction() as session:
        audit.append(session, Actor.system(), AuditAction.RECORD_READ, at(0), consultation_id="c1")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    [entry] = await audit.entries(db)
    assert (entry.actor, entry.consultation_id) == ("server", "c1")


@pytest.mark.timeout(60)
async def test_times_go_in_with_any_zone_and_come_back_as_utc(db: Database) -> None:
    beijing = timezone(timedelta(hours=8))
    requested = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=beijing)
    await records.create_consultation(
        db,
        consultation_id="c1",
        terminal_identity="village-1",
        village="巴彦村",
        topic="land",
        language=Language.ZH,
        kind=Kind.MEDIATION,
        requested_at=requested,
    )
    [row] = await records.list_consultations(db)
    assert row.requested_at == requested
    assert row.requested_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        await records.create_consultation(
            db,
            consultation_id="c2",
            terminal_identity="village-1",
            village="巴彦村",
            topic="land",
            language=Language.ZH,
            kind=Kind.MEDIATION,
            requested_at=datetime(2026, 3, 1, 9, 30),
        )


@pytest.mark.timeout(10)
def test_personal_fields_are_marked() -> None:
    assert personal_columns() == [
        "consultations.outcome_detail",
        "consultations.villager_name",
        "consultations.villager_phone",
        "note_revisions.text",
    ]


@pytest.mark.timeout(10)
def test_offer_results_cover_every_reason_an_offer_is_withdrawn() -> None:
    # The record keeps one offer per person: a desk that stops ringing because another desk of
    # the same person answered is not an offer's result (the offer was accepted).
    per_person = set(get_args(WithdrawReason)) - {"answered_elsewhere"}
    assert per_person <= {r.value for r in OfferResult}


@pytest.mark.timeout(60)
async def test_the_recording_tables_take_the_recorders_segment_records(db: Database) -> None:
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

    def segment(index: int, path: str) -> RecordingSegment:
        return RecordingSegment(
            recording_id="c1.rec",
            participant="village-1",
            segment_index=index,
            path=path,
            sha256="ab" * 32,
            size_bytes=5 * 2**30,  # past 32 bits
            status="complete",
            start_ms=0,
            end_ms=None,
            finished_at=at(60),
        )

    async with db.transaction() as session:
        session.add(Recording(id="c1.rec", consultation_id="c1", started_at=at(1)))
        await session.flush()
        session.add(segment(1, "village-1/seg-000001.webm"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(segment(2, "village-1/seg-000001.webm"))
    async with db.transaction() as session:
        stored = await session.scalar(select(RecordingSegment.size_bytes))
    assert stored == 5 * 2**30
