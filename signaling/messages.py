"""The wire protocol: every message the server, the Python clients and the pages exchange.

One pydantic model per message type, one parse/dump pair, and the JSON Schema the JavaScript in
`static/` follows (`python -m signaling.schema` writes it; a test keeps it in step).
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from signaling.errors import ErrorCode, ProtocolError
from signaling.topics import TOPIC_SLUGS

PROTOCOL_VERSION = 1
# The application limit: anything longer is answered with `message_too_large` and dropped.
# An SDP with a full candidate list is 3-12 KB; 64 KiB leaves room without inviting abuse.
MAX_MESSAGE_BYTES = 64 * 1024
# The transport limit: aiohttp closes the socket with 1009 above this.
MAX_FRAME_BYTES = 256 * 1024


class Role(enum.StrEnum):
    VILLAGE = "village"
    LAWYER = "lawyer"
    MEDIATOR = "mediator"


class Language(enum.StrEnum):
    ZH = "zh"
    MN = "mn"


class Kind(enum.StrEnum):
    CONSULTATION = "consultation"
    MEDIATION = "mediation"


class CallState(enum.StrEnum):
    """States of one consultation; the transition table lives in `room/call.py`."""

    WAITING = "waiting"
    RINGING = "ringing"
    JOINED = "joined"
    NEGOTIATING = "negotiating"
    CONNECTED = "connected"
    ENDED = "ended"


class Priority(enum.StrEnum):
    """A request's priority class; the dispatch gives each a head start (signaling/matching)."""

    NORMAL = "normal"
    ELDERLY = "elderly"  # 70 and over
    DISABLED = "disabled"
    MINOR = "minor"
    URGENT = "urgent"  # e.g. domestic violence


class EndReason(enum.StrEnum):
    HANG_UP = "hang_up"
    CANCELLED = "cancelled"
    PEER_GONE = "peer_gone"
    ABANDONED = "abandoned"
    SERVER_SHUTDOWN = "server_shutdown"
    REVOKED = "revoked"  # the terminal or the account was revoked mid-call
    CALLBACK_MISSED = "callback_missed"  # a callback whose terminal never answered


def _check_topic(value: str) -> str:
    if value not in TOPIC_SLUGS:
        raise ValueError(f"unknown topic {value!r}")
    return value


TopicSlug = Annotated[
    str,
    AfterValidator(_check_topic),
    WithJsonSchema({"type": "string", "enum": list(TOPIC_SLUGS)}),
]
ConsultationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ShortText = Annotated[str, Field(max_length=200)]
Token = Annotated[str, Field(min_length=1, max_length=512)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    v: Literal[1] = 1


class _ClientMessage(_Message):
    # Chosen by the client; replies and errors about this message carry it back as `ref`.
    id: int | None = Field(default=None, ge=0, le=2**53)


class _ServerMessage(_Message):
    # Per-session sequence number: a resuming client asks for everything after the last it saw.
    seq: int | None = None


# -- client to server ---------------------------------------------------------------------------


class Hello(_ClientMessage):
    """Sign in. Python clients and kiosks give a token; a signed-in page gives none and is
    known by its session cookie (sent with the websocket's upgrade request)."""

    type: Literal["hello"] = "hello"
    role: Role
    identity: Annotated[str, Field(min_length=1, max_length=64)]
    token: Token | None = None


class Resume(_ClientMessage):
    type: Literal["resume"] = "resume"
    resume_token: Token
    last_seq: int = Field(ge=0)


class RequestConsultation(_ClientMessage):
    type: Literal["request_consultation"] = "request_consultation"
    topic: TopicSlug
    language: Language
    # Unset: the topic's usual kind (a neighbour dispute goes to a mediator).
    kind: Kind | None = None
    priority: Priority = Priority.NORMAL


class CancelRequest(_ClientMessage):
    type: Literal["cancel_request"] = "cancel_request"
    consultation_id: ConsultationId


class LeaveCallback(_ClientMessage):
    """Instead of waiting: the request stays in the queue, the terminal is free, and when a
    professional takes it they ring this terminal back (or the phone number, if one is left)."""

    type: Literal["leave_callback"] = "leave_callback"
    consultation_id: ConsultationId
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{4,19}$")


class SetDuty(_ClientMessage):
    type: Literal["set_duty"] = "set_duty"
    on_duty: bool


class Accept(_ClientMessage):
    type: Literal["accept"] = "accept"
    consultation_id: ConsultationId


class Decline(_ClientMessage):
    type: Literal["decline"] = "decline"
    consultation_id: ConsultationId


class HangUp(_ClientMessage):
    type: Literal["hang_up"] = "hang_up"
    consultation_id: ConsultationId


class Outcome(enum.StrEnum):
    ADVICE_GIVEN = "advice_given"
    REFERRED_MEDIATION = "referred_mediation"  # to the people's mediation committee
    LEGAL_AID_APPLICATION = "legal_aid_application"
    REFERRED_COURT = "referred_court"
    REFERRED_AGENCY = "referred_agency"
    MEDIATION_AGREEMENT = "mediation_agreement"
    MEDIATION_FAILED = "mediation_failed"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class SaveNotes(_ClientMessage):
    """The professional's notes, auto-saved as typed: each save numbered 1, 2, 3... so a late
    older save never replaces a newer one and a retried save changes nothing."""

    type: Literal["save_notes"] = "save_notes"
    consultation_id: ConsultationId
    revision: int = Field(ge=1, le=2**31 - 1)
    # 20,000 characters of Chinese is 60 KB of UTF-8: inside the message limit.
    text: Annotated[str, Field(max_length=20_000)]


class SetOutcome(_ClientMessage):
    type: Literal["set_outcome"] = "set_outcome"
    consultation_id: ConsultationId
    outcome: Outcome
    detail: Annotated[str, Field(max_length=2_000)] | None = None


class Rate(_ClientMessage):
    """The villager's satisfaction, 1-5, at the terminal after the call."""

    type: Literal["rate"] = "rate"
    consultation_id: ConsultationId
    rating: int = Field(ge=1, le=5)


class Ping(_ClientMessage):
    type: Literal["ping"] = "ping"


# -- both directions: relayed between the two peers of a room ------------------------------------


class Sdp(_ClientMessage, _ServerMessage):
    type: Literal["sdp"] = "sdp"
    consultation_id: ConsultationId
    sdp_type: Literal["offer", "answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=60_000)]


class IceCandidate(_ClientMessage, _ServerMessage):
    """A trickled candidate (browsers trickle; aiortc puts all of its own in the SDP)."""

    type: Literal["ice_candidate"] = "ice_candidate"
    consultation_id: ConsultationId
    # An empty candidate marks the end of candidates.
    candidate: Annotated[str, Field(max_length=1024)]
    sdp_mid: Annotated[str, Field(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None


# -- server to client ---------------------------------------------------------------------------


class IceServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(_ServerMessage):
    type: Literal["welcome"] = "welcome"
    connection_id: str
    role: Role
    identity: str
    display_name: str
    resume_token: str
    grace_seconds: float
    ice_servers: list[IceServer]


class Resumed(_ServerMessage):
    type: Literal["resumed"] = "resumed"
    connection_id: str
    replayed: int
    consultation_id: str | None
    call_state: CallState | None


class Waiting(_ServerMessage):
    """Where a waiting request stands; sent when it changes, at most once a second."""

    type: Literal["waiting"] = "waiting"
    consultation_id: str
    position: int
    professionals_on_duty: int
    professionals_free: int
    # From recent handling times of this topic and who is on duty; None: no estimate yet.
    estimated_wait_seconds: int | None = None
    # Nobody is on duty for it: the terminal suggests leaving a callback instead of waiting.
    callback_suggested: bool = False


class CallbackLeft(_ServerMessage):
    """The request became a callback: the terminal may be used by others meanwhile."""

    type: Literal["callback_left"] = "callback_left"
    consultation_id: str
    phone: str | None = None


class ConsultationOffer(_ServerMessage):
    type: Literal["consultation_offer"] = "consultation_offer"
    consultation_id: str
    topic: TopicSlug
    language: Language
    kind: Kind
    village: str
    requested_at: datetime
    priority: Priority = Priority.NORMAL
    # Nobody with the villager's language was free for too long: widened to anyone qualified.
    interpreter_needed: bool = False
    # A callback: accepting rings the terminal back (and `phone` if the villager left one).
    callback: bool = False
    phone: str | None = None


WithdrawReason = Literal[
    "declined",
    "timeout",
    "cancelled",
    "abandoned",
    "off_duty",
    "disconnected",
    # Another of the professional's desks accepted it first.
    "answered_elsewhere",
    # A callback whose terminal could not be rung back (offline or in another call).
    "terminal_away",
]


class OfferWithdrawn(_ServerMessage):
    type: Literal["offer_withdrawn"] = "offer_withdrawn"
    consultation_id: str
    reason: WithdrawReason


class DutyState(_ServerMessage):
    """`paused`: taken off duty for letting an offer go unanswered, until they come back.
    `wrap_up_seconds`: after a call, how long until the next offer (saving the outcome ends it)."""

    type: Literal["duty_state"] = "duty_state"
    on_duty: bool
    paused: bool = False
    wrap_up_seconds: float | None = None


class RoomJoined(_ServerMessage):
    type: Literal["room_joined"] = "room_joined"
    consultation_id: str
    peer_role: Role
    peer_name: str
    # The village terminal makes the SDP offer; the professional answers.
    initiator: bool


class CallStateChanged(_ServerMessage):
    type: Literal["call_state"] = "call_state"
    consultation_id: str
    state: CallState


class PeerDisconnected(_ServerMessage):
    type: Literal["peer_disconnected"] = "peer_disconnected"
    consultation_id: str
    peer_role: Role
    grace_seconds: float


class PeerResumed(_ServerMessage):
    type: Literal["peer_resumed"] = "peer_resumed"
    consultation_id: str
    peer_role: Role


class ConsultationEnded(_ServerMessage):
    type: Literal["consultation_ended"] = "consultation_ended"
    consultation_id: str
    reason: EndReason


class Saved(_ServerMessage):
    """A record write was kept. For notes, `status` says what became of that revision:
    saved (the newest), stale (a newer one was there), duplicate (a retry), conflict (this
    revision was saved before with other text; that one is kept)."""

    type: Literal["saved"] = "saved"
    consultation_id: str
    what: Literal["notes", "outcome", "rating"]
    revision: int | None = None
    status: Literal["saved", "stale", "duplicate", "conflict"] = "saved"
    ref: int | None = None


class Pong(_ServerMessage):
    type: Literal["pong"] = "pong"
    ref: int | None = None


class Error(_ServerMessage):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref: int | None = None


ClientMessage = Annotated[
    Hello
    | Resume
    | RequestConsultation
    | CancelRequest
    | LeaveCallback
    | SetDuty
    | Accept
    | Decline
    | HangUp
    | Ping
    | Sdp
    | IceCandidate
    | SaveNotes
    | SetOutcome
    | Rate,
    Field(discriminator="type"),
]

ServerMessage = Annotated[
    Welcome
    | Resumed
    | Waiting
    | CallbackLeft
    | ConsultationOffer
    | OfferWithdrawn
    | DutyState
    | RoomJoined
    | CallStateChanged
    | PeerDisconnected
    | PeerResumed
    | ConsultationEnded
    | Sdp
    | IceCandidate
    | Saved
    | Pong
    | Error,
    Field(discriminator="type"),
]

CLIENT_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
SERVER_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def _type_names(adapter: TypeAdapter[Any]) -> frozenset[str]:
    schema = adapter.json_schema()
    return frozenset(schema["discriminator"]["mapping"])


CLIENT_TYPES: frozenset[str] = _type_names(CLIENT_ADAPTER)
SERVER_TYPES: frozenset[str] = _type_names(SERVER_ADAPTER)


def _decode(raw: str | bytes) -> dict[str, Any]:
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}",
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_FORMAT, "a message is a JSON object")
    return data


def _validate(adapter: TypeAdapter[Any], known: frozenset[str], data: dict[str, Any]) -> Any:
    if data.get("v", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {data.get('v')!r} is not supported; this server speaks "
            f"{PROTOCOL_VERSION}",
        )
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in known:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        raise ProtocolError(ErrorCode.INVALID_FORMAT, f"{kind}: {where}: {first['msg']}") from None


def message_ref(raw: str | bytes) -> int | None:
    """The client's `id` of a message that failed to parse, if one can be read from it."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    ref = data.get("id") if isinstance(data, dict) else None
    return ref if isinstance(ref, int) and not isinstance(ref, bool) and ref >= 0 else None


def parse_client(raw: str | bytes) -> ClientMessage:
    """Parse and validate a message from a client; raises ProtocolError with a stable code."""
    result: ClientMessage = _validate(CLIENT_ADAPTER, CLIENT_TYPES, _decode(raw))
    return result


def parse_server(raw: str | bytes) -> ServerMessage:
    """Parse and validate a message from the server (used by the Python clients)."""
    result: ServerMessage = _validate(SERVER_ADAPTER, SERVER_TYPES, _decode(raw))
    return result


def dump(message: BaseModel) -> str:
    """The one way a message becomes text on the wire."""
    return message.model_dump_json(exclude_none=True)


def json_schema() -> dict[str, Any]:
    """JSON Schema for both directions, for the JavaScript in `static/`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Lawroom signaling protocol",
        "version": PROTOCOL_VERSION,
        "limits": {"max_message_bytes": MAX_MESSAGE_BYTES, "max_frame_bytes": MAX_FRAME_BYTES},
        "client_to_server": CLIENT_ADAPTER.json_schema(
            ref_template="#/client_to_server/$defs/{model}"
        ),
        "server_to_client": SERVER_ADAPTER.json_schema(
            ref_template="#/server_to_client/$defs/{model}"
        ),
        "error_codes": [c.value for c in ErrorCode],
    }
