"""Revocations made anywhere (a supervisor page, `lawroom terminal revoke` in another process,
another instance) take effect here within half a second: the database is watched for them."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from server.db.engine import Database
from server.db.models import Account, AccountRole, Terminal, utcnow
from signaling.hub import Hub
from signaling.messages import Role

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


async def revoked_since(db: Database, since: datetime) -> list[tuple[Role, str]]:
    """Terminals revoked and professional accounts disabled at or after `since`."""
    async with db.sessions() as session:
        terminals = await session.scalars(
            select(Terminal.identity).where(Terminal.revoked_at >= since)
        )
        found = [(Role.VILLAGE, t) for t in terminals]
        accounts = await session.execute(
            select(Account.username, Account.role).where(Account.disabled_at >= since)
        )
        for username, role in accounts:
            if role is not AccountRole.SUPERVISOR:
                found.append((Role(role.value), username))
    return found


async def watch(db: Database, hub: Hub) -> None:
    """Until cancelled: revoke, in signaling, whatever the database says was revoked."""
    since = utcnow()
    while True:
        await asyncio.sleep(POLL_SECONDS)  # a poll: other processes write the database
        now = utcnow()
        try:
            for role, identity in await revoked_since(db, since):
                await hub.revoke(role, identity)
        except Exception:
            log.exception("checking for revocations failed; trying again")
            continue
        # Overlap by one poll so a write committed just before `now` is not missed; revoking
        # twice is harmless.
        since = now - timedelta(seconds=POLL_SECONDS)
