"""`lawroom serve --demo`: the demo identities as real accounts and terminals in the database.

Their tokens and passwords are fixed and public (README): never use --demo in production.
"""

from __future__ import annotations

import logging

from server.db import accounts
from server.db.audit import Actor
from server.db.engine import Database
from server.db.models import AccountRole, utcnow
from signaling.identity import DEMO_ACCOUNTS
from signaling.messages import Role

log = logging.getLogger(__name__)

SUPERVISOR = "supervisor"
# Passwords need 10 characters; the demo's are the identity with a fixed suffix.
PASSWORD_SUFFIX = "-password"


def demo_password(identity: str) -> str:
    return identity + PASSWORD_SUFFIX


async def seed_demo(db: Database) -> None:
    """Create what is missing (idempotent: a restart keeps what was there)."""
    at, actor = utcnow(), Actor.system()
    for account in DEMO_ACCOUNTS:
        who = account.identity
        if who.role is Role.VILLAGE:
            if await accounts.get_terminal(db, who.identity) is None:
                await accounts.add_terminal(db, who.identity, who.display_name, actor=actor, at=at)
                await accounts.issue_device_token(
                    db, who.identity, actor=actor, at=at, token=account.token
                )
            continue
        if await accounts.get_account(db, who.identity) is None:
            await accounts.create_account(
                db,
                username=who.identity,
                role=AccountRole(who.role.value),
                display_name=who.display_name,
                password=demo_password(who.identity),
                languages=("zh", "mn"),
                actor=actor,
                at=at,
            )
            await accounts.issue_token(
                db, who.identity, label="demo", actor=actor, at=at, token=account.token
            )
    if await accounts.get_account(db, SUPERVISOR) is None:
        await accounts.create_account(
            db,
            username=SUPERVISOR,
            role=AccountRole.SUPERVISOR,
            display_name="司法局管理员",
            password=demo_password(SUPERVISOR),
            actor=actor,
            at=at,
        )
    log.info(
        "demo accounts ready: lawyers lawyer-1/lawyer-2, mediator mediator-1, supervisor "
        "'supervisor' (password: name + %r); terminals village-1, village-2",
        PASSWORD_SUFFIX,
    )
