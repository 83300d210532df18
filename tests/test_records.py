"""The consultation record written as the call goes, and what participants write into it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from server.app import database
from server.db import records
from server.db.audit import Actor
from server.db.models import utcnow
from signaling.messages import Role
from tests.conftest import RunningServer
from tests.wire import Wire

pytestmark = pytest.mark.timeout(60)


async def in_a_room(server: RunningServer, lawyer_id: str = "lawyer-1") -> tuple[Wire, Wire, str]:
    lawyer = await Wire.signed_in(server, lawyer_id)
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await lawyer.next_of("duty_state")
    village = await Wire.signed_in(server, "village-1")
    await village.send(
        {"type": "request_consultation", "topic": "private_lending", "language": "mn"}
    )
    cid = (await lawyer.next_of("consultation_offer"))["consultation_id"]
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await village.next_of("room_joined")
    await lawyer.next_of("room_joined")
    return lawyer, village, cid


async def test_the_record_follows_the_call(lawroom: RunningServer) -> None:
    # lawyer-2 is offered it first (longest idle) and declines; lawyer-1 accepts.
    first = await Wire.signed_in(lawroom, "lawyer-2")
    await first.send({"type": "set_duty", "on_duty": True})
    await first.next_of("duty_state")
    lawroom.clock.advance(1)
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await lawyer.next_of("duty_state")
    village = await Wire.signed_in(lawroom, "village-1")
    await village.send(
        {"type": "request_consultation", "topic": "private_lending", "language": "mn"}
    )
    cid = (await first.next_of("consultation_offer"))["consultation_id"]
    await first.send({"type": "decline", "consultation_id": cid})
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == cid
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await village.next_of("room_joined")
    await village.send({"type": "hang_up", "consultation_id": cid})
    await lawyer.next_of("consultation_ended")
    db = database(lawroom.server.app)
    record = await records.read_record(db, cid, reader=Actor.account("supervisor"), at=utcnow())
    assert record.summary.topic == "private_lending"
    assert record.summary.language == "mn"
    assert record.summary.end_reason == "hang_up"
    assert record.summary.answered_at is not None and record.summary.ended_at is not None
    assert [(o.professional_identity, o.result) for o in record.offers] == [
        ("lawyer-2", "declined"),
        ("lawyer-1", "accepted"),
    ]
    assert {p.identity for p in record.participants} == {"village-1", "lawyer-1"}
    for w in (first, lawyer, village):
        await w.close()


async def test_notes_outcome_and_rating(lawroom: RunningServer) -> None:
    lawyer, village, cid = await in_a_room(lawroom)
    other = await Wire.signed_in(lawroom, "lawyer-2")
    db = database(lawroom.server.app)

    async def save(wire: Wire, revision: int, text: str) -> dict[str, Any]:
        await wire.send(
            {
                "type": "save_notes",
                "consultation_id": cid,
                "revision": revision,
                "text": text,
                "id": revision,
            }
        )
        reply = await wire.next_of("saved") if wire is lawyer else await wire.next_of("error")
        return reply

    assert (await save(lawyer, 1, "借了五万"))["status"] == "saved"
    assert (await save(lawyer, 3, "借了五万，有借条"))["status"] == "saved"
    assert (await save(lawyer, 2, "借了五"))["status"] == "stale"  # late: never replaces 3
    assert (await save(lawyer, 3, "借了五万，有借条"))["status"] == "duplicate"
    assert [(n.author, n.revision, n.text) for n in await records.latest_notes(db, cid)] == [
        ("lawyer-1", 3, "借了五万，有借条")
    ]
    # A lawyer who is not in this consultation: as if it did not exist.
    assert (await save(other, 4, "冒充"))["code"] == "not_found"

    await lawyer.send(
        {"type": "set_outcome", "consultation_id": cid, "outcome": "legal_aid_application"}
    )
    assert (await lawyer.next_of("saved"))["what"] == "outcome"
    # Rated only after the call, once, by its own terminal.
    await village.send({"type": "rate", "consultation_id": cid, "rating": 5})
    assert (await village.next_of("error"))["code"] == "invalid_state"
    await lawyer.send({"type": "hang_up", "consultation_id": cid})
    await village.next_of("consultation_ended")
    await village.send({"type": "rate", "consultation_id": cid, "rating": 4})
    assert (await village.next_of("saved"))["what"] == "rating"
    await village.send({"type": "rate", "consultation_id": cid, "rating": 1})
    assert (await village.next_of("error"))["code"] == "invalid_state"
    stranger = await Wire.signed_in(lawroom, "village-2")
    await stranger.send({"type": "rate", "consultation_id": cid, "rating": 1})
    assert (await stranger.next_of("error"))["code"] == "not_found"
    record = await records.read_record(db, cid, reader=Actor.account("supervisor"), at=utcnow())
    assert (record.summary.rating, record.summary.outcome) == (4, "legal_aid_application")
    # Notes can still be saved after the call (wrap-up).
    assert (await save(lawyer, 4, "借了五万，有借条，建议起诉"))["status"] == "saved"
    for w in (lawyer, village, other, stranger):
        await w.close()


async def test_revoking_a_terminal_mid_call_ends_it_for_both(lawroom: RunningServer) -> None:
    lawyer, village, cid = await in_a_room(lawroom)
    assert await lawroom.hub.revoke(Role.VILLAGE, "village-1") == 1
    ended = await lawyer.next_of("consultation_ended", timeout=1.0)
    assert (ended["consultation_id"], ended["reason"]) == (cid, "revoked")
    frame = await village.ws.receive(timeout=1.0)
    while frame.type.name == "TEXT":
        frame = await village.ws.receive(timeout=1.0)
    assert village.ws.close_code == 4003
    # The lawyer is free again once the wrap-up time has passed.
    lawroom.clock.advance(lawroom.settings.wrap_up_seconds + 1)
    again = await Wire.signed_in(lawroom, "village-2")
    await again.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    assert (await lawyer.next_of("consultation_offer"))["village"] == "乌兰村法律服务室"
    for w in (lawyer, village, again):
        await w.close()


async def test_revoking_from_the_command_line_takes_effect_within_a_second(
    lawroom: RunningServer,
) -> None:
    lawyer, village, _ = await in_a_room(lawroom)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "terminal",
        "revoke",
        "village-1",
        "--data-dir",
        str(lawroom.settings.data_dir),
    )
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    ended = await lawyer.next_of("consultation_ended", timeout=1.5)
    assert ended["reason"] == "revoked"
    # And it cannot sign in again.
    wire = await Wire.open(lawroom)
    reply = await wire.ask(
        {"type": "hello", "role": "village", "identity": "village-1", "token": "demo-village-1"}
    )
    assert reply["code"] == "bad_credentials"
    for w in (lawyer, village, wire):
        await w.close()
