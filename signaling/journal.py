"""The consultation record as signaling writes it, step by step: an interface the server hands
in at start-up (the database implements it), so signaling never imports storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from room.consultation import Consultation
from signaling.errors import ErrorCode, ProtocolError
from signaling.messages import EndReason, Outcome, Role, WithdrawReason


class Journal(Protocol):
    async def requested(self, c: Consultation, at: float) -> None: ...

    async def offered(self, consultation_id: str, identity: str, role: Role, at: float) -> None: ...

    async def offer_resolved(
        self, consultation_id: str, identity: str, result: WithdrawReason | str, at: float
    ) -> None: ...

    async def answered(self, c: Consultation, at: float) -> None: ...

    async def joined(
        self, consultation_id: str, role: Role, identity: str, name: str, at: float
    ) -> None: ...

    async def ended(self, consultation_id: str, reason: EndReason, at: float) -> None: ...

    # -- what the participants write into the record -----------------------------------------

    async def parties(self, consultation_id: str) -> Parties | None:
        """Who took part (from the record: it outlives the call), or None if no such record."""
        ...

    async def save_notes(
        self, consultation_id: str, author: str, revision: int, text: str, at: float
    ) -> NoteStatus: ...

    async def set_outcome(
        self, consultation_id: str, outcome: Outcome, detail: str | None, by: str, at: float
    ) -> None: ...

    async def rate(self, consultation_id: str, rating: int, at: float) -> bool:
        """False if it was rated already."""
        ...


@dataclass(frozen=True, slots=True)
class Parties:
    village_identity: str
    professional_identity: str | None
    ended: bool


NoteStatus = Literal["saved", "stale", "duplicate", "conflict"]


class NoJournal:
    """For a server run without records (the signaling benchmarks): writes nothing."""

    async def requested(self, c: Consultation, at: float) -> None:
        return None

    async def offered(self, consultation_id: str, identity: str, role: Role, at: float) -> None:
        return None

    async def offer_resolved(
        self, consultation_id: str, identity: str, result: WithdrawReason | str, at: float
    ) -> None:
        return None

    async def answered(self, c: Consultation, at: float) -> None:
        return None

    async def joined(
        self, consultation_id: str, role: Role, identity: str, name: str, at: float
    ) -> None:
        return None

    async def ended(self, consultation_id: str, reason: EndReason, at: float) -> None:
        return None

    async def parties(self, consultation_id: str) -> Parties | None:
        return None

    async def save_notes(
        self, consultation_id: str, author: str, revision: int, text: str, at: float
    ) -> NoteStatus:
        raise ProtocolError(ErrorCode.NOT_FOUND, "this server keeps no records")

    async def set_outcome(
        self, consultation_id: str, outcome: Outcome, detail: str | None, by: str, at: float
    ) -> None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "this server keeps no records")

    async def rate(self, consultation_id: str, rating: int, at: float) -> bool:
        raise ProtocolError(ErrorCode.NOT_FOUND, "this server keeps no records")
