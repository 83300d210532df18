"""The consultation record as signaling writes it, step by step: an interface the server hands
in at start-up (the database implements it), so signaling never imports storage."""

from __future__ import annotations

from typing import Protocol

from room.consultation import Consultation
from signaling.messages import EndReason, Role, WithdrawReason


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
