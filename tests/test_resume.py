"""A websocket that drops: within the grace period the client gets its place back and every
message it missed; after it, the room ends for the other side and nothing is left behind."""

from __future__ import annotations

import asyncio

import pytest

from server.app import STATE_KEY
from signaling.client import SignalingError
from signaling.messages import CallState, EndReason, IceCandidate, Outcome, SetOutcome
from tests.conftest import RunningServer
from tests.peers import desk, village
from tests.wire import Wire
from village_client.terminal import request

pytestmark = pytest.mark.timeout(60)


async def _in_call(lawroom: RunningServer):  # type: ignore[no-untyped-def]
    lawyer, _ = await desk(lawroom)
    terminal, from_lawyer = await village(lawroom)
    await request(terminal, "labour")
    async with asyncio.timeout(20):
        await terminal.joined.wait()
    await from_lawyer.until(lambda: len(from_lawyer.counters) >= 10)
    return lawyer, terminal, from_lawyer


async def test_dropped_mid_call_and_resumed(lawroom: RunningServer) -> None:
    lawyer, terminal, from_lawyer = await _in_call(lawroom)
    try:
        await terminal.client.drop()
        # The lawyer is told at once; the media between the peers goes on meanwhile.
        async with asyncio.timeout(10):
            await lawyer.peer_changed("peer_disconnected")
        before = len(from_lawyer.counters)
        await from_lawyer.until(lambda: len(from_lawyer.counters) >= before + 10)
        # Sent to the village while its websocket is down: must not be lost.
        assert terminal.consultation_id is not None
        await lawyer.client.send(
            IceCandidate(consultation_id=terminal.consultation_id, candidate="")
        )
        seen_before = list(terminal.message_types)

        resumed = await terminal.client.resume()
        assert resumed.replayed == 1
        assert resumed.call_state is CallState.CONNECTED
        async with asyncio.timeout(10):
            await lawyer.peer_changed("peer_resumed")
            await terminal.message_seen("ice_candidate", after=len(seen_before))

        # The call goes on: frames keep arriving, and hang-up still ends it for both.
        count = len(from_lawyer.counters)
        await from_lawyer.until(lambda: len(from_lawyer.counters) >= count + 10)
        await terminal.hang_up()
        async with asyncio.timeout(10):
            await lawyer.ended.wait()
            await terminal.ended.wait()
        assert lawyer.end_reason is EndReason.HANG_UP
    finally:
        await terminal.close()
        await lawyer.close()


def client_tasks() -> set[asyncio.Task[object]]:
    """Live tasks of the clients: aiortc's and aioice's, and the participant's own."""
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        where = code.co_filename if code else ""
        ours = task.get_name().startswith(("participant-", "read-", "signaling-"))
        if not task.done() and (ours or "/aiortc/" in where or "/aioice/" in where):
            found.add(task)
    return found


async def test_dropped_and_not_resumed(lawroom: RunningServer) -> None:
    lawyer, terminal, _ = await _in_call(lawroom)
    try:
        await terminal.client.drop()
        async with asyncio.timeout(10):
            await lawyer.peer_changed("peer_disconnected")
        lawroom.clock.advance(lawroom.settings.grace_seconds + 1)
        async with asyncio.timeout(10):
            await lawyer.ended.wait()
        assert lawyer.end_reason is EndReason.PEER_GONE
        assert lawyer.peer is not None and lawyer.peer.pc.connectionState == "closed"
        # Nothing left on the server: no consultation, no village session, no timers due.
        state = lawroom.server.app[STATE_KEY]
        sessions = [s async for s in state.sessions()]
        assert [s.identity for s in sessions] == ["lawyer-1"]
        assert sessions[0].consultation_id is None
        assert await state.waiting() == []
        # The lawyer writes the call up (which ends the wrap-up): no timer is left either.
        await lawyer.client.send(
            SetOutcome(consultation_id=lawyer.consultation_id or "", outcome=Outcome.OTHER)
        )
        async with asyncio.timeout(10):
            await lawyer.message_seen("saved")
        assert await state.next_timer_due() is None
        # Too late to resume: the terminal is told plainly and must sign in again.
        with pytest.raises(SignalingError) as info:
            await terminal.client.resume()
        assert info.value.error.code == "resume_failed"
    finally:
        await terminal.close()
        await lawyer.close()
    # No task of either client outlives it.
    assert not client_tasks()


async def test_waiting_villager_keeps_their_place(lawroom: RunningServer) -> None:
    first = await Wire.signed_in(lawroom, "village-1")
    await first.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    cid = (await first.next_of("waiting"))["consultation_id"]
    token = first.welcome["resume_token"]
    second = await Wire.signed_in(lawroom, "village-2")
    await second.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    assert (await second.next_of("waiting"))["position"] == 2
    await first.close()
    back = await Wire.open(lawroom)
    await back.send({"type": "resume", "resume_token": token, "last_seq": 0})
    resumed = await back.next_of("resumed")
    assert (resumed["consultation_id"], resumed["call_state"]) == (cid, "waiting")
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    await lawyer.send({"type": "set_duty", "on_duty": True})
    assert (await lawyer.next_of("consultation_offer"))["consultation_id"] == cid
    for w in (back, second, lawyer):
        await w.close()


async def test_waiting_villager_who_never_returns_is_abandoned(lawroom: RunningServer) -> None:
    first = await Wire.signed_in(lawroom, "village-1")
    await first.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    await first.next_of("waiting")
    second = await Wire.signed_in(lawroom, "village-2")
    await second.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    assert (await second.next_of("waiting"))["position"] == 2
    await first.close()
    lawroom.clock.advance(lawroom.settings.grace_seconds + 1)
    # The one behind moves up.
    assert (await second.next_of("waiting"))["position"] == 1
    await second.close()


async def test_ringing_lawyer_who_drops_passes_the_offer_at_once(lawroom: RunningServer) -> None:
    first = await Wire.signed_in(lawroom, "lawyer-1")
    await first.send({"type": "set_duty", "on_duty": True})
    await first.next_of("duty_state")
    second = await Wire.signed_in(lawroom, "lawyer-2")
    await second.send({"type": "set_duty", "on_duty": True})
    await second.next_of("duty_state")
    terminal = await Wire.signed_in(lawroom, "village-1")
    await terminal.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    cid = (await first.next_of("consultation_offer"))["consultation_id"]
    await first.close()
    assert (await second.next_of("consultation_offer"))["consultation_id"] == cid
    await second.close()
    await terminal.close()


async def test_resume_with_a_wrong_token(lawroom: RunningServer) -> None:
    wire = await Wire.open(lawroom)
    reply = await wire.ask({"type": "resume", "resume_token": "forged", "last_seq": 0})
    assert reply["code"] == "resume_failed"
    assert (await wire.ask({"type": "ping"}))["type"] == "pong"
    await wire.close()
