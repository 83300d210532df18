"""Sign-in for signaling from the database: terminals by device token, lawyers and mediators by
account token. The async counterpart of `signaling.identity.Directory`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType
from typing import Final

from server.db import accounts
from server.db.engine import Database
from server.db.models import AccountRole, utcnow
from signaling.identity import Identity
from signaling.messages import Role

# Which signaling role each account role signs in as; supervisors do not use signaling.
_ROLE_OF_ACCOUNT: Final = MappingProxyType(
    {AccountRole.LAWYER: Role.LAWYER, AccountRole.MEDIATOR: Role.MEDIATOR}
)


class DbDirectory:
    """Reads the database on every hello, so a revocation or a disabled account is refused on
    the very next one. Time comes from `now` (tests pass a fixed clock)."""

    def __init__(self, db: Database, now: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._now = now

    async def authenticate(self, role: Role, identity: str, token: str) -> Identity | None:
        """The identity if `token` is right for `role` and `identity`, else None."""
        if role is Role.VILLAGE:
            terminal = await accounts.authenticate_terminal(self._db, identity, token)
            if terminal is None:
                return None
            return Identity(Role.VILLAGE, terminal.identity, terminal.village)
        account = await accounts.authenticate_token(self._db, identity, token, self._now())
        if account is None or _ROLE_OF_ACCOUNT.get(account.role) is not role:
            return None
        return Identity(
            role, account.username, account.display_name, account.topics, account.languages
        )
