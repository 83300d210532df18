"""The wire protocol: every message type round-trips; bad input gets a stable error code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from signaling import messages as m
from signaling.errors import ErrorCode, ProtocolError, error_for

CID = "c_abc123"
CLIENT_EXAMPLES: list[BaseModel] = [
    m.Hello(role=m.Role.VILLAGE, identity="village-1", token="t", id=1),
    m.Resume(resume_token="r", last_seq=5),
    m.RequestConsultation(topic="labour", language=m.Language.MN, kind=m.Kind.MEDIATION),
    m.CancelRequest(consultation_id=CID),
    m.LeaveCallback(consultation_id=CID, phone="+86 139-0471-0000"),
    m.SetDuty(on_duty=True),
    m.Accept(consultation_id=CID),
    m.Decline(consultation_id=CID),
    m.HangUp(consultation_id=CID),
    m.Ping(id=9),
    m.Sdp(consultation_id=CID, sdp_type="offer", sdp="v=0\r\n"),
    m.SaveNotes(consultation_id=CID, revision=3, text="当事人称<script>alert(1)</script>"),
    m.SetOutcome(
        consultation_id=CID, outcome=m.Outcome.LEGAL_AID_APPLICATION, detail="申请法律援助"
    ),
    m.Rate(consultation_id=CID, rating=5),
    m.Hello(role=m.Role.LAWYER, identity="lawyer-1"),
    m.IceCandidate(
        consultation_id=CID,
        candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host",
        sdp_mid="0",
        sdp_mline_index=0,
    ),
]
SERVER_EXAMPLES: list[BaseModel] = [
    m.Welcome(
        connection_id="w",
        role=m.Role.LAWYER,
        identity="l",
        display_name="张律师",
        resume_token="r",
        grace_seconds=30,
        ice_servers=[m.IceServer(urls=["stun:127.0.0.1:3478"])],
    ),
    m.Resumed(connection_id="w", replayed=2, consultation_id=CID, call_state=m.CallState.CONNECTED),
    m.Waiting(consultation_id=CID, position=1, professionals_on_duty=0, professionals_free=0),
    m.ConsultationOffer(
        consultation_id=CID,
        topic="traffic",
        language=m.Language.ZH,
        kind=m.Kind.CONSULTATION,
        village="巴彦村",
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    ),
    m.CallbackLeft(consultation_id=CID, phone=None),
    m.OfferWithdrawn(consultation_id=CID, reason="timeout"),
    m.DutyState(on_duty=False),
    m.RoomJoined(
        consultation_id=CID, peer_role=m.Role.VILLAGE, peer_name="巴彦村", initiator=False
    ),
    m.CallStateChanged(consultation_id=CID, state=m.CallState.RINGING, seq=3),
    m.PeerDisconnected(consultation_id=CID, peer_role=m.Role.VILLAGE, grace_seconds=30),
    m.PeerResumed(consultation_id=CID, peer_role=m.Role.VILLAGE),
    m.ConsultationEnded(consultation_id=CID, reason=m.EndReason.HANG_UP),
    m.Sdp(consultation_id=CID, sdp_type="answer", sdp="v=0\r\n", seq=4),
    m.IceCandidate(consultation_id=CID, candidate=""),
    m.Saved(consultation_id=CID, what="notes", revision=3, status="stale", ref=4),
    m.Pong(ref=9),
    m.Error(code=ErrorCode.FORBIDDEN, message="no", ref=2),
]


def test_examples_cover_every_type() -> None:
    assert {e.type for e in CLIENT_EXAMPLES} == m.CLIENT_TYPES  # type: ignore[attr-defined]
    assert {e.type for e in SERVER_EXAMPLES} == m.SERVER_TYPES  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg", CLIENT_EXAMPLES, ids=lambda e: e.type)
def test_client_message_round_trips(msg: BaseModel) -> None:
    assert m.parse_client(m.dump(msg)) == msg


@pytest.mark.parametrize("msg", SERVER_EXAMPLES, ids=lambda e: e.type)
def test_server_message_round_trips(msg: BaseModel) -> None:
    assert m.parse_server(m.dump(msg)) == msg


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_FORMAT),
        ('{"type": "teleport"}', ErrorCode.UNKNOWN_TYPE),
        ("{}", ErrorCode.UNKNOWN_TYPE),
        ('{"type": "ping", "v": 2}', ErrorCode.UNSUPPORTED_VERSION),
        (
            '{"type": "request_consultation", "topic": "piracy", "language": "zh"}',
            ErrorCode.INVALID_FORMAT,
        ),
        (
            '{"type": "request_consultation", "topic": "labour", "language": "fr"}',
            ErrorCode.INVALID_FORMAT,
        ),
        ('{"type": "accept"}', ErrorCode.INVALID_FORMAT),
        ('{"type": "accept", "consultation_id": "../../etc"}', ErrorCode.INVALID_FORMAT),
        ('{"type": "set_duty", "on_duty": true, "admin": true}', ErrorCode.INVALID_FORMAT),
        ('{"type": "ping", "id": -1}', ErrorCode.INVALID_FORMAT),
        (
            '{"type": "ping", "id": "x' + "y" * (m.MAX_MESSAGE_BYTES) + '"}',
            ErrorCode.MESSAGE_TOO_LARGE,
        ),
    ],
)
def test_bad_input_gets_a_stable_code(raw: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as info:
        m.parse_client(raw)
    assert info.value.code is code
    assert info.value.message


def test_error_mapping_never_leaks_internals() -> None:
    assert error_for(ProtocolError(ErrorCode.FORBIDDEN, "no")) == (ErrorCode.FORBIDDEN, "no")
    code, text = error_for(KeyError("secret internal detail"))
    assert code is ErrorCode.INTERNAL_ERROR
    assert "secret" not in text


def test_server_messages_are_not_accepted_from_clients() -> None:
    with pytest.raises(ProtocolError) as info:
        m.parse_client(
            m.dump(
                m.Welcome(
                    connection_id="w",
                    role=m.Role.LAWYER,
                    identity="l",
                    display_name="x",
                    resume_token="r",
                    grace_seconds=1,
                    ice_servers=[],
                )
            )
        )
    assert info.value.code is ErrorCode.UNKNOWN_TYPE


def test_committed_schema_matches_the_protocol_module() -> None:
    """The JavaScript follows signaling/schema.json; regenerate with `lawroom schema`."""
    committed = json.loads((Path(m.__file__).parent / "schema.json").read_text())
    assert committed == json.loads(json.dumps(m.json_schema()))


def test_schema_lists_every_message_and_error_code() -> None:
    schema = m.json_schema()
    assert set(schema["client_to_server"]["discriminator"]["mapping"]) == m.CLIENT_TYPES
    assert set(schema["server_to_client"]["discriminator"]["mapping"]) == m.SERVER_TYPES
    assert schema["error_codes"] == [c.value for c in ErrorCode]
