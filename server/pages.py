"""The pages a person opens: an index, the village terminal and the lawyer's desk.

Rendered with jinja2 from `server/templates/`; the JavaScript is plain ES modules in `static/`.
Each page carries its configuration as JSON: who signs in (a demo identity and token with
`--demo`; there are no accounts yet), the message catalogue, the topics and the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web

from server import i18n
from server.settings import Settings
from signaling.clock import Clock
from signaling.identity import DEMO_ACCOUNTS, DemoAccount
from signaling.messages import Role
from signaling.topics import TOPICS

VILLAGE_ROLES = frozenset({Role.VILLAGE})
PROFESSIONAL_ROLES = frozenset({Role.LAWYER, Role.MEDIATOR})


@dataclass(frozen=True, slots=True)
class PageKind:
    name: str
    template: str
    roles: frozenset[Role]
    prefixes: tuple[str, ...]
    title_key: str


VILLAGE = PageKind("village", "village.html", VILLAGE_ROLES, i18n.VILLAGE_PREFIXES, "village.title")
LAWYER = PageKind("lawyer", "lawyer.html", PROFESSIONAL_ROLES, i18n.LAWYER_PREFIXES, "lawyer.title")


class Pages:
    """The page handlers, with what they need from the application."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("server", "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
        )
        self._env.globals["t"] = i18n.text

    def _render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        html = self._env.get_template(template).render(**context)
        # A page carries a sign-in token and the server's clock: never cache it.
        return web.Response(
            text=html,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def index(self, request: web.Request) -> web.Response:
        return self._render(
            "index.html",
            demo=self._settings.demo,
            villages=_accounts(VILLAGE_ROLES),
            professionals=_accounts(PROFESSIONAL_ROLES),
        )

    async def village(self, request: web.Request) -> web.Response:
        return self._page(request, VILLAGE)

    async def lawyer(self, request: web.Request) -> web.Response:
        return self._page(request, LAWYER)

    def _page(self, request: web.Request, kind: PageKind) -> web.Response:
        if not self._settings.demo:
            return self._render(
                "message.html", title_key=kind.title_key, message="index.not_set_up", params={}
            )
        accounts = _accounts(kind.roles)
        wanted = request.query.get("identity", accounts[0].identity.identity)
        account = next((a for a in accounts if a.identity.identity == wanted), None)
        if account is None:
            known = "、".join(a.identity.identity for a in accounts)
            return self._render(
                "message.html",
                status=404,
                title_key=kind.title_key,
                message="index.unknown_identity",
                params={"identity": wanted, "known": known},
            )
        config = {
            "page": kind.name,
            "role": account.identity.role.value,
            "identity": account.identity.identity,
            "token": account.token,
            "display_name": account.identity.display_name,
            "catalogue": i18n.for_page(kind.prefixes),
            "default_language": i18n.DEFAULT_LANGUAGE,
            "topics": [{"slug": t.slug, "professional": t.professional.value} for t in TOPICS],
            "server_now": self._clock.now(),
            "schema_url": "/protocol/schema.json",
            "ws_path": "/ws",
        }
        return self._render(
            kind.template,
            config=config,
            display_name=account.identity.display_name,
            topics=TOPICS,
        )


def _accounts(roles: frozenset[Role]) -> list[DemoAccount]:
    return [a for a in DEMO_ACCOUNTS if a.identity.role in roles]


PAGES_KEY = web.AppKey("pages", Pages)


def setup_pages(app: web.Application) -> None:
    """Add `/`, `/village` and `/lawyer` to the application (after its settings and hub)."""
    # server.app imports this module, so its keys are looked up when the app is being built.
    from server.app import HUB_KEY, SETTINGS_KEY

    pages = Pages(app[SETTINGS_KEY], app[HUB_KEY].clock)
    app[PAGES_KEY] = pages
    app.router.add_get("/", pages.index, name="index")
    app.router.add_get("/village", pages.village, name="village")
    app.router.add_get("/lawyer", pages.lawyer, name="lawyer")
