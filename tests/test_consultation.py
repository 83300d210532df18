"""A whole consultation between two real aiortc peers through a running server."""

from __future__ import annotations

import asyncio
from statistics import median

import pytest

from room.peer import MediaPeer
from room.synthetic import SIDE_LAWYER, SIDE_VILLAGE, TONE_HZ
from room.tracks import media_source
from signaling.messages import CallState, EndReason, Language, RequestConsultation
from tests.conftest import RunningServer
from tests.peers import SMALL, desk, village
from tests.wire import Wire
from village_client.terminal import request

pytestmark = pytest.mark.timeout(60)
S = CallState
WHOLE_CALL = [S.WAITING, S.RINGING, S.JOINED, S.NEGOTIATING, S.CONNECTED, S.ENDED]


@pytest.mark.parametrize("hung_up_by", ["village", "lawyer"])
async def test_video_and_audio_each_way_then_hang_up(
    lawroom: RunningServer, hung_up_by: str
) -> None:
    lawyer, from_village = await desk(lawroom)
    terminal, from_lawyer = await village(lawroom)
    try:
        await request(terminal, "labour")
        async with asyncio.timeout(20):
            await terminal.joined.wait()
            await lawyer.joined.wait()
        # Each side reads the other's side id, with frame counters moving on, and hears its tone.
        await from_lawyer.until(
            lambda: len(from_lawyer.counters) >= 30 and len(from_lawyer.tones) >= 25
        )
        await from_village.until(
            lambda: len(from_village.counters) >= 30 and len(from_village.tones) >= 25
        )
        assert from_lawyer.sides == {SIDE_LAWYER}
        assert from_village.sides == {SIDE_VILLAGE}
        assert from_lawyer.counters == sorted(from_lawyer.counters)
        assert from_lawyer.counters[-1] - from_lawyer.counters[0] >= 20
        assert abs(median(from_lawyer.tones[-20:]) - TONE_HZ[SIDE_LAWYER]) < 15
        assert abs(median(from_village.tones[-20:]) - TONE_HZ[SIDE_VILLAGE]) < 15

        await (terminal if hung_up_by == "village" else lawyer).hang_up()
        async with asyncio.timeout(10):
            await terminal.ended.wait()
            await lawyer.ended.wait()
        assert terminal.end_reason is lawyer.end_reason is EndReason.HANG_UP
        assert terminal.call_states == WHOLE_CALL
        assert lawyer.call_states == WHOLE_CALL[2:]
        assert terminal.peer and lawyer.peer
        assert terminal.peer.connection_states == ["new", "connecting", "connected", "closed"]
        assert lawyer.peer.connection_states == ["new", "connecting", "connected", "closed"]
    finally:
        await terminal.close()
        await lawyer.close()


async def test_with_nobody_on_duty_the_villager_waits_and_is_told(lawroom: RunningServer) -> None:
    wire = await Wire.signed_in(lawroom, "village-1")
    await wire.send({"type": "request_consultation", "topic": "marriage_family", "language": "mn"})
    waiting = await wire.next_of("waiting")
    assert (waiting["position"], waiting["professionals_on_duty"]) == (1, 0)
    # A lawyer coming on duty is offered the waiting request at once.
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    await lawyer.send({"type": "set_duty", "on_duty": True})
    offer = await lawyer.next_of("consultation_offer")
    assert (offer["topic"], offer["language"], offer["village"]) == (
        "marriage_family",
        "mn",
        "巴彦村法律服务室",
    )
    assert (await wire.next_of("call_state"))["state"] == "ringing"
    await wire.close()
    await lawyer.close()


async def test_decline_offers_it_to_the_next_lawyer(lawroom: RunningServer) -> None:
    first = await Wire.signed_in(lawroom, "lawyer-1")
    await first.send({"type": "set_duty", "on_duty": True})
    await first.next_of("duty_state")
    second = await Wire.signed_in(lawroom, "lawyer-2")
    await second.send({"type": "set_duty", "on_duty": True})
    await second.next_of("duty_state")
    terminal = await Wire.signed_in(lawroom, "village-1")
    await terminal.send({"type": "request_consultation", "topic": "traffic", "language": "zh"})
    # The longest idle (first on duty) is offered it first.
    cid = (await first.next_of("consultation_offer"))["consultation_id"]
    await first.send({"type": "decline", "consultation_id": cid})
    assert (await first.next_of("offer_withdrawn"))["reason"] == "declined"
    assert (await second.next_of("consultation_offer"))["consultation_id"] == cid
    states = [(await terminal.next_of("call_state"))["state"] for _ in range(4)]
    assert states == ["waiting", "ringing", "waiting", "ringing"]
    await second.send({"type": "decline", "consultation_id": cid})
    # Nobody left who has not passed: the villager is told they wait, with who is on duty.
    waiting = await terminal.next_of("waiting")
    assert (waiting["professionals_on_duty"], waiting["professionals_free"]) == (2, 2)
    for w in (first, second, terminal):
        await w.close()


async def test_unanswered_offer_moves_on(lawroom: RunningServer) -> None:
    first = await Wire.signed_in(lawroom, "lawyer-1")
    await first.send({"type": "set_duty", "on_duty": True})
    await first.next_of("duty_state")
    terminal = await Wire.signed_in(lawroom, "village-1")
    await terminal.send({"type": "request_consultation", "topic": "traffic", "language": "zh"})
    cid = (await first.next_of("consultation_offer"))["consultation_id"]
    second = await Wire.signed_in(lawroom, "lawyer-2")
    await second.send({"type": "set_duty", "on_duty": True})
    await second.next_of("duty_state")
    lawroom.clock.advance(lawroom.settings.offer_timeout + 0.1)
    assert (await first.next_of("offer_withdrawn"))["reason"] == "timeout"
    assert (await second.next_of("consultation_offer"))["consultation_id"] == cid
    for w in (first, second, terminal):
        await w.close()


async def test_mediation_goes_to_a_mediator(lawroom: RunningServer) -> None:
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await lawyer.next_of("duty_state")
    mediator = await Wire.signed_in(lawroom, "mediator-1")
    await mediator.send({"type": "set_duty", "on_duty": True})
    await mediator.next_of("duty_state")
    terminal = await Wire.signed_in(lawroom, "village-1")
    # A neighbour dispute goes to a mediator by the topic catalogue.
    await terminal.send({"type": "request_consultation", "topic": "neighbour", "language": "zh"})
    offer = await mediator.next_of("consultation_offer")
    assert offer["kind"] == "mediation"
    for w in (lawyer, mediator, terminal):
        await w.close()


async def test_a_terminal_asks_once_at_a_time(lawroom: RunningServer) -> None:
    terminal, _ = await village(lawroom)
    try:
        await request(terminal, "labour")
        await terminal.client.send(RequestConsultation(topic="traffic", language=Language.ZH))
        error = await asyncio.wait_for(terminal.errors.get(), 5)
        assert error.code == "invalid_state"
    finally:
        await terminal.close()


async def test_a_peer_close_cut_short_by_a_cancel_is_finished_by_the_next() -> None:
    """Closing a participant cancels its handler, which may be closing the peer just then (on
    `consultation_ended`); the participant's own close of the peer must still finish. (aiortc's
    close, once cut short, makes every later one wait for ever: the test hung there.)"""
    caller = MediaPeer([], media_source(SIDE_VILLAGE, synthetic=SMALL)())
    callee = MediaPeer([], media_source(SIDE_LAWYER, synthetic=SMALL)())
    try:
        await caller.accept_answer(await callee.accept_offer(await caller.create_offer()))
        async with asyncio.timeout(20):
            await caller.received.first_video.wait()
        first = asyncio.create_task(caller.close())
        await asyncio.sleep(0)  # the close is under way...
        first.cancel()  # ...when the handler running it is cancelled
        await asyncio.wait([first])
        second = asyncio.create_task(caller.close())
        done, _ = await asyncio.wait([second], timeout=10)
        assert second in done
        assert caller.connection_states[-1] == "closed"
    finally:
        await callee.close()
