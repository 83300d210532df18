"""Who may connect: the directory the server hands to signaling at start-up.

The server's directory reads accounts and terminals from the database; `StaticDirectory` holds a
fixed list (the demo identities, seeded into the database by `lawroom serve --demo`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from signaling.messages import Language, Role


@dataclass(frozen=True, slots=True)
class Identity:
    role: Role
    identity: str
    display_name: str
    # What a professional takes; empty: every topic, every language.
    topics: tuple[str, ...] = ()
    languages: tuple[Language, ...] = ()


class Directory(Protocol):
    async def authenticate(self, role: Role, identity: str, token: str) -> Identity | None:
        """The identity if the token is right for it, else None."""
        ...


@dataclass(frozen=True, slots=True)
class DemoAccount:
    identity: Identity
    token: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(Identity(Role.VILLAGE, "village-1", "巴彦村法律服务室"), "demo-village-1"),
    DemoAccount(Identity(Role.VILLAGE, "village-2", "乌兰村法律服务室"), "demo-village-2"),
    DemoAccount(Identity(Role.LAWYER, "lawyer-1", "张律师"), "demo-lawyer-1"),
    DemoAccount(Identity(Role.LAWYER, "lawyer-2", "李律师"), "demo-lawyer-2"),
    DemoAccount(Identity(Role.MEDIATOR, "mediator-1", "王调解员"), "demo-mediator-1"),
)


class StaticDirectory:
    """A fixed list of accounts (the demo set, or none)."""

    def __init__(self, accounts: tuple[DemoAccount, ...]) -> None:
        self._accounts = {(a.identity.role, a.identity.identity): a for a in accounts}

    async def authenticate(self, role: Role, identity: str, token: str) -> Identity | None:
        account = self._accounts.get((role, identity))
        if account is None:
            # Compare anyway so a wrong identity costs the same time as a wrong token.
            hmac.compare_digest(token.encode(), b"x" * len(token.encode()))
            return None
        if hmac.compare_digest(token.encode(), account.token.encode()):
            return account.identity
        return None
