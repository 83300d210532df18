"""Callbacks: a villager who would rather not wait leaves one; the request keeps its place,
the terminal is free meanwhile, and the professional who takes it rings the terminal back. A
terminal that cannot be reached is tried again, and after the last try the request goes to the
supervisors' list."""

from __future__ import annotations

import pytest

from server.app import database
from server.db import records
from signaling.messages import EndReason
from tests.conftest import RunningServer
from tests.wire import Wire, snapshot

pytestmark = pytest.mark.timeout(60)


async def waiting_terminal(server: RunningServer, identity: str = "village-1") -> tuple[Wire, str]:
    wire = await Wire.signed_in(server, identity)
    await wire.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    cid = (await wire.next_of("call_state"))["consultation_id"]
    return wire, cid


async def on_duty(server: RunningServer, identity: str = "lawyer-1") -> Wire:
    wire = await Wire.signed_in(server, identity)
    await wire.send({"type": "set_duty", "on_duty": True})
    await wire.next_of("duty_state")
    return wire


async def test_with_nobody_on_duty_the_terminal_suggests_a_callback_and_is_rung_back(
    lawroom: RunningServer,
) -> None:
    terminal, cid = await waiting_terminal(lawroom)
    assert (await terminal.next_of("waiting"))["callback_suggested"] is True
    await terminal.send({"type": "leave_callback", "consultation_id": cid, "phone": "13904710000"})
    left = await terminal.next_of("callback_left")
    assert (left["consultation_id"], left["phone"]) == (cid, "13904710000")
    # The request still waits, in its place; the terminal holds nothing any more.
    state = await snapshot(lawroom)
    assert state[1] == [cid]
    lawyer = await on_duty(lawroom)
    offer = await lawyer.next_of("consultation_offer")
    assert (offer["consultation_id"], offer["callback"], offer["phone"]) == (
        cid,
        True,
        "13904710000",
    )
    await lawyer.send({"type": "accept", "consultation_id": cid})
    # Rung back: the terminal, idle at its home screen, joins the call and makes the offer.
    joined = await terminal.next_of("room_joined")
    assert (joined["consultation_id"], joined["initiator"]) == (cid, True)
    assert (await lawyer.next_of("room_joined"))["consultation_id"] == cid
    await terminal.send({"type": "hang_up", "consultation_id": cid})
    assert (await lawyer.next_of("consultation_ended"))["reason"] == "hang_up"
    for w in (terminal, lawyer):
        await w.close()


async def test_a_terminal_away_is_rung_back_later_and_at_last_listed_for_the_supervisors(
    lawroom: RunningServer,
) -> None:
    terminal, cid = await waiting_terminal(lawroom)
    await terminal.send({"type": "leave_callback", "consultation_id": cid})
    await terminal.next_of("callback_left")
    await terminal.close()  # the villager went home; the terminal is off
    lawyer = await on_duty(lawroom)
    for attempt in range(1, lawroom.settings.callback_tries + 1):
        offer = await lawyer.next_of("consultation_offer")
        assert offer["consultation_id"] == cid and offer["callback"] is True
        await lawyer.send({"type": "accept", "consultation_id": cid})
        withdrawn = await lawyer.next_of("offer_withdrawn")
        assert withdrawn["reason"] == "terminal_away", attempt
        # Not offered again at once: only once the retry interval has passed.
        assert (await lawyer.ask({"type": "ping", "id": attempt}))["type"] == "pong"
        lawroom.clock.advance(lawroom.settings.callback_retry_seconds + 0.1)
    assert (await snapshot(lawroom))[1] == []
    row = (await records.list_consultations(database(lawroom.server.app)))[0]
    assert (row.id, row.end_reason, row.answered_at) == (cid, EndReason.CALLBACK_MISSED, None)
    await lawyer.close()


@pytest.mark.parametrize(
    ("who", "change", "code"),
    [
        ("village-2", {}, "not_found"),  # another terminal's request
        ("village-1", {"phone": "call me maybe"}, "invalid_format"),
        ("village-1", {"phone": "1" * 40}, "invalid_format"),
    ],
)
async def test_a_callback_refused_changes_nothing(
    lawroom: RunningServer, who: str, change: dict[str, str], code: str
) -> None:
    terminal, cid = await waiting_terminal(lawroom)
    other = terminal if who == "village-1" else await Wire.signed_in(lawroom, who)
    await terminal.next_of("waiting")
    before = await snapshot(lawroom)
    reply = await other.ask({"type": "leave_callback", "consultation_id": cid, **change})
    assert (reply["type"], reply["code"]) == ("error", code)
    assert await snapshot(lawroom) == before
    for w in {terminal, other}:
        await w.close()


async def test_a_request_already_ringing_cannot_become_a_callback(lawroom: RunningServer) -> None:
    lawyer = await on_duty(lawroom)
    terminal, cid = await waiting_terminal(lawroom)
    await lawyer.next_of("consultation_offer")
    before = await snapshot(lawroom)
    await terminal.send({"type": "leave_callback", "consultation_id": cid})
    assert (await terminal.next_of("error"))["code"] == "invalid_state"
    assert await snapshot(lawroom) == before
    for w in (terminal, lawyer):
        await w.close()
