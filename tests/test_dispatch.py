"""Dispatch through a running server: priority, who qualifies, the autopause, wrap-up."""

from __future__ import annotations

import pytest

from server.app import database
from server.db import accounts
from server.db.audit import Actor
from server.db.models import AccountRole, utcnow
from tests.conftest import RunningServer
from tests.wire import Wire

pytestmark = pytest.mark.timeout(60)


async def on_duty(server: RunningServer, identity: str) -> Wire:
    wire = await Wire.signed_in(server, identity)
    await wire.send({"type": "set_duty", "on_duty": True})
    await wire.next_of("duty_state")
    return wire


async def asks(server: RunningServer, terminal: str, topic: str, **extra: str) -> tuple[Wire, str]:
    wire = await Wire.signed_in(server, terminal)
    await wire.send({"type": "request_consultation", "topic": topic, "language": "zh", **extra})
    cid = (await wire.next_of("call_state"))["consultation_id"]
    return wire, cid


async def test_an_urgent_request_goes_before_those_waiting_longer(lawroom: RunningServer) -> None:
    normal, _ = await asks(lawroom, "village-1", "labour")
    assert (await normal.next_of("waiting"))["position"] == 1
    lawroom.clock.advance(30)
    urgent, urgent_id = await asks(lawroom, "village-2", "labour", priority="urgent")
    assert (await normal.next_of("waiting"))["position"] == 2
    lawyer = await on_duty(lawroom, "lawyer-1")
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == urgent_id
    for w in (normal, urgent, lawyer):
        await w.close()


async def test_only_a_professional_with_the_topic_and_language_is_offered_it(
    lawroom: RunningServer,
) -> None:
    db = database(lawroom.server.app)
    await accounts.create_account(
        db,
        username="lawyer-mn",
        role=AccountRole.LAWYER,
        display_name="巴特尔律师",
        password="lawyer-mn-password",
        topics=("traffic",),
        languages=("mn",),
        actor=Actor.cli(),
        at=utcnow(),
    )
    token = await accounts.issue_token(db, "lawyer-mn", actor=Actor.cli(), at=utcnow())
    specialist = await Wire.open(lawroom)
    await specialist.send(
        {"type": "hello", "role": "lawyer", "identity": "lawyer-mn", "token": token}
    )
    await specialist.next_of("welcome")
    await specialist.send({"type": "set_duty", "on_duty": True})
    await specialist.next_of("duty_state")
    # Mandarin labour: not for a Mongolian-speaking traffic specialist.
    terminal, _ = await asks(lawroom, "village-1", "labour")
    waiting = await terminal.next_of("waiting")
    assert (waiting["professionals_on_duty"], waiting["professionals_free"]) == (1, 1)
    # Mongolian traffic: theirs.
    other = await Wire.signed_in(lawroom, "village-2")
    await other.send({"type": "request_consultation", "topic": "traffic", "language": "mn"})
    offer = await specialist.next_of("consultation_offer")
    assert (offer["topic"], offer["language"]) == ("traffic", "mn")
    for w in (specialist, terminal, other):
        await w.close()


async def test_an_offer_left_ringing_pauses_the_professional(lawroom: RunningServer) -> None:
    lawyer = await on_duty(lawroom, "lawyer-1")
    terminal, cid = await asks(lawroom, "village-1", "labour")
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == cid
    lawroom.clock.advance(lawroom.settings.offer_timeout + 0.1)
    assert (await lawyer.next_of("offer_withdrawn"))["reason"] == "timeout"
    state = await lawyer.next_of("duty_state")
    assert (state["on_duty"], state["paused"]) == (False, True)
    # Back on duty: offered again? Not this request (they let it pass) - it waits for others.
    await lawyer.send({"type": "set_duty", "on_duty": True})
    assert (await lawyer.next_of("duty_state"))["on_duty"] is True
    second, second_id = await asks(lawroom, "village-2", "labour")
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == second_id
    for w in (lawyer, terminal, second):
        await w.close()


async def test_wrap_up_holds_the_next_offer_until_the_outcome_is_saved(
    lawroom: RunningServer,
) -> None:
    lawyer = await on_duty(lawroom, "lawyer-1")
    first, cid = await asks(lawroom, "village-1", "labour")
    await lawyer.next_of("consultation_offer")
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await first.next_of("room_joined")
    await first.send({"type": "hang_up", "consultation_id": cid})
    await lawyer.next_of("consultation_ended")
    wrap = await lawyer.next_of("duty_state")
    assert wrap["wrap_up_seconds"] == lawroom.settings.wrap_up_seconds
    second, second_id = await asks(lawroom, "village-2", "labour")
    waiting = await second.next_of("waiting")
    assert waiting["professionals_free"] == 0  # writing up the last call
    await lawyer.send({"type": "set_outcome", "consultation_id": cid, "outcome": "advice_given"})
    await lawyer.next_of("saved")
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == second_id
    for w in (lawyer, first, second):
        await w.close()


async def test_wrap_up_ends_by_itself(lawroom: RunningServer) -> None:
    lawyer = await on_duty(lawroom, "lawyer-1")
    first, cid = await asks(lawroom, "village-1", "labour")
    await lawyer.next_of("consultation_offer")
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await first.next_of("room_joined")
    await lawyer.send({"type": "hang_up", "consultation_id": cid})
    await lawyer.next_of("consultation_ended")
    second, second_id = await asks(lawroom, "village-2", "labour")
    await second.next_of("waiting")
    lawroom.clock.advance(lawroom.settings.wrap_up_seconds + 0.1)
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == second_id
    for w in (lawyer, first, second):
        await w.close()


async def test_no_one_with_the_language_widens_to_anyone_with_an_interpreter(
    lawroom: RunningServer,
) -> None:
    db = database(lawroom.server.app)
    await accounts.create_account(
        db,
        username="lawyer-zh",
        role=AccountRole.LAWYER,
        display_name="刘律师",
        password="lawyer-zh-password",
        languages=("zh",),
        actor=Actor.cli(),
        at=utcnow(),
    )
    token = await accounts.issue_token(db, "lawyer-zh", actor=Actor.cli(), at=utcnow())
    lawyer = await Wire.open(lawroom)
    await lawyer.send({"type": "hello", "role": "lawyer", "identity": "lawyer-zh", "token": token})
    await lawyer.next_of("welcome")
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await lawyer.next_of("duty_state")
    terminal = await Wire.signed_in(lawroom, "village-1")
    await terminal.send({"type": "request_consultation", "topic": "labour", "language": "mn"})
    await terminal.next_of("waiting")
    lawroom.clock.advance(lawroom.settings.escalate_after + 0.1)
    offer = await lawyer.next_of("consultation_offer")
    assert (offer["language"], offer["interpreter_needed"]) == ("mn", True)
    for w in (lawyer, terminal):
        await w.close()


async def test_waiting_updates_carry_an_estimate_and_come_at_most_once_a_second(
    lawroom: RunningServer,
) -> None:
    lawyer = await on_duty(lawroom, "lawyer-1")
    # One call of 120 s on this topic gives the estimate something to go on.
    first, cid = await asks(lawroom, "village-1", "labour")
    await lawyer.next_of("consultation_offer")
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await first.next_of("room_joined")
    lawroom.clock.advance(120)
    await first.send({"type": "hang_up", "consultation_id": cid})
    await lawyer.next_of("consultation_ended")
    waiting, _ = await asks(lawroom, "village-2", "labour")
    update = await waiting.next_of("waiting")
    assert (update["position"], update["estimated_wait_seconds"]) == (1, 60)
    # The lawyer goes off duty in the same second: that change waits for the second to pass.
    await lawyer.send({"type": "set_duty", "on_duty": False})
    await lawyer.next_of("duty_state")
    assert (await waiting.ask({"type": "ping", "id": 1}))["type"] == "pong"
    lawroom.clock.advance(1.0)
    later = await waiting.next_of("waiting")
    assert (later["professionals_on_duty"], later.get("estimated_wait_seconds")) == (0, None)
    for w in (lawyer, first, waiting):
        await w.close()


async def test_a_professional_gone_mid_call_puts_the_request_back_at_the_front(
    lawroom: RunningServer,
) -> None:
    lawyer = await on_duty(lawroom, "lawyer-1")
    first, cid = await asks(lawroom, "village-1", "labour")
    await lawyer.next_of("consultation_offer")
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await first.next_of("room_joined")
    # Someone else asks meanwhile, and then the lawyer's connection drops for good.
    second, _ = await asks(lawroom, "village-2", "labour")
    await lawyer.close()
    assert (await first.next_of("peer_disconnected"))["peer_role"] == "lawyer"
    # Within the grace period the room waits; once it is over the villager waits again, first.
    lawroom.clock.advance(lawroom.settings.grace_seconds + 0.1)
    assert (await first.next_of("call_state"))["state"] == "waiting"
    assert (await first.next_of("waiting"))["position"] == 1
    next_lawyer = await on_duty(lawroom, "lawyer-2")
    assert (await next_lawyer.next_of("consultation_offer"))["consultation_id"] == cid
    for w in (first, second, next_lawyer):
        await w.close()
