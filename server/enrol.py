"""Kiosk enrolment over HTTP: the terminal page starts an enrolment (and shows its code), then
polls with its claim secret until a supervisor has confirmed the code; it then gets its device
token, once, and keeps it (localStorage). The steps themselves are `server.db.accounts`'s.

Both calls are the page's JSON fetches: they carry the page's CSRF token in a header like every
POST, and neither needs a sign-in (the kiosk has none yet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import MappingProxyType
from typing import Final

from aiohttp import web

from server.authz import json_error
from server.db import accounts
from server.db.engine import Database
from server.db.errors import EnrolmentError
from server.db.models import utc_from_epoch
from signaling.clock import Clock
from signaling.hub import Hub
from signaling.messages import Role
from signaling.state import SharedState

log = logging.getLogger(__name__)

# A kiosk starts one enrolment per page load and one every ten minutes while it waits; more than
# this from one address in an hour is somebody filling the table.
STARTS_PER_HOUR: Final = 30
MAX_SECRET_CHARS: Final = 200
_NO_STORE: Final = MappingProxyType({"Cache-Control": "no-store"})


class Enrolments:
    def __init__(
        self, db: Callable[[], Database], clock: Clock, state: SharedState, hub: Hub
    ) -> None:
        self._db = db
        self._clock = clock
        self._state = state
        self._hub = hub

    async def start(self, request: web.Request) -> web.Response:
        now = self._clock.now()
        address = request.remote or "unknown"
        if await self._state.count(f"enrol:start:{address}", 3600, now) > STARTS_PER_HOUR:
            return json_error(429, "rate_limited", "too many enrolments from this address")
        started = await accounts.start_enrolment(self._db(), utc_from_epoch(now))
        return web.json_response(
            {
                "code": started.code,
                "claim_secret": started.claim_secret,
                "expires_at": started.expires_at.timestamp(),
            },
            headers=_NO_STORE,
        )

    async def claim(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return json_error(400, "invalid_json", "send a JSON object")
        secret = body.get("claim_secret") if isinstance(body, dict) else None
        if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET_CHARS:
            return json_error(400, "invalid_format", "claim_secret: a string")
        try:
            credential = await accounts.claim_enrolment(
                self._db(), secret, utc_from_epoch(self._clock.now())
            )
        except EnrolmentError as exc:
            status = 404 if exc.code == "enrolment_unknown" else 410
            return json_error(status, exc.code, exc.message)
        if credential is None:
            return web.json_response({"status": "pending"}, headers=_NO_STORE)
        # The new token replaced the terminal's old one: a kiosk still signed in with the old one
        # (another machine, or a copy of its token) is out now, not at its next sign-in.
        await self._hub.revoke(Role.VILLAGE, credential.identity)
        log.info("terminal %s enrolled", credential.identity)
        return web.json_response(
            {
                "status": "enrolled",
                "identity": credential.identity,
                "village": credential.village,
                "token": credential.token,
            },
            headers=_NO_STORE,
        )


ENROLMENTS_KEY = web.AppKey("enrolments", Enrolments)


def setup_enrol(app: web.Application) -> None:
    # server.app imports this module, so its keys are looked up when the app is being built.
    from server.app import HUB_KEY, STATE_KEY, database

    hub = app[HUB_KEY]
    enrolments = Enrolments(lambda: database(app), hub.clock, app[STATE_KEY], hub)
    app[ENROLMENTS_KEY] = enrolments
    app.router.add_post("/api/enrol/start", enrolments.start)
    app.router.add_post("/api/enrol/claim", enrolments.claim)
