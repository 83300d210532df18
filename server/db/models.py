"""The storage schema: accounts, terminals, consultation records, recordings and the audit log.

Times are timezone-aware UTC datetimes on both databases (`UTCDateTime`). A column whose `info`
says `personal` holds a villager's personal data, one that says `secret` holds a credential: the
repr of a row leaves both out, and the engine never logs bound parameters.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from signaling.messages import EndReason, Kind, Language, Role

# Lengths shared by the models, the migration and the validation in accounts/records.
IDENTITY_LEN: Final = 64  # a hello identity (signaling.messages.Hello.identity)
NAME_LEN: Final = 100
HASH_LEN: Final = 64  # hex HMAC-SHA256
RECORDING_ID_LEN: Final = 128  # room/recording/store.py: check_id


class AccountRole(enum.StrEnum):
    LAWYER = "lawyer"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"


class TokenKind(enum.StrEnum):
    API = "api"  # `lawroom user token`, for the Python clients; no expiry unless given
    SESSION = "session"  # issued after a password sign-in on a page; expires


class OfferResult(enum.StrEnum):
    """How an offer to a professional ended; the withdrawn ones spell `WithdrawReason`."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    OFF_DUTY = "off_duty"
    DISCONNECTED = "disconnected"
    TERMINAL_AWAY = "terminal_away"  # a callback's terminal was offline or busy


class Outcome(enum.StrEnum):
    ADVICE_GIVEN = "advice_given"
    REFERRED_MEDIATION = "referred_mediation"  # to the people's mediation committee
    LEGAL_AID_APPLICATION = "legal_aid_application"
    REFERRED_COURT = "referred_court"
    REFERRED_AGENCY = "referred_agency"  # another government department
    MEDIATION_AGREEMENT = "mediation_agreement"
    MEDIATION_FAILED = "mediation_failed"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class ActorKind(enum.StrEnum):
    ACCOUNT = "account"
    TERMINAL = "terminal"
    CLI = "cli"
    SYSTEM = "system"


class AuditAction(enum.StrEnum):
    RECORD_READ = "record.read"
    RECORDING_READ = "recording.read"
    ACCOUNT_CREATE = "account.create"
    ACCOUNT_DISABLE = "account.disable"
    ACCOUNT_ENABLE = "account.enable"
    ACCOUNT_PASSWORD = "account.password"
    ACCOUNT_PROFILE = "account.profile"
    TOKEN_ISSUE = "token.issue"
    TOKEN_REVOKE = "token.revoke"
    TERMINAL_ADD = "terminal.add"
    TERMINAL_TOKEN = "terminal.token"
    TERMINAL_ENROL = "terminal.enrol"
    TERMINAL_REVOKE = "terminal.revoke"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every database.

    SQLite's DATETIME keeps no zone, so values go in as naive UTC; a naive value from a caller is
    refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: storage takes timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[Any]):
    """A StrEnum stored as its value in a VARCHAR: a new member needs no migration (a native
    PostgreSQL enum would), and an unknown value fails in Python before reaching the database."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum_class = enum_class
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.enum_class(value)


def utc_from_epoch(seconds: float) -> datetime:
    """A Clock reading (epoch seconds) as the aware datetime storage takes."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def require_aware(at: datetime) -> datetime:
    """`at` itself, if it says its zone; storage never guesses one."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: storage takes timezone-aware UTC times")
    return at


class Base(DeclarativeBase):
    # Named constraints: Alembic can only alter or drop what has a name, and SQLite and
    # PostgreSQL then agree on every name, which the no-drift test relies on.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (read by SQLAlchemy)

    def __repr__(self) -> str:
        # Personal data and credentials stay out of reprs, which end up in tracebacks and logs.
        table = self.__table__
        assert isinstance(table, Table)
        # Only what is loaded: a repr must never trigger a lazy load (impossible under asyncio).
        loaded = self.__dict__
        shown = (
            f"{c.key}={loaded.get(c.key, '<not loaded>')!r}"
            for c in table.columns
            if not (c.info.get("personal") or c.info.get("secret"))
        )
        return f"{type(self).__name__}({', '.join(shown)})"


def personal_columns() -> list[str]:
    """`table.column` for every column marked personal (the pages mark them; a test reads it)."""
    return [
        f"{t.name}.{c.name}"
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if c.info.get("personal")
    ]


# -- accounts and terminals --------------------------------------------------------------------


class Account(Base):
    """A lawyer, mediator or supervisor; `username` is the identity a client says hello with."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(IDENTITY_LEN), unique=True)
    role: Mapped[AccountRole] = mapped_column(EnumText(AccountRole, 16))
    display_name: Mapped[str] = mapped_column(String(NAME_LEN))
    password_hash: Mapped[str] = mapped_column(String(255), info={"secret": True})
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    # Small and always wanted together with the account; selectin keeps async access explicit.
    topics: Mapped[list[AccountTopic]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="AccountTopic.topic"
    )
    languages: Mapped[list[AccountLanguage]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="AccountLanguage.language"
    )


class AccountTopic(Base):
    __tablename__ = "account_topics"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)


class AccountLanguage(Base):
    __tablename__ = "account_languages"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[Language] = mapped_column(EnumText(Language, 8), primary_key=True)


class AccountToken(Base):
    """A bearer token for an account, stored only as its keyed hash."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True, info={"secret": True})
    kind: Mapped[TokenKind] = mapped_column(EnumText(TokenKind, 16))
    label: Mapped[str] = mapped_column(String(NAME_LEN))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Terminal(Base):
    """A village-room kiosk; `identity` is what it says hello with."""

    __tablename__ = "terminals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(IDENTITY_LEN), unique=True)
    village: Mapped[str] = mapped_column(String(NAME_LEN))
    device_token_hash: Mapped[str | None] = mapped_column(
        String(HASH_LEN), unique=True, info={"secret": True}
    )
    created_at: Mapped[datetime]
    enrolled_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Enrolment(Base):
    """One attempt to enrol a kiosk: the code it shows, and the secret it later claims with."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True, info={"secret": True})
    claim_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True, info={"secret": True})
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(IDENTITY_LEN))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    claimed_at: Mapped[datetime | None]


# -- the consultation record -------------------------------------------------------------------


class Consultation(Base):
    """One request from a terminal, keyed by the id signaling gave it; names are copied in as
    they were at the time, so renaming a village or an account leaves old records true."""

    __tablename__ = "consultations"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[str] = mapped_column(String(IDENTITY_LEN), primary_key=True)
    terminal_identity: Mapped[str] = mapped_column(String(IDENTITY_LEN), index=True)
    village: Mapped[str] = mapped_column(String(NAME_LEN))
    topic: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[Language] = mapped_column(EnumText(Language, 8))
    kind: Mapped[Kind] = mapped_column(EnumText(Kind, 16))
    priority: Mapped[int] = mapped_column(SmallInteger)
    requested_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[EndReason | None] = mapped_column(EnumText(EndReason, 16))
    professional_identity: Mapped[str | None] = mapped_column(String(IDENTITY_LEN), index=True)
    professional_role: Mapped[Role | None] = mapped_column(EnumText(Role, 16))
    professional_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    outcome: Mapped[Outcome | None] = mapped_column(EnumText(Outcome, 32), index=True)
    outcome_detail: Mapped[str | None] = mapped_column(Text, info={"personal": True})
    outcome_by: Mapped[str | None] = mapped_column(String(IDENTITY_LEN))
    outcome_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None]
    villager_name: Mapped[str | None] = mapped_column(String(NAME_LEN), info={"personal": True})
    villager_phone: Mapped[str | None] = mapped_column(String(32), info={"personal": True})


class Offer(Base):
    """One offer of a consultation to one professional; `result` is empty while it rings."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_consultation_professional", "consultation_id", "professional_identity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    professional_identity: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    professional_role: Mapped[Role] = mapped_column(EnumText(Role, 16))
    offered_at: Mapped[datetime]
    result: Mapped[OfferResult | None] = mapped_column(EnumText(OfferResult, 16))
    responded_at: Mapped[datetime | None]


class Participant(Base):
    """Someone in the call; a resumed connection is the same row, a rejoin after leaving a new
    one."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(EnumText(Role, 16))
    identity: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    display_name: Mapped[str] = mapped_column(String(NAME_LEN))
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class NoteRevision(Base):
    """Every auto-saved version of a professional's notes; the current one has the highest
    client revision. Kept whole so that nothing typed is ever overwritten."""

    __tablename__ = "note_revisions"
    __table_args__ = (UniqueConstraint("consultation_id", "author", "revision"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    revision: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, info={"personal": True})
    saved_at: Mapped[datetime]


class Citation(Base):
    """A provision of law shown during the call; pinned by the professional, pushed to the
    terminal's screen."""

    __tablename__ = "citations"
    __table_args__ = (UniqueConstraint("consultation_id", "law", "article"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    law: Mapped[str] = mapped_column(String(NAME_LEN))
    article: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    shown_by: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    shown_at: Mapped[datetime]
    pinned: Mapped[bool] = mapped_column(Boolean)
    pushed_at: Mapped[datetime | None]


# -- recordings (written by the recorder, next issue) ------------------------------------------


class Recording(Base):
    """One consultation's recording; `id` is the recorder's recording id (a directory name under
    DATA_DIR/recordings, see room/recording/store.py)."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(RECORDING_ID_LEN), primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class RecordingSegment(Base):
    """A finished segment file of one participant, as the recorder's `SegmentRecord` has it
    (room/recording/segment_log.py): the hash kept apart from the signed manifest."""

    __tablename__ = "recording_segments"
    __table_args__ = (
        # Adding the same file twice (a retry, recovery at start-up) is one row.
        UniqueConstraint("recording_id", "path"),
        UniqueConstraint("recording_id", "participant", "segment_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    participant: Mapped[str] = mapped_column(String(RECORDING_ID_LEN))
    segment_index: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(500))  # relative to the recording's directory
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # complete | interrupted
    # Media time of the first and last frame, in ms from the recording's start.
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[datetime]


# -- audit -------------------------------------------------------------------------------------


class AuditEntry(Base):
    """Append-only (triggers in the migration refuse UPDATE and DELETE). No foreign keys: an
    entry outlives whatever it names, and never holds personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[ActorKind] = mapped_column(EnumText(ActorKind, 16))
    actor: Mapped[str] = mapped_column(String(NAME_LEN))
    action: Mapped[AuditAction] = mapped_column(EnumText(AuditAction, 32))
    consultation_id: Mapped[str | None] = mapped_column(String(IDENTITY_LEN), index=True)
    target: Mapped[str | None] = mapped_column(String(NAME_LEN))
    detail: Mapped[str | None] = mapped_column(String(200))
