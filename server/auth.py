"""Signing in on the pages: session cookies, CSRF tokens, sign-in lockout, and who a request (or
a page's websocket) comes from.

A session is an opaque account token (`accounts.issue_token(kind=SESSION)`, only its hash is
stored) in an HttpOnly, SameSite=Lax cookie, Secure under TLS; every request reads the database,
so signing out, a disabled account or an expired session is refused at once. Before signing in a
browser holds a pre-session cookie: random, unknown to the database, good for nothing but the
sign-in form's CSRF token; signing in always replaces it with a new session (no fixation).

Every POST carries a CSRF token derived from the cookie with the server's key (a hidden form
field, or the `X-CSRF-Token` header for the pages' JSON calls); a request that authenticates with
an `Authorization` header instead of a cookie carries no ambient credential and needs none.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.authz import (
    ANONYMOUS,
    CSRF_EXEMPT,
    PRINCIPAL_KEY,
    WHO_KEY,
    Principal,
    Who,
    authz_middleware,
    is_api,
    json_error,
    request_key,
)
from server.db import accounts
from server.db.audit import Actor
from server.db.engine import Database
from server.db.models import IDENTITY_LEN, TokenKind, utc_from_epoch
from server.db.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from server.pages import TEMPLATES_KEY, Templates
from signaling.clock import Clock
from signaling.identity import Identity
from signaling.messages import Role
from signaling.state import SharedState

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "lawroom_session"
SESSION_TTL: Final = timedelta(hours=12)  # a working day; then sign in again
PRE_SESSION_PREFIX: Final = "pre_"
_PRE_SESSION_RE: Final = re.compile(r"^pre_[A-Za-z0-9_-]{32}$")
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_CSRF_PURPOSE: Final = "csrf"  # an HMAC purpose of its own (server.db.tokens.TokenHasher)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Open to anyone and never rendering a form: a database read for each would be waste. The
# websocket signs itself in (`request_identity`).
_UNRESOLVED: Final = frozenset(
    {"GET /static", "GET /healthz", "GET /protocol/schema.json", "GET /ws"}
)
_WHO_OF_ROLE: Final = MappingProxyType(
    {"lawyer": Who.LAWYER, "mediator": Who.MEDIATOR, "supervisor": Who.SUPERVISOR}
)
_HOME: Final = MappingProxyType(
    {Who.SUPERVISOR: "/supervisor", Who.LAWYER: "/lawyer", Who.MEDIATOR: "/lawyer"}
)


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`account_failures` wrong passwords for one account, or `address_failures` from one
    address, within `window` seconds lock it for `lock_seconds`, the right password included."""

    account_failures: int = 5
    address_failures: int = 20
    window: float = 15 * 60
    lock_seconds: float = 15 * 60


class SignInGuard:
    """Failure counts and locks in the shared state, so every instance sees the same ones.

    The interface only counts (`count` adds one and says how many in the window), so a lock is a
    counter of its own: setting it counts once; looking counts again and sees 2 or more while the
    lock holds, or 1 when there is none (that look is then undone with `reset_count`)."""

    def __init__(self, state: SharedState, policy: LockoutPolicy) -> None:
        self._state = state
        self.policy = policy

    async def locked(self, username: str, address: str, now: float) -> bool:
        # Both are looked at (no short cut): each look must be undone when there is no lock.
        account = await self._is_locked(f"signin:lock:account:{username}", now)
        by_address = await self._is_locked(f"signin:lock:address:{address}", now)
        return account or by_address

    async def failed(self, username: str, address: str, now: float) -> None:
        p = self.policy
        for kind, subject, limit in (
            ("account", username, p.account_failures),
            ("address", address, p.address_failures),
        ):
            failures = await self._state.count(f"signin:fail:{kind}:{subject}", p.window, now)
            if failures >= limit:
                log.warning("sign-in locked for %s %s after %d failures", kind, subject, failures)
                await self._state.count(f"signin:lock:{kind}:{subject}", p.lock_seconds, now)
                await self._state.reset_count(f"signin:fail:{kind}:{subject}")

    async def succeeded(self, username: str) -> None:
        # Only the account's count: an address's failures stand, or one good account would let
        # its holder try passwords of the others without end.
        await self._state.reset_count(f"signin:fail:account:{username}")

    async def _is_locked(self, key: str, now: float) -> bool:
        if await self._state.count(key, self.policy.lock_seconds, now) >= 2:
            return True
        await self._state.reset_count(key)
        return False


@dataclass(frozen=True, slots=True)
class Resolved:
    principal: Principal
    new_cookie: str | None  # a pre-session cookie to set on the response
    session_token: str | None  # the session's account token, to sign out with


def _home(who: Who) -> str:
    return _HOME.get(who, "/")


def safe_next(value: str | None) -> str | None:
    """A page of this site to go to after signing in; anything else (another site, a scheme,
    a control character) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or len(value) > 500:
        return None
    return value


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


class Auth:
    """Sessions, CSRF and sign-in, with what they need from the application."""

    def __init__(
        self,
        db: Callable[[], Database],
        clock: Clock,
        state: SharedState,
        templates: Templates,
        policy: LockoutPolicy | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._templates = templates
        self.guard = SignInGuard(state, policy or LockoutPolicy())

    def _now(self) -> datetime:
        return utc_from_epoch(self._clock.now())

    def csrf_token_for(self, cookie: str) -> str:
        return self._db().tokens.hash(_CSRF_PURPOSE, cookie)

    # -- who a request comes from ---------------------------------------------------------------

    async def resolve(self, request: web.Request, *, cookies_only: bool = False) -> Resolved:
        authorization = request.headers.get("Authorization", "")
        if authorization and not cookies_only:
            return Resolved(await self._bearer(authorization), None, None)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        session = await self._session(cookie)
        if session is not None:
            account, who, token = session
            principal = Principal(
                who, account.username, account.display_name, self.csrf_token_for(cookie)
            )
            return Resolved(principal, None, token)
        if _PRE_SESSION_RE.fullmatch(cookie):
            return Resolved(
                Principal(Who.ANONYMOUS, csrf_token=self.csrf_token_for(cookie)), None, None
            )
        # No cookie, or a dead session: a fresh pre-session (a dead session's value is never
        # reused, so an old cookie stays useless).
        fresh = PRE_SESSION_PREFIX + secrets.token_urlsafe(24)
        return Resolved(
            Principal(Who.ANONYMOUS, csrf_token=self.csrf_token_for(fresh)), fresh, None
        )

    async def _session(self, cookie: str) -> tuple[accounts.AccountView, Who, str] | None:
        """The account a session cookie (`USERNAME:TOKEN`) signs in, if it is live."""
        username, sep, token = cookie.partition(":")
        if not (sep and username and token):
            return None
        account = await accounts.authenticate_token(self._db(), username, token, self._now())
        who = None if account is None else _WHO_OF_ROLE.get(account.role.value)
        return None if account is None or who is None else (account, who, token)

    async def _bearer(self, authorization: str) -> Principal:
        """`Authorization: Bearer IDENTITY:TOKEN`: a terminal's device token or an account token
        (the Python clients). No cookie is involved, so no CSRF token either."""
        scheme, _, credential = authorization.partition(" ")
        identity, sep, token = credential.strip().partition(":")
        if scheme.lower() != "bearer" or not sep or not identity or not token:
            return Principal(Who.ANONYMOUS, bearer=True)
        db = self._db()
        terminal = await accounts.authenticate_terminal(db, identity, token)
        if terminal is not None:
            return Principal(Who.VILLAGE, terminal.identity, terminal.village, bearer=True)
        account = await accounts.authenticate_token(db, identity, token, self._now())
        who = None if account is None else _WHO_OF_ROLE.get(account.role.value)
        if account is None or who is None:
            return Principal(Who.ANONYMOUS, bearer=True)
        return Principal(who, account.username, account.display_name, bearer=True)

    async def request_identity(self, request: web.Request) -> Identity | None:
        """Who a page's websocket is, from its session cookie: a lawyer or a mediator (the
        others do not talk in calls; terminals sign in with their device token)."""
        session = await self._session(request.cookies.get(SESSION_COOKIE, ""))
        if session is None or session[1] not in (Who.LAWYER, Who.MEDIATOR):
            return None
        account, who, _ = session
        # As the database's directory has it for a token: what the professional takes.
        return Identity(
            Role(who.value),
            account.username,
            account.display_name,
            topics=account.topics,
            languages=account.languages,
        )

    def session_middleware(self) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request_key(request) in _UNRESOLVED:
                return await handler(request)
            resolved = await self.resolve(request)
            request[PRINCIPAL_KEY] = resolved.principal
            request[WHO_KEY] = resolved.principal.who
            response = await handler(request)
            if resolved.new_cookie is not None and not response.prepared:
                self._set_cookie(request, response, resolved.new_cookie, max_age=None)
            return response

        return middleware

    def csrf_middleware(self) -> Middleware:
        """Refuse a POST without the CSRF token of its cookie, before its handler reads
        anything. Runs after the authorization middleware: somebody not signed in is sent to
        sign in rather than told about tokens."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            key = request_key(request)
            if request.method in SAFE_METHODS or key is None or key in CSRF_EXEMPT:
                return await handler(request)
            principal = request.get(PRINCIPAL_KEY, ANONYMOUS)
            if principal.bearer:
                return await handler(request)
            given = request.headers.get(CSRF_HEADER)
            if given is None and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                value = (await request.post()).get(CSRF_FIELD)
                given = value if isinstance(value, str) else None
            expected = principal.csrf_token
            if not given or not expected or not hmac.compare_digest(given, expected):
                log.warning(
                    "refused %s %s: missing or wrong CSRF token", request.method, request.path
                )
                if is_api(request):
                    return json_error(403, "csrf_failed", "missing or wrong CSRF token")
                return self._templates.message(
                    request, "auth.csrf_title", "auth.csrf_failed", status=403
                )
            return await handler(request)

        return middleware

    def forbidden_page(self, request: web.Request) -> web.Response:
        return self._templates.message(
            request, "auth.forbidden_title", "auth.forbidden", status=403
        )

    # -- sign-in and sign-out -----------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        principal = request[PRINCIPAL_KEY]
        target = safe_next(request.query.get("next"))
        if principal.who is not Who.ANONYMOUS:
            return _see_other(target or _home(principal.who))
        return self._login_form(request, target or "")

    def _login_form(
        self,
        request: web.Request,
        target: str,
        error: str | None = None,
        username: str = "",
        status: int = 200,
    ) -> web.Response:
        minutes = round(self.guard.policy.lock_seconds / 60)
        return self._templates.render(
            request,
            "login.html",
            status=status,
            next=target,
            error=error,
            username=username,
            minutes=minutes,
        )

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
        address = request.remote or "unknown"
        now = self._clock.now()
        if await self.guard.locked(username, address, now):
            log.warning("sign-in of %r from %s refused: locked", username[:IDENTITY_LEN], address)
            return self._login_form(request, target or "", "auth.locked", username, status=429)
        account = None
        if 0 < len(username) <= IDENTITY_LEN and len(password) <= MAX_PASSWORD_LENGTH:
            account = await accounts.verify_password(
                self._db(), username, password, utc_from_epoch(now)
            )
        who = None if account is None else _WHO_OF_ROLE.get(account.role.value)
        if account is None or who is None:
            await self.guard.failed(username[:IDENTITY_LEN], address, now)
            log.info("sign-in of %r from %s failed", username[:IDENTITY_LEN], address)
            return self._login_form(request, target or "", "auth.failed", username, status=401)
        await self.guard.succeeded(username)
        at = utc_from_epoch(now)
        token = await accounts.issue_token(
            self._db(),
            account.username,
            kind=TokenKind.SESSION,
            label="web sign-in",
            expires_at=at + SESSION_TTL,
            actor=Actor.account(account.username),
            at=at,
        )
        # Signing in as somebody else from a signed-in browser: the old session ends here.
        old = await self.resolve(request, cookies_only=True)
        if old.session_token is not None:
            await accounts.revoke_token(self._db(), old.session_token, at)
        log.info("%s %s signed in from %s", who, account.username, address)
        response = _see_other(target or _home(who))
        self._set_cookie(
            request,
            response,
            f"{account.username}:{token}",
            max_age=int(SESSION_TTL.total_seconds()),
        )
        return response

    async def logout_page(self, request: web.Request) -> web.Response:
        if request[PRINCIPAL_KEY].who is Who.ANONYMOUS:
            return _see_other("/login")
        return self._templates.render(request, "logout.html")

    async def logout(self, request: web.Request) -> web.Response:
        resolved = await self.resolve(request, cookies_only=True)
        if resolved.session_token is not None:
            await accounts.revoke_token(self._db(), resolved.session_token, self._now())
            log.info("%s signed out", resolved.principal.name)
        response = _see_other("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    def _set_cookie(
        self, request: web.Request, response: web.StreamResponse, value: str, max_age: int | None
    ) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            value,
            path="/",
            max_age=max_age,
            httponly=True,
            samesite="Lax",
            secure=request.secure,
        )


AUTH_KEY = web.AppKey("auth", Auth)


def setup_auth(app: web.Application) -> None:
    """Sign-in routes and the three middlewares (who, the authorization table, CSRF), after the
    pages (their renderer) and the hub (its clock)."""
    # server.app imports this module, so its keys are looked up when the app is being built.
    from server.app import HUB_KEY, STATE_KEY, database

    auth = Auth(lambda: database(app), app[HUB_KEY].clock, app[STATE_KEY], app[TEMPLATES_KEY])
    app[AUTH_KEY] = auth
    app.middlewares.extend(
        [
            auth.session_middleware(),
            authz_middleware(auth.forbidden_page),
            auth.csrf_middleware(),
        ]
    )
    app.router.add_get("/login", auth.login_page, name="login")
    app.router.add_post("/login", auth.login)
    app.router.add_get("/logout", auth.logout_page, name="logout")
    app.router.add_post("/logout", auth.logout)
