"""The justice bureau's pages: consultations (filtered) and one record's timeline, accounts
(list, add, disable), terminals (online status, enrol by confirming a code, revoke), the audit
log.

Reading a whole record goes through `records.read_record`, which writes its audit entry in the
same transaction; account and terminal changes are audited by `server.db.accounts`. Revoking a
terminal or disabling an account also closes its live connections at once (`Hub.revoke`).
Every form posts, then redirects to a page that says what was done (a reload repeats nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from server import i18n
from server.authz import PRINCIPAL_KEY
from server.db import accounts, audit, records
from server.db.accounts import IDENTITY_RE
from server.db.audit import Actor
from server.db.engine import Database
from server.db.errors import AlreadyExists, EnrolmentError, InvalidValue, NotFound
from server.db.models import NAME_LEN, AccountRole, AuditAction, Outcome, utc_from_epoch
from server.db.passwords import MAX_LENGTH as MAX_PASSWORD
from server.db.passwords import MIN_LENGTH as MIN_PASSWORD
from server.db.records import ConsultationFilter, TimelineEvent
from server.pages import TEMPLATES_KEY, Templates
from server.timefmt import SHOWN_ZONE
from signaling.clock import Clock
from signaling.hub import Hub
from signaling.messages import CallState, Language, Role
from signaling.topics import TOPIC_SLUGS, TOPICS

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 50
MAX_FILTER_CHARS: Final = 100
IN_ROOM: Final = frozenset({CallState.JOINED, CallState.NEGOTIATING, CallState.CONNECTED})
ACCOUNT_ROLES: Final = tuple(r.value for r in AccountRole)
# What a redirect after a change may announce (nothing else from the query is shown).
NOTICES: Final = frozenset(
    {
        "account_created",
        "account_disabled",
        "account_enabled",
        "terminal_added",
        "terminal_enrolled",
        "terminal_revoked",
    }
)
ENROLMENT_ERRORS: Final = MappingProxyType(
    {
        "enrolment_unknown": "supervisor.enrol_unknown",
        "enrolment_used": "supervisor.enrol_used",
        "enrolment_expired": "supervisor.enrol_expired",
    }
)


# -- presence: who is connected now, from signaling's shared state ------------------------------


@dataclass(frozen=True, slots=True)
class Presence:
    """One identity's connections: `status` is offline, online, on_duty, waiting or in_call."""

    status: str
    consultation_id: str | None = None


async def presence(hub: Hub) -> dict[tuple[Role, str], Presence]:
    """Every signed-in identity's status (a session kept for its grace period is not online)."""
    found: dict[tuple[Role, str], Presence] = {}
    rank = {"offline": 0, "online": 1, "on_duty": 2, "waiting": 3, "in_call": 4}
    async for session in hub.state.sessions():
        status = "online" if session.connected else "offline"
        if session.connected and session.on_duty:
            status = "on_duty"
        c = None
        if session.consultation_id is not None:
            c = await hub.state.get_consultation(session.consultation_id)
        if session.connected and c is not None:
            status = "in_call" if c.state in IN_ROOM else "waiting"
        key = (session.role, session.identity)
        seen = found.get(key)
        if seen is None or rank[status] > rank[seen.status]:
            found[key] = Presence(status, c.consultation_id if c is not None else None)
    return found


# -- consultation filters --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedFilters:
    filters: ConsultationFilter
    form: dict[str, str]  # as typed, to fill the form again
    errors: tuple[str, ...]  # message keys
    page: int


def _day_start(text: str) -> datetime:
    """The start of a day (YYYY-MM-DD) in Beijing time, the day the bureau means."""
    day = date.fromisoformat(text)
    return datetime.combine(day, time.min, tzinfo=SHOWN_ZONE)


def parse_filters(query: Mapping[str, str]) -> ParsedFilters:
    """The list's filters from the query string. Every value is handed to the storage layer as a
    bound parameter; one that cannot be right (an unknown topic, a malformed date) is reported
    and the list is empty rather than silently unfiltered."""
    names = ("date_from", "date_to", "topic", "village", "professional", "outcome", "terminal")
    form = {n: query.get(n, "").strip()[:MAX_FILTER_CHARS] for n in names}
    errors: list[str] = []
    requested_from = requested_before = None
    try:
        if form["date_from"]:
            requested_from = _day_start(form["date_from"])
        if form["date_to"]:
            requested_before = _day_start(form["date_to"]) + timedelta(days=1)
    except ValueError:
        errors.append("supervisor.filter_bad_date")
    topic = form["topic"] or None
    if topic is not None and topic not in TOPIC_SLUGS:
        errors.append("supervisor.filter_bad_topic")
    outcome = None
    if form["outcome"]:
        try:
            outcome = Outcome(form["outcome"])
        except ValueError:
            errors.append("supervisor.filter_bad_outcome")
    try:
        page = max(1, min(int(query.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    filters = ConsultationFilter(
        requested_from=requested_from,
        requested_before=requested_before,
        topic=topic,
        village=form["village"] or None,
        professional=form["professional"] or None,
        outcome=outcome,
        terminal=form["terminal"] or None,
    )
    return ParsedFilters(filters, form, tuple(errors), page)


# -- the record's timeline, in words -----------------------------------------------------------


def event_label(event: TimelineEvent) -> str:
    return i18n.text(f"event.{event.kind}")


def event_detail(event: TimelineEvent) -> str:
    """The event's detail as a person reads it: names for topics, roles, outcomes, reasons."""
    kind, detail = event.kind, event.detail
    catalogue = i18n.CATALOGUE[i18n.DEFAULT_LANGUAGE]
    key = {
        "requested": f"topic.{detail}",
        "joined": f"role.{detail}",
        "left": f"role.{detail}",
        "outcome": f"outcome.{detail}",
        "ended": f"reason.{detail}",
    }.get(kind)
    if key is not None and key in catalogue:
        return catalogue[key]
    if kind == "notes_saved" and detail.startswith("revision "):
        return i18n.text("supervisor.revision", n=detail.removeprefix("revision "))
    return detail


# -- the pages ---------------------------------------------------------------------------------


class FormError(Exception):
    """A form's input cannot be used; `key` is the message shown above the form."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _notice(query: Mapping[str, str]) -> tuple[str, str] | None:
    """The message key and its subject of what the last change did, if the query names one."""
    notice = query.get("notice", "")
    if notice not in NOTICES:
        return None
    return f"supervisor.notice_{notice}", query.get("subject", "")[:NAME_LEN]


def _done(path: str, notice: str, subject: str) -> web.Response:
    return _see_other(f"{path}?{urlencode({'notice': notice, 'subject': subject})}")


async def _form(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (a repeated name keeps its first value)."""
    data = await request.post()
    return {k: v for k, v in reversed(list(data.items())) if isinstance(v, str)}


class Supervisor:
    def __init__(
        self, db: Callable[[], Database], clock: Clock, hub: Hub, templates: Templates
    ) -> None:
        self._db = db
        self._clock = clock
        self._hub = hub
        self._templates = templates

    def _now(self) -> datetime:
        return utc_from_epoch(self._clock.now())

    def _actor(self, request: web.Request) -> Actor:
        name = request[PRINCIPAL_KEY].name
        assert name is not None  # the table lets only signed-in supervisors here
        return Actor.account(name)

    def _render(self, request: web.Request, template: str, **context: Any) -> web.Response:
        return self._templates.render(request, template, **context)

    async def home(self, request: web.Request) -> web.Response:
        return _see_other("/supervisor/consultations")

    # -- consultations ---------------------------------------------------------------------------

    async def consultations(self, request: web.Request) -> web.Response:
        parsed = parse_filters(request.query)
        db = self._db()
        rows: list[records.ConsultationSummary] = []
        total = 0
        if not parsed.errors:
            total = await records.count_consultations(db, parsed.filters)
            rows = await records.list_consultations(
                db, parsed.filters, limit=PAGE_SIZE, offset=(parsed.page - 1) * PAGE_SIZE
            )
        professionals = [
            a for a in await accounts.list_accounts(db) if a.role is not AccountRole.SUPERVISOR
        ]
        kept = {k: v for k, v in parsed.form.items() if v}
        pages = max(1, -(-total // PAGE_SIZE))
        return self._render(
            request,
            "supervisor_consultations.html",
            section="consultations",
            rows=rows,
            total=total,
            form=parsed.form,
            errors=parsed.errors,
            topics=TOPICS,
            outcomes=[o.value for o in Outcome],
            professionals=professionals,
            page=parsed.page,
            pages=pages,
            prev_url=_page_url(kept, parsed.page - 1) if parsed.page > 1 else None,
            next_url=_page_url(kept, parsed.page + 1) if parsed.page < pages else None,
        )

    async def record(self, request: web.Request) -> web.Response:
        consultation_id = request.match_info["consultation_id"]
        try:
            view = await records.read_record(
                self._db(), consultation_id, reader=self._actor(request), at=self._now()
            )
        except (NotFound, InvalidValue):
            return self._templates.message(
                request, "supervisor.record_title", "supervisor.record_missing", status=404
            )
        events = [(e, event_label(e), event_detail(e)) for e in view.events]
        return self._render(
            request, "supervisor_record.html", section="consultations", r=view, events=events
        )

    # -- accounts --------------------------------------------------------------------------------

    async def accounts_page(self, request: web.Request) -> web.Response:
        return await self._accounts(request)

    async def _accounts(
        self,
        request: web.Request,
        *,
        error: FormError | None = None,
        form: Mapping[str, Any] | None = None,
    ) -> web.Response:
        online = await presence(self._hub)
        rows = [
            (
                a,
                None
                if a.role is AccountRole.SUPERVISOR
                else online.get((Role(a.role.value), a.username)),
            )
            for a in await accounts.list_accounts(self._db())
        ]
        return self._templates.render(
            request,
            "supervisor_accounts.html",
            status=400 if error else 200,
            section="accounts",
            rows=rows,
            me=request[PRINCIPAL_KEY].name,
            notice=_notice(request.query) if error is None else None,
            error=error,
            form=form
            or {
                "username": "",
                "display_name": "",
                "role": "lawyer",
                "languages": ["zh"],
                "topics": [],
            },
            roles=ACCOUNT_ROLES,
            topics=TOPICS,
            languages=[lang.value for lang in Language],
        )

    async def add_account(self, request: web.Request) -> web.Response:
        data = await request.post()
        form: dict[str, Any] = {
            "username": str(data.get("username", "")).strip(),
            "display_name": str(data.get("display_name", "")).strip(),
            "role": str(data.get("role", "")),
            "topics": [str(t) for t in data.getall("topics", [])],
            "languages": [str(lang) for lang in data.getall("languages", [])],
        }
        password = str(data.get("password", ""))
        try:
            role = self._check_account(form, password)
            professional = role is not AccountRole.SUPERVISOR
            await accounts.create_account(
                self._db(),
                username=form["username"],
                role=role,
                display_name=form["display_name"],
                password=password,
                topics=form["topics"] if professional else (),
                languages=form["languages"] if professional else (),
                actor=self._actor(request),
                at=self._now(),
            )
        except FormError as exc:
            return await self._accounts(request, error=exc, form=form)
        except AlreadyExists:
            return await self._accounts(
                request, error=FormError("supervisor.username_taken"), form=form
            )
        except InvalidValue:
            return await self._accounts(
                request, error=FormError("supervisor.account_invalid"), form=form
            )
        log.info("account %s (%s) created", form["username"], role)
        return _done("/supervisor/accounts", "account_created", form["username"])

    @staticmethod
    def _check_account(form: Mapping[str, Any], password: str) -> AccountRole:
        """What the storage layer would refuse, said in words the supervisor reads."""
        if not IDENTITY_RE.fullmatch(form["username"]):
            raise FormError("supervisor.bad_username")
        if not 1 <= len(form["display_name"]) <= NAME_LEN:
            raise FormError("supervisor.bad_display_name", n=NAME_LEN)
        if form["role"] not in ACCOUNT_ROLES:
            raise FormError("supervisor.bad_role")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise FormError("supervisor.bad_password", n=MIN_PASSWORD)
        role = AccountRole(form["role"])
        if role is not AccountRole.SUPERVISOR:
            if any(t not in TOPIC_SLUGS for t in form["topics"]):
                raise FormError("supervisor.account_invalid")
            languages = form["languages"]
            if not languages or any(lang not in ("zh", "mn") for lang in languages):
                raise FormError("supervisor.bad_languages")
        return role

    async def disable_account(self, request: web.Request) -> web.Response:
        username = request.match_info["username"]
        if username == request[PRINCIPAL_KEY].name:
            return await self._accounts(request, error=FormError("supervisor.not_yourself"))
        db = self._db()
        account = await accounts.get_account(db, username)
        if account is None:
            return await self._accounts(request, error=FormError("supervisor.no_such_account"))
        await accounts.disable_account(db, username, actor=self._actor(request), at=self._now())
        # Its sessions are revoked with it (every request reads the database); its websockets
        # and its call end now.
        if account.role is not AccountRole.SUPERVISOR:
            await self._hub.revoke(Role(account.role.value), username)
        log.warning("account %s disabled by %s", username, request[PRINCIPAL_KEY].name)
        return _done("/supervisor/accounts", "account_disabled", username)

    async def enable_account(self, request: web.Request) -> web.Response:
        username = request.match_info["username"]
        try:
            await accounts.enable_account(
                self._db(), username, actor=self._actor(request), at=self._now()
            )
        except NotFound:
            return await self._accounts(request, error=FormError("supervisor.no_such_account"))
        return _done("/supervisor/accounts", "account_enabled", username)

    # -- terminals -------------------------------------------------------------------------------

    async def terminals_page(self, request: web.Request) -> web.Response:
        return await self._terminals(request)

    async def _terminals(
        self,
        request: web.Request,
        *,
        error: FormError | None = None,
        form: Mapping[str, str] | None = None,
        failed_for: str | None = None,
    ) -> web.Response:
        online = await presence(self._hub)
        rows = [
            (t, online.get((Role.VILLAGE, t.identity)))
            for t in await accounts.list_terminals(self._db())
        ]
        return self._templates.render(
            request,
            "supervisor_terminals.html",
            status=400 if error else 200,
            section="terminals",
            rows=rows,
            notice=_notice(request.query) if error is None else None,
            error=error,
            failed_for=failed_for,
            form=form or {"identity": "", "village": ""},
        )

    async def add_terminal(self, request: web.Request) -> web.Response:
        form = await _form(request)
        identity = form.get("identity", "").strip()
        village = form.get("village", "").strip()
        kept = {"identity": identity, "village": village}
        if not IDENTITY_RE.fullmatch(identity):
            return await self._terminals(
                request, error=FormError("supervisor.bad_terminal_identity"), form=kept
            )
        if not 1 <= len(village) <= NAME_LEN:
            return await self._terminals(
                request, error=FormError("supervisor.bad_village", n=NAME_LEN), form=kept
            )
        try:
            await accounts.add_terminal(
                self._db(), identity, village, actor=self._actor(request), at=self._now()
            )
        except AlreadyExists:
            return await self._terminals(
                request, error=FormError("supervisor.terminal_taken"), form=kept
            )
        return _done("/supervisor/terminals", "terminal_added", identity)

    async def enrol_terminal(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        code = (await _form(request)).get("code", "")[:MAX_FILTER_CHARS]
        try:
            await accounts.confirm_enrolment(
                self._db(), code, identity, actor=self._actor(request), at=self._now()
            )
        except EnrolmentError as exc:
            key = ENROLMENT_ERRORS.get(exc.code, "supervisor.enrol_unknown")
            return await self._terminals(request, error=FormError(key), failed_for=identity)
        except NotFound:
            return await self._terminals(request, error=FormError("supervisor.no_such_terminal"))
        log.info("terminal %s: enrolment confirmed by %s", identity, request[PRINCIPAL_KEY].name)
        return _done("/supervisor/terminals", "terminal_enrolled", identity)

    async def revoke_terminal(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        try:
            await accounts.revoke_terminal(
                self._db(), identity, actor=self._actor(request), at=self._now()
            )
        except NotFound:
            return await self._terminals(request, error=FormError("supervisor.no_such_terminal"))
        await self._hub.revoke(Role.VILLAGE, identity)
        log.warning("terminal %s revoked by %s", identity, request[PRINCIPAL_KEY].name)
        return _done("/supervisor/terminals", "terminal_revoked", identity)

    async def presence_api(self, request: web.Request) -> web.Response:
        """Who is connected now, for the pages' live status (polled)."""
        online = await presence(self._hub)
        return web.json_response(
            {
                "terminals": {
                    identity: p.status
                    for (role, identity), p in online.items()
                    if role is Role.VILLAGE
                },
                "accounts": {
                    identity: p.status
                    for (role, identity), p in online.items()
                    if role is not Role.VILLAGE
                },
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- the audit log ---------------------------------------------------------------------------

    async def audit_page(self, request: web.Request) -> web.Response:
        actor = request.query.get("actor", "").strip()[:MAX_FILTER_CHARS]
        action_text = request.query.get("action", "").strip()[:MAX_FILTER_CHARS]
        consultation = request.query.get("consultation", "").strip()[:MAX_FILTER_CHARS]
        errors = []
        action = None
        if action_text:
            try:
                action = AuditAction(action_text)
            except ValueError:
                errors.append("supervisor.filter_bad_action")
        entries = (
            []
            if errors
            else await audit.entries(
                self._db(),
                actor=actor or None,
                action=action,
                consultation_id=consultation or None,
                limit=200,
            )
        )
        return self._render(
            request,
            "supervisor_audit.html",
            section="audit",
            entries=entries,
            errors=errors,
            form={"actor": actor, "action": action_text, "consultation": consultation},
            actions=[a.value for a in AuditAction],
        )


def _page_url(kept: Mapping[str, str], page: int) -> str:
    return "/supervisor/consultations?" + urlencode({**kept, "page": str(page)})


SUPERVISOR_KEY = web.AppKey("supervisor", Supervisor)


def setup_supervisor(app: web.Application) -> None:
    # server.app imports this module, so its keys are looked up when the app is being built.
    from server.app import HUB_KEY, database

    hub = app[HUB_KEY]
    s = Supervisor(lambda: database(app), hub.clock, hub, app[TEMPLATES_KEY])
    app[SUPERVISOR_KEY] = s
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/supervisor", s.home, name="supervisor")
    add_get("/supervisor/consultations", s.consultations, name="supervisor_consultations")
    add_get("/supervisor/consultations/{consultation_id}", s.record, name="supervisor_record")
    add_get("/supervisor/accounts", s.accounts_page, name="supervisor_accounts")
    add_post("/supervisor/accounts", s.add_account)
    add_post("/supervisor/accounts/{username}/disable", s.disable_account)
    add_post("/supervisor/accounts/{username}/enable", s.enable_account)
    add_get("/supervisor/terminals", s.terminals_page, name="supervisor_terminals")
    add_post("/supervisor/terminals", s.add_terminal)
    add_post("/supervisor/terminals/{identity}/enrol", s.enrol_terminal)
    add_post("/supervisor/terminals/{identity}/revoke", s.revoke_terminal)
    add_get("/supervisor/audit", s.audit_page, name="supervisor_audit")
    add_get("/api/supervisor/presence", s.presence_api)
