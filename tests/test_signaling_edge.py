"""Untrusted input at the websocket: each bad message gets its documented answer, changes
nothing, and leaves the connection usable."""

from __future__ import annotations

import json

import aiohttp
import pytest

from signaling.messages import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES
from tests.conftest import RunningServer
from tests.wire import Wire, snapshot

pytestmark = pytest.mark.timeout(30)


async def test_nothing_before_hello(lawroom: RunningServer) -> None:
    wire = await Wire.open(lawroom)
    reply = await wire.ask(
        {"type": "request_consultation", "topic": "labour", "language": "zh", "id": 7}
    )
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", "not_authenticated", 7)
    assert (await wire.ask({"type": "ping", "id": 8})) == {"v": 1, "type": "pong", "ref": 8}
    reply = await wire.ask(
        {"type": "hello", "role": "village", "identity": "village-1", "token": "wrong"}
    )
    assert reply["code"] == "bad_credentials"
    reply = await wire.ask(
        {"type": "hello", "role": "lawyer", "identity": "village-1", "token": "demo-village-1"}
    )
    assert reply["code"] == "bad_credentials", "a terminal's token must not sign in as a lawyer"
    reply = await wire.ask(
        {"type": "hello", "role": "village", "identity": "village-1", "token": "demo-village-1"}
    )
    assert reply["type"] == "welcome" and reply["role"] == "village"
    reply = await wire.ask(
        {"type": "hello", "role": "village", "identity": "village-1", "token": "demo-village-1"}
    )
    assert reply["code"] == "already_authenticated"
    await wire.close()


BAD = [
    ("{oops", "invalid_json", None),
    ('["hello"]', "invalid_format", None),
    ('{"type": "warp", "id": 3}', "unknown_type", 3),
    ('{"type": "ping", "v": 9, "id": 4}', "unsupported_version", 4),
    (
        '{"type": "request_consultation", "topic": "labour", "language": "xx", "id": 5}',
        "invalid_format",
        5,
    ),
    ('{"type": "set_duty", "on_duty": "yes please"}', "invalid_format", None),
    ('{"type": "accept", "consultation_id": "c_nope", "id": 6}', "forbidden", 6),
    ('{"type": "hang_up", "consultation_id": "c_nope"}', "not_found", None),
    (
        '{"type": "sdp", "consultation_id": "c_nope", "sdp_type": "answer", "sdp": "v=0"}',
        "not_found",
        None,
    ),
    ('{"type": "cancel_request", "consultation_id": "c_nope"}', "not_found", None),
]


@pytest.mark.parametrize(
    ("raw", "code", "ref"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)]
)
async def test_bad_message_is_answered_and_changes_nothing(
    lawroom: RunningServer, raw: str, code: str, ref: int | None
) -> None:
    village = await Wire.signed_in(lawroom, "village-1")
    await village.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    await village.next_of("waiting")
    before = await snapshot(lawroom)
    await village.ws.send_str(raw)
    reply = await village.next_of("error")
    assert reply["code"] == code
    assert reply.get("ref") == ref
    assert reply["message"]
    assert await snapshot(lawroom) == before
    assert (await village.ask({"type": "ping", "id": 99}))["type"] == "pong"
    await village.close()


async def test_oversized_message_tiers(lawroom: RunningServer) -> None:
    wire = await Wire.signed_in(lawroom, "lawyer-1")
    before = await snapshot(lawroom)
    # Above the application limit: an error, and the socket stays open.
    padding = "x" * (MAX_MESSAGE_BYTES + 10)
    reply = await wire.ask({"type": "ping", "id": 1, "pad": padding})
    assert reply["code"] == "message_too_large"
    assert (await wire.ask({"type": "ping", "id": 2}))["type"] == "pong"
    assert await snapshot(lawroom) == before
    # Above the transport limit: the socket closes with 1009.
    await wire.ws.send_str(json.dumps({"type": "ping", "pad": "y" * (MAX_FRAME_BYTES + 10)}))
    frame = await wire.ws.receive(timeout=5)
    assert frame.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSING,
    )
    assert wire.ws.close_code == 1009
    await wire.close()


async def test_binary_frame_is_refused(lawroom: RunningServer) -> None:
    wire = await Wire.signed_in(lawroom, "lawyer-1")
    await wire.ws.send_bytes(b"\x00\x01")
    assert (await wire.next())["code"] == "invalid_format"
    await wire.close()


async def test_wrong_role_is_forbidden_and_changes_nothing(lawroom: RunningServer) -> None:
    village = await Wire.signed_in(lawroom, "village-1")
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    before = await snapshot(lawroom)
    assert (await village.ask({"type": "set_duty", "on_duty": True}))["code"] == "forbidden"
    assert (
        await lawyer.ask({"type": "request_consultation", "topic": "labour", "language": "zh"})
    )["code"] == "forbidden"
    assert await snapshot(lawroom) == before
    await village.close()
    await lawyer.close()


async def test_out_of_order_and_strangers(lawroom: RunningServer) -> None:
    village = await Wire.signed_in(lawroom, "village-1")
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    other = await Wire.signed_in(lawroom, "lawyer-2")
    await village.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    cid = (await village.next_of("call_state"))["consultation_id"]
    # An offer before the lawyer was even offered the consultation: out of order.
    assert (await lawyer.ask({"type": "accept", "consultation_id": cid}))["code"] == "not_found"
    await lawyer.send({"type": "set_duty", "on_duty": True})
    offer = await lawyer.next_of("consultation_offer")
    assert offer["consultation_id"] == cid
    # Another lawyer cannot take it, hang it up or speak in it.
    for msg in (
        {"type": "accept", "consultation_id": cid},
        {"type": "hang_up", "consultation_id": cid},
        {"type": "ice_candidate", "consultation_id": cid, "candidate": ""},
    ):
        assert (await other.ask(msg))["code"] == "not_found"
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await village.next_of("room_joined")
    await lawyer.next_of("room_joined")
    before = await snapshot(lawroom)
    # An answer before any offer, and an accept of a room already joined.
    await village.send({"type": "sdp", "consultation_id": cid, "sdp_type": "answer", "sdp": "v=0"})
    assert (await village.next_of("error"))["code"] == "invalid_state"
    await lawyer.send({"type": "accept", "consultation_id": cid})
    assert (await lawyer.next_of("error"))["code"] == "invalid_state"
    assert await snapshot(lawroom) == before
    for wire in (village, lawyer, other):
        await wire.close()


async def test_flood_past_the_rate_limit(start_server) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = await start_server(rate_burst=10, rate_per_second=5.0)
    wire = await Wire.signed_in(server, "lawyer-1")  # the hello took one token
    for i in range(20):
        await wire.send({"type": "ping", "id": i})
    replies = [await wire.next() for _ in range(20)]
    assert [r["type"] for r in replies] == ["pong"] * 9 + ["error"] * 11
    assert {r["code"] for r in replies[9:]} == {"rate_limited"}
    # Time refills the bucket: the connection is still usable.
    server.clock.advance(1.0)
    assert (await wire.ask({"type": "ping", "id": 100}))["type"] == "pong"
    await wire.close()


async def test_hello_timeout_closes_a_silent_socket(lawroom: RunningServer) -> None:
    wire = await Wire.open(lawroom)
    assert (await wire.ask({"type": "ping", "id": 1}))["type"] == "pong"
    lawroom.clock.advance(lawroom.settings.hello_timeout + 1)
    reply = await wire.next()
    assert reply["code"] == "hello_timeout"
    frame = await wire.ws.receive(timeout=5)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert wire.ws.close_code == 1008
    await wire.close()


async def test_browser_origin_must_be_this_server(lawroom: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(lawroom.url, origin="https://evil.example")
        assert info.value.status == 403
        ws = await http.ws_connect(lawroom.url, origin=lawroom.http_url)
        await ws.close()


async def test_strict_mode_closes_on_schema_violation(start_server) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = await start_server(strict_protocol=True)
    wire = await Wire.signed_in(server, "lawyer-1")
    reply = await wire.ask({"type": "set_duty", "on_duty": "maybe"})
    assert reply["code"] == "invalid_format"
    frame = await wire.ws.receive(timeout=5)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert wire.ws.close_code == 4002
    assert len(server.hub.violations) == 1
    await wire.close()
