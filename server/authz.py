"""Who may do what: one table of role × (HTTP route, message type), and the middleware that
enforces its HTTP rows.

Every route of the application and every client message type has a row; a test enumerates the
router and the message registry at run time and fails on any that is missing. The middleware
enforces the HTTP rows from the request's `Who` (resolved by `server.auth`); the message rows are
handed to signaling's hub. Finer checks (a professional reads only their own consultations) are
made by the handlers, from the record.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from signaling.messages import Role

log = logging.getLogger(__name__)


class Who(enum.StrEnum):
    """Who a request comes from: a role, or nobody signed in."""

    ANONYMOUS = "anonymous"
    VILLAGE = "village"
    LAWYER = "lawyer"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"


ANYONE = frozenset(Who)
SIGNED_IN = ANYONE - {Who.ANONYMOUS}
PROFESSIONALS = frozenset({Who.LAWYER, Who.MEDIATOR})
IN_CALLS = frozenset({Who.VILLAGE, Who.LAWYER, Who.MEDIATOR})
SUPERVISORS = frozenset({Who.SUPERVISOR})

# "ws TYPE" for a message; "METHOD /canonical/path" for a route (as aiohttp names it; HEAD is
# looked up as GET, which aiohttp adds it with).
TABLE: Mapping[str, frozenset[Who]] = MappingProxyType(
    {
        # hello, resume and ping come before sign-in and are open to any connection.
        "ws hello": ANYONE,
        "ws resume": ANYONE,
        "ws ping": ANYONE,
        "ws request_consultation": frozenset({Who.VILLAGE}),
        "ws cancel_request": frozenset({Who.VILLAGE}),
        "ws leave_callback": frozenset({Who.VILLAGE}),
        "ws set_duty": PROFESSIONALS,
        "ws accept": PROFESSIONALS,
        "ws decline": PROFESSIONALS,
        "ws hang_up": IN_CALLS,
        "ws sdp": IN_CALLS,
        "ws ice_candidate": IN_CALLS,
        "ws save_notes": PROFESSIONALS,
        "ws set_outcome": PROFESSIONALS,
        "ws rate": frozenset({Who.VILLAGE}),
        # Public: health, the protocol's schema, the socket itself (signed in by its hello),
        # static files, the index, signing in and out.
        "GET /healthz": ANYONE,
        "GET /ws": ANYONE,
        "GET /protocol/schema.json": ANYONE,
        "GET /static": ANYONE,
        "GET /": ANYONE,
        "GET /login": ANYONE,
        "POST /login": ANYONE,
        "GET /logout": ANYONE,
        "POST /logout": ANYONE,
        # The kiosk: open, because a terminal proves itself on the websocket with its device
        # token; before it has one it enrols (a code a supervisor confirms, a secret it claims
        # its token with).
        "GET /village": ANYONE,
        "POST /api/enrol/start": ANYONE,
        "POST /api/enrol/claim": ANYONE,
        # The professional's desk; the handlers show only the professional's own records.
        "GET /lawyer": PROFESSIONALS,
        "GET /lawyer/history": PROFESSIONALS,
        "GET /api/my/consultations/{consultation_id}/notes": PROFESSIONALS,
        # The justice bureau.
        "GET /supervisor": SUPERVISORS,
        "GET /supervisor/consultations": SUPERVISORS,
        "GET /supervisor/consultations/{consultation_id}": SUPERVISORS,
        "GET /supervisor/accounts": SUPERVISORS,
        "POST /supervisor/accounts": SUPERVISORS,
        "POST /supervisor/accounts/{username}/disable": SUPERVISORS,
        "POST /supervisor/accounts/{username}/enable": SUPERVISORS,
        "GET /supervisor/terminals": SUPERVISORS,
        "POST /supervisor/terminals": SUPERVISORS,
        "POST /supervisor/terminals/{identity}/enrol": SUPERVISORS,
        "POST /supervisor/terminals/{identity}/revoke": SUPERVISORS,
        "GET /supervisor/audit": SUPERVISORS,
        "GET /api/stats": SUPERVISORS,
        # The advisor: public statute text and advice, no sign-in (rate-limited by address).
        "POST /api/advice": ANYONE,
        "GET /api/laws": ANYONE,
        "GET /api/laws/{short}": ANYONE,
        "GET /api/laws/{short}/{article}": ANYONE,
        "GET /laws": ANYONE,
        "GET /laws/{short}": ANYONE,
        "GET /laws/{short}/{article}": ANYONE,
        "GET /api/supervisor/presence": SUPERVISORS,
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from, as `server.auth` resolved it: the role, the account or
    terminal, and the CSRF token its forms must carry."""

    who: Who
    name: str | None = None
    display_name: str = ""
    csrf_token: str = field(default="", repr=False)
    # Signed in by an Authorization header, not a cookie: no ambient credential, no CSRF token.
    bearer: bool = False


WHO_KEY = web.RequestKey("who", Who)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
ANONYMOUS = Principal(Who.ANONYMOUS)


def message_permissions() -> dict[str, frozenset[Role]]:
    """The message rows as signaling's hub takes them: type -> roles."""
    roles = {Who.VILLAGE: Role.VILLAGE, Who.LAWYER: Role.LAWYER, Who.MEDIATOR: Role.MEDIATOR}
    return {
        key.removeprefix("ws "): frozenset(roles[w] for w in whos if w in roles)
        for key, whos in TABLE.items()
        if key.startswith("ws ")
    }


def route_key(method: str, canonical: str) -> str:
    # aiohttp adds a HEAD route beside every GET; it is allowed exactly when the GET is.
    return f"{'GET' if method == 'HEAD' else method} {canonical}"


# POSTs that change nothing and use no cookie: a CSRF token would only lock out the API's
# callers (a forged request can do nothing a direct one could not).
CSRF_EXEMPT: frozenset[str] = frozenset({"POST /api/advice"})


def request_key(request: web.Request) -> str | None:
    """The table's key for the route the request matched; None when it matched none (404/405)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return route_key(request.method, resource.canonical)


def is_api(request: web.Request) -> bool:
    """JSON endpoints answer refusals in JSON; everything else is a page a person looks at."""
    return request.path.startswith("/api/")


def json_error(status: int, code: str, message: str) -> web.Response:
    """The one JSON error shape of the HTTP API."""
    return web.json_response({"code": code, "message": message}, status=status)


def login_url(request: web.Request) -> str:
    """The sign-in page, coming back afterwards: to the page asked for, or after a form post
    (whose page cannot be fetched again) to the top of its section."""
    if request.method in ("GET", "HEAD"):
        back = request.path_qs
    else:
        back = "/" + request.path.strip("/").split("/")[0]
    return "/login?next=" + quote(back, safe="")


ForbiddenPage = Callable[[web.Request], web.Response]


def authz_middleware(forbidden_page: ForbiddenPage) -> Middleware:
    """Enforce the HTTP rows: nobody signed in is sent to sign in (401 for the API), somebody
    signed in with the wrong role is refused (403). A route with no row is refused too, so a
    forgotten row fails closed."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request_key(request)
        if key is None:
            return await handler(request)  # aiohttp's own 404 or 405
        allowed = TABLE.get(key)
        if allowed is None:
            log.error("no authorization row for %s: refused", key)
            allowed = frozenset()
        if allowed == ANYONE:
            return await handler(request)
        who = request.get(WHO_KEY, Who.ANONYMOUS)
        if who in allowed:
            return await handler(request)
        if who is Who.ANONYMOUS:
            if is_api(request):
                return json_error(401, "not_authenticated", "sign in first")
            # 303: after a refused form post the browser fetches the sign-in page with GET.
            return web.Response(status=303, headers={"Location": login_url(request)})
        log.info("refused %s to a %s", key, who)
        if is_api(request):
            return json_error(403, "forbidden", f"a {who} may not use this")
        return forbidden_page(request)

    return middleware
