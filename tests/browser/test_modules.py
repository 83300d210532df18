"""The page modules agree with the Python they mirror: the schema check with pydantic, the
message builders with the protocol, the SDP bitrate hints with room/sdp.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from room.sdp import add_bitrate_hints
from signaling.errors import ProtocolError
from signaling.messages import parse_client

from .conftest import OpenPage

CID = "c_abc-123"
VALID: list[dict[str, Any]] = [
    {"type": "hello", "role": "village", "identity": "village-1", "token": "t"},
    # A page signed in by its session cookie says hello without a token.
    {"type": "hello", "role": "lawyer", "identity": "lawyer-1"},
    {"v": 1, "id": 7, "type": "resume", "resume_token": "r", "last_seq": 0},
    {"type": "request_consultation", "topic": "labour", "language": "mn"},
    {"type": "request_consultation", "topic": "land", "language": "zh", "kind": "mediation"},
    {"type": "request_consultation", "topic": "land", "language": "zh", "kind": None},
    {"type": "cancel_request", "consultation_id": CID},
    {"type": "set_duty", "on_duty": False},
    {"type": "accept", "consultation_id": CID},
    {"type": "decline", "consultation_id": CID},
    {"type": "hang_up", "consultation_id": CID, "id": 2**53},
    {"type": "ping"},
    {"type": "sdp", "consultation_id": CID, "sdp_type": "answer", "sdp": "v=0"},
    {"type": "ice_candidate", "consultation_id": CID, "candidate": ""},
    {"type": "ice_candidate", "consultation_id": CID, "candidate": "c", "sdp_mid": "0"},
    {"type": "ice_candidate", "consultation_id": CID, "candidate": "c", "sdp_mline_index": None},
]
# Only cases both reject: pydantic also coerces in lax mode ("1" for 1), the schema does not.
INVALID: list[dict[str, Any]] = [
    {"type": "shout"},
    {"v": 2, "type": "ping"},
    {"type": "ping", "extra": 1},
    {"type": "ping", "id": -1},
    {"type": "ping", "id": 1.5},
    {"type": "hello", "role": "judge", "identity": "x", "token": "t"},
    {"type": "hello", "role": "village", "identity": "", "token": "t"},
    {"type": "hello", "role": "village", "identity": "x", "token": "t" * 513},
    {"type": "resume", "resume_token": "r", "last_seq": -1},
    {"type": "request_consultation", "topic": "weather", "language": "zh"},
    {"type": "request_consultation", "topic": "labour", "language": "en"},
    {"type": "accept", "consultation_id": "has space"},
    {"type": "accept", "consultation_id": "x" * 65},
    {"type": "sdp", "consultation_id": CID, "sdp_type": "pranswer", "sdp": "v=0"},
    {"type": "sdp", "consultation_id": CID, "sdp_type": "offer", "sdp": ""},
    {"type": "sdp", "consultation_id": CID, "sdp_type": "offer", "sdp": "x" * 60_001},
    {"type": "ice_candidate", "consultation_id": CID, "candidate": "c", "sdp_mline_index": 65},
    {"type": "ice_candidate", "consultation_id": CID, "candidate": "c" * 1025},
    {"type": "set_duty", "on_duty": None},
]

CHECK_IN_PAGE = """async (cases) => {
  const { validateClientMessage } = await import('/static/protocol.js');
  const schema = await (await fetch('/protocol/schema.json')).json();
  return cases.map((c) => validateClientMessage(schema, c));
}"""

BUILDERS_IN_PAGE = """async (cid) => {
  const { build } = await import('/static/protocol.js');
  return [
    build.hello('lawyer', 'lawyer-1', 'demo-lawyer-1'),
    build.resume('token', 12),
    build.requestConsultation('elderly', 'mn'),
    build.cancelRequest(cid),
    build.setDuty(true),
    build.accept(cid),
    build.decline(cid),
    build.hangUp(cid),
    build.ping(),
    build.sdp(cid, 'offer', 'v=0'),
    build.iceCandidate(cid, 'candidate:1 1 udp 1 127.0.0.1 9 typ host', '0', 0),
    build.iceCandidate(cid, ''),
  ];
}"""

SDP_IN_PAGE = """async () => {
  const { addBitrateHints } = await import('/static/call.js');
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video');
  pc.addTransceiver('audio');
  const offer = await pc.createOffer();
  pc.close();
  return [offer.sdp, addBitrateHints(offer.sdp)];
}"""


def _python_accepts(message: dict[str, Any]) -> bool:
    try:
        parse_client(json.dumps(message))
    except ProtocolError:
        return False
    return True


@pytest.mark.timeout(60)
async def test_page_schema_check_agrees_with_the_server(
    start_server: Callable[..., Any], open_page: OpenPage
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_page(f"{server.http_url}/village")
    results = await page.page.evaluate(CHECK_IN_PAGE, VALID + INVALID)
    for message, errors in zip(VALID, results[: len(VALID)], strict=True):
        assert _python_accepts(message), message
        assert errors == [], (message, errors)
    for message, errors in zip(INVALID, results[len(VALID) :], strict=True):
        assert not _python_accepts(message), message
        assert errors, message

    built = await page.page.evaluate(BUILDERS_IN_PAGE, CID)
    for message in built:
        assert _python_accepts(message), message
    assert [m["type"] for m in built][:3] == ["hello", "resume", "request_consultation"]
    assert not server.hub.violations


@pytest.mark.timeout(60)
async def test_page_bitrate_hints_match_room_sdp(
    start_server: Callable[..., Any], open_page: OpenPage
) -> None:
    server = await start_server()
    page = await open_page(f"{server.http_url}/village")
    original, hinted = await page.page.evaluate(SDP_IN_PAGE)
    assert hinted == add_bitrate_hints(original)
    assert "x-google-start-bitrate=8000" in hinted
    # Every video codec got hints; audio and retransmission payloads did not.
    assert hinted.count("x-google-max-bitrate") >= 4
    lines = hinted.split("\r\n")
    plain = {
        line.split()[0].removeprefix("a=rtpmap:")
        for line in lines
        if line.startswith("a=rtpmap:") and ("opus/" in line or "rtx/" in line)
    }
    assert plain
    for pt in plain:
        assert all("x-google" not in line for line in lines if line.startswith(f"a=fmtp:{pt} "))
