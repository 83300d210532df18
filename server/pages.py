"""The pages a person opens: the index, the village terminal and the professional's desk; and
the template renderer every page of the server uses.

Rendered with jinja2 from `server/templates/` (autoescaped: whatever a user typed is shown as
text); the JavaScript is plain ES modules in `static/`. Each page carries its configuration as
JSON: the message catalogue, the topics, the server's clock, and who signs in. The desk is for a
signed-in lawyer or mediator (the session cookie signs its websocket in); the kiosk signs in with
the device token it keeps, or enrols to get one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import jinja2
from aiohttp import web

from server import i18n, timefmt
from server.authz import PRINCIPAL_KEY, Principal, Who, json_error
from server.db import records
from server.db.engine import Database
from server.db.models import Outcome
from server.settings import Settings
from signaling.clock import Clock
from signaling.identity import DEMO_ACCOUNTS, DemoAccount
from signaling.messages import Role
from signaling.topics import TOPICS

VILLAGE_ROLES = frozenset({Role.VILLAGE})
PROFESSIONAL_ROLES = frozenset({Role.LAWYER, Role.MEDIATOR})
NOTES_URL: Final = "/api/my/consultations/{id}/notes"
HISTORY_SIZE: Final = 20


def shown_time(value: datetime | None) -> str:
    """A stored (UTC) time as the bureau reads it, in Asia/Shanghai; empty for none."""
    return "" if value is None else timefmt.shown(value.timestamp())


def between(start: datetime | None, end: datetime | None) -> str:
    """How long from `start` to `end`, as people say it; empty unless both are known."""
    if start is None or end is None:
        return ""
    return timefmt.duration((end - start).total_seconds())


class Templates:
    """The jinja2 environment, and responses rendered from it. Every page gets the signed-in
    principal (for its header) and the CSRF token its forms carry."""

    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("server", "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
        )
        self._env.globals["t"] = i18n.text
        self._env.filters["shown"] = shown_time
        self._env.globals["between"] = between

    def render(
        self, request: web.Request, template: str, status: int = 200, **context: Any
    ) -> web.Response:
        principal = request.get(PRINCIPAL_KEY) or Principal(Who.ANONYMOUS)
        context.setdefault("principal", principal)
        context.setdefault("csrf_token", principal.csrf_token)
        html = self._env.get_template(template).render(**context)
        # Pages carry a CSRF token, personal data and the server's clock: never cache them.
        return web.Response(
            text=html,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    def message(
        self, request: web.Request, title_key: str, message: str, status: int = 200, **params: Any
    ) -> web.Response:
        """A page that only says something (a refusal, a problem with a link)."""
        return self.render(
            request,
            "message.html",
            status=status,
            title_key=title_key,
            message=message,
            params=params,
        )


TEMPLATES_KEY = web.AppKey("templates", Templates)


@dataclass(frozen=True, slots=True)
class PageBasics:
    """What every page's configuration carries."""

    settings: Settings
    clock: Clock

    def config(self, page: str, prefixes: tuple[str, ...], principal: Principal) -> dict[str, Any]:
        return {
            "page": page,
            "catalogue": i18n.for_page(prefixes),
            "default_language": i18n.DEFAULT_LANGUAGE,
            "topics": [{"slug": t.slug, "professional": t.professional.value} for t in TOPICS],
            "server_now": self.clock.now(),
            "schema_url": "/protocol/schema.json",
            "ws_path": "/ws",
            "csrf_token": principal.csrf_token,
        }


class Pages:
    """The page handlers, with what they need from the application."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        templates: Templates,
        db: Callable[[], Database],
    ) -> None:
        self._settings = settings
        self._basics = PageBasics(settings, clock)
        self._templates = templates
        self._db = db

    async def index(self, request: web.Request) -> web.Response:
        return self._templates.render(
            request,
            "index.html",
            demo=self._settings.demo,
            villages=_demo_accounts(VILLAGE_ROLES),
            professionals=_demo_accounts(PROFESSIONAL_ROLES),
        )

    async def village(self, request: web.Request) -> web.Response:
        """The kiosk. With `--demo`, `?identity=village-1` signs in with that demo terminal's
        public token (not kept: the page without it enrols like any other)."""
        principal = request[PRINCIPAL_KEY]
        device = None
        wanted = request.query.get("identity")
        if wanted is not None and self._settings.demo:
            found = next(
                (a for a in _demo_accounts(VILLAGE_ROLES) if a.identity.identity == wanted), None
            )
            if found is None:
                known = "、".join(a.identity.identity for a in _demo_accounts(VILLAGE_ROLES))
                return self._templates.message(
                    request,
                    "village.title",
                    "index.unknown_identity",
                    status=404,
                    identity=wanted,
                    known=known,
                )
            device = {
                "identity": found.identity.identity,
                "village": found.identity.display_name,
                "token": found.token,
            }
        config = self._basics.config("village", i18n.VILLAGE_PREFIXES, principal)
        config |= {
            "role": Role.VILLAGE.value,
            "demo_device": device,
            "enrol_start_url": "/api/enrol/start",
            "enrol_claim_url": "/api/enrol/claim",
        }
        return self._templates.render(request, "village.html", config=config, topics=TOPICS)

    async def lawyer(self, request: web.Request) -> web.Response:
        """The desk of the signed-in lawyer or mediator (the authorization table lets no one else
        in); its websocket is signed in by the session cookie, so the page holds no token."""
        principal = request[PRINCIPAL_KEY]
        assert principal.name is not None and principal.who in (Who.LAWYER, Who.MEDIATOR)
        config = self._basics.config("lawyer", i18n.LAWYER_PREFIXES, principal)
        config |= {
            "role": principal.who.value,
            "identity": principal.name,
            "display_name": principal.display_name,
            "notes_url": NOTES_URL,
        }
        return self._templates.render(
            request,
            "lawyer.html",
            config=config,
            display_name=principal.display_name,
            outcomes=[o.value for o in Outcome],
        )

    async def history(self, request: web.Request) -> web.Response:
        """The professional's own latest consultations and their own notes (reading one's own
        notes back is not an audited read; nobody else's are shown)."""
        principal = request[PRINCIPAL_KEY]
        assert principal.name is not None
        db = self._db()
        mine = await records.list_consultations(
            db, records.ConsultationFilter(professional=principal.name), limit=HISTORY_SIZE
        )
        rows = []
        for c in mine:
            notes = await records.latest_notes(db, c.id, principal.name)
            rows.append((c, notes[0].text if notes else ""))
        return self._templates.render(
            request, "lawyer_history.html", rows=rows, display_name=principal.display_name
        )

    async def my_notes(self, request: web.Request) -> web.Response:
        """The professional's latest notes of one of their consultations, to refill the editor
        in a browser that has no copy. Anyone else's consultation does not exist (404)."""
        principal = request[PRINCIPAL_KEY]
        consultation_id = request.match_info["consultation_id"]
        db = self._db()
        parties = await records.consultation_parties(db, consultation_id)
        if parties is None or parties[1] != principal.name:
            return json_error(404, "not_found", "no such consultation of yours")
        notes = await records.latest_notes(db, consultation_id, principal.name)
        latest = notes[0] if notes else None
        return web.json_response(
            {
                "consultation_id": consultation_id,
                "revision": latest.revision if latest else 0,
                "text": latest.text if latest else "",
            },
            headers={"Cache-Control": "no-store"},
        )


def _demo_accounts(roles: frozenset[Role]) -> list[DemoAccount]:
    return [a for a in DEMO_ACCOUNTS if a.identity.role in roles]


PAGES_KEY = web.AppKey("pages", Pages)


def setup_pages(app: web.Application) -> None:
    """Add the index, the kiosk, the desk and the renderer (after the app's settings and hub)."""
    # server.app imports this module, so its keys are looked up when the app is being built.
    from server.app import HUB_KEY, SETTINGS_KEY, database

    templates = Templates()
    app[TEMPLATES_KEY] = templates
    pages = Pages(app[SETTINGS_KEY], app[HUB_KEY].clock, templates, lambda: database(app))
    app[PAGES_KEY] = pages
    app.router.add_get("/", pages.index, name="index")
    app.router.add_get("/village", pages.village, name="village")
    app.router.add_get("/lawyer", pages.lawyer, name="lawyer")
    app.router.add_get("/lawyer/history", pages.history, name="lawyer_history")
    app.router.add_get("/api/my/consultations/{consultation_id}/notes", pages.my_notes)
