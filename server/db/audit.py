"""The audit log: who read a record (later a recording) or changed an account or a terminal, and
when. Entries are written in the same transaction as what they describe, and never changed."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.engine import Database
from server.db.models import NAME_LEN, ActorKind, AuditAction, AuditEntry

DETAIL_LEN = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a signed-in account, a terminal, an operator at the command line, the server."""

    kind: ActorKind
    name: str

    @classmethod
    def account(cls, username: str) -> Actor:
        return cls(ActorKind.ACCOUNT, username)

    @classmethod
    def terminal(cls, identity: str) -> Actor:
        return cls(ActorKind.TERMINAL, identity)

    @classmethod
    def cli(cls) -> Actor:
        """The operator running `lawroom`, by their login name where the system knows it."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(ActorKind.CLI, f"cli:{user}"[:NAME_LEN])

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "server")


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor_kind: ActorKind
    actor: str
    action: AuditAction
    consultation_id: str | None
    target: str | None
    detail: str | None


def append(
    session: AsyncSession,
    actor: Actor,
    action: AuditAction,
    at: datetime,
    *,
    consultation_id: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    """Add an entry to the caller's transaction. `detail` is for ids and roles, never personal
    data: it is shown to every supervisor."""
    session.add(
        AuditEntry(
            at=at,
            actor_kind=actor.kind,
            actor=actor.name[:NAME_LEN],
            action=action,
            consultation_id=consultation_id,
            target=None if target is None else target[:NAME_LEN],
            detail=None if detail is None else detail[:DETAIL_LEN],
        )
    )


async def entries(
    db: Database,
    *,
    consultation_id: str | None = None,
    actor: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[AuditView]:
    """Entries, newest first, narrowed by whichever filters are given."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if consultation_id is not None:
        query = query.where(AuditEntry.consultation_id == consultation_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    async with db.transaction() as session:
        rows = (await session.scalars(query)).all()
    return [
        AuditView(
            id=r.id,
            at=r.at,
            actor_kind=r.actor_kind,
            actor=r.actor,
            action=r.action,
            consultation_id=r.consultation_id,
            target=r.target,
            detail=r.detail,
        )
        for r in rows
    ]
