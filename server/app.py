"""The application factory: routes, shared state in AppKeys, background work, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from advisor.advice import Advisor
from advisor.web import setup_advisor
from server import revocations
from server.auth import AUTH_KEY, setup_auth
from server.authz import message_permissions
from server.db import records
from server.db.directory import DbDirectory
from server.db.engine import Database, open_database
from server.db.models import utcnow
from server.demo_seed import seed_demo
from server.enrol import setup_enrol
from server.journal import DbJournal
from server.pages import setup_pages
from server.settings import Settings
from server.stats import setup_stats
from server.supervisor import setup_supervisor
from signaling.clock import Clock, SystemClock
from signaling.connection import ConnectionSettings, websocket_handler
from signaling.hub import Hub, HubSettings
from signaling.identity import Directory, StaticDirectory
from signaling.messages import IceServer, json_schema
from signaling.state import MemoryState, SharedState
from signaling.state.redis import RedisState

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("settings", Settings)
STATE_KEY = web.AppKey("state", SharedState)
HUB_KEY = web.AppKey("hub", Hub)
CONNECTION_SETTINGS_KEY = web.AppKey("connection_settings", ConnectionSettings)


@dataclass
class Storage:
    """The database, opened at start-up (an app's keys cannot be set once it has started)."""

    directory_override: Directory | None
    db: Database | None = None


STORAGE_KEY = web.AppKey("storage", Storage)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def init_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    directory: Directory | None = None,
    state: SharedState | None = None,
    advisor: Advisor | None = None,
) -> web.Application:
    """Build the application. Tests pass a ManualClock; accounts will pass their directory."""
    app = web.Application(middlewares=[forwarded_middleware(settings.trusted_proxy)])
    app[SETTINGS_KEY] = settings
    app[STATE_KEY] = state or (
        RedisState.from_url(settings.redis) if settings.redis else MemoryState()
    )
    app[STORAGE_KEY] = Storage(directory)
    app[HUB_KEY] = Hub(
        app[STATE_KEY],
        clock or SystemClock(),
        # Nobody signs in until the database is open (open_storage hands in its directory).
        directory or StaticDirectory(()),
        HubSettings(
            grace_seconds=settings.grace_seconds,
            offer_timeout=settings.offer_timeout,
            wrap_up_seconds=settings.wrap_up_seconds,
            escalate_after=settings.escalate_after,
            callback_tries=settings.callback_tries,
            callback_retry_seconds=settings.callback_retry_seconds,
            ice_servers=tuple(IceServer(urls=[u]) for u in settings.ice_servers),
        ),
        message_permissions(),
    )
    app[CONNECTION_SETTINGS_KEY] = ConnectionSettings(
        hello_timeout=settings.hello_timeout,
        rate_per_second=settings.rate_per_second,
        rate_burst=settings.rate_burst,
        allowed_origins=settings.allowed_origins,
        strict=settings.strict_protocol,
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/protocol/schema.json", schema)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, name="static")
    setup_pages(app)
    setup_auth(app)
    setup_enrol(app)
    setup_supervisor(app)
    setup_stats(app)
    # Building the advisor's index takes seconds of CPU: tests hand in one built once.
    setup_advisor(app, advisor=advisor)
    app.cleanup_ctx.append(open_storage)
    app.cleanup_ctx.append(run_timers)
    app.on_shutdown.append(close_connections)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def schema(request: web.Request) -> web.Response:
    return web.json_response(json_schema(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def websocket(request: web.Request) -> web.StreamResponse:
    return await websocket_handler(
        request,
        request.app[HUB_KEY],
        request.app[CONNECTION_SETTINGS_KEY],
        request.app[AUTH_KEY].request_identity,
    )


async def open_storage(app: web.Application) -> AsyncIterator[None]:
    """The database: open (and, embedded, upgraded), interrupted calls closed, demo seeded."""
    settings = app[SETTINGS_KEY]
    db = await open_database(settings.database, settings.data_dir)
    storage = app[STORAGE_KEY]
    storage.db = db
    closed = await records.close_interrupted(db, utcnow())
    if closed:
        log.warning("%d consultations were open when the server stopped; marked ended", closed)
    if settings.demo:
        await seed_demo(db)
    app[HUB_KEY].use_storage(storage.directory_override or DbDirectory(db), DbJournal(db))
    watcher = asyncio.create_task(revocations.watch(db, app[HUB_KEY]), name="revocations")
    yield
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    await db.close()


def database(app: web.Application) -> Database:
    """The open database (after start-up)."""
    db = app[STORAGE_KEY].db
    if db is None:
        raise RuntimeError("the database is opened at start-up; the app has not started")
    return db


async def run_timers(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    if isinstance(state, RedisState):
        await state.start()  # subscribed before any websocket attaches
    task = asyncio.create_task(app[HUB_KEY].timers.run(), name="timers")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[STATE_KEY].close()


async def close_connections(app: web.Application) -> None:
    await app[HUB_KEY].close_all()


def forwarded_middleware(trusted: tuple[str, ...]) -> Middleware:
    """Believe X-Forwarded-* only from a configured proxy: the scheme decides the Origin check
    and the remote address goes into the logs."""
    trusted_ips = {ip_address(t) for t in trusted}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if trusted_ips and peer and ip_address(peer[0]) in trusted_ips:
            changes: dict[str, str] = {}
            if proto := request.headers.get("X-Forwarded-Proto"):
                changes["scheme"] = proto.split(",")[0].strip()
            if host := request.headers.get("X-Forwarded-Host"):
                changes["host"] = host.split(",")[0].strip()
            if fwd := request.headers.get("X-Forwarded-For"):
                changes["remote"] = fwd.split(",")[0].strip()
            if changes:
                request = request.clone(**changes)  # type: ignore[arg-type]
        response: web.StreamResponse = await handler(request)
        return response

    return middleware
