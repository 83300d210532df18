"""Queue statistics as a contact centre keeps them: live per queue (kind × topic × language),
and per day (Beijing time) from the records. Served as JSON at /api/stats."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from room.consultation import Consultation
from server.db import records
from server.db.engine import Database
from server.timefmt import SHOWN_ZONE, duration
from signaling.matching import KIND_ROLE
from signaling.messages import CallState, EndReason, Kind, Language
from signaling.state.base import SessionRecord, SharedState

# A day's records are read in pages of this many.
PAGE = 500
# Service level: the share of requests answered within this many seconds.
SERVICE_LEVEL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class QueueStats:
    kind: str
    topic: str
    language: str
    waiting: int
    longest_wait_seconds: float
    professionals_available: int

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "topic": self.topic,
            "language": self.language,
            "waiting": self.waiting,
            "longest_wait_seconds": round(self.longest_wait_seconds),
            "longest_wait": duration(self.longest_wait_seconds),
            "professionals_available": self.professionals_available,
        }


def _qualified(pro: SessionRecord, kind: str, topic: str, language: str) -> bool:
    return (
        pro.role is KIND_ROLE[Kind(kind)]
        and (not pro.topics or topic in pro.topics)
        and (not pro.languages or Language(language) in pro.languages)
    )


def live_queues(
    waiting: Iterable[Consultation], sessions: Iterable[SessionRecord], now: float
) -> list[QueueStats]:
    """One row per queue that has someone waiting or someone available for it."""
    available = [
        s
        for s in sessions
        if s.role.value != "village"
        and s.on_duty
        and s.connected
        and s.consultation_id is None
        and s.wrap_up_until <= now
    ]
    queues: dict[tuple[str, str, str], list[Consultation]] = {}
    for c in waiting:
        if c.state is CallState.WAITING:
            queues.setdefault((c.kind.value, c.topic, c.language.value), []).append(c)
    return [
        QueueStats(
            kind,
            topic,
            language,
            len(items),
            max(now - c.requested_at for c in items),
            sum(1 for p in available if _qualified(p, kind, topic, language)),
        )
        for (kind, topic, language), items in sorted(queues.items())
    ]


async def live(state: SharedState, now: float) -> list[QueueStats]:
    waiting = [c for cid in await state.waiting() if (c := await state.get_consultation(cid))]
    sessions = [s async for s in state.sessions()]
    return live_queues(waiting, sessions, now)


@dataclass(frozen=True, slots=True)
class DayStats:
    day: date
    requested: int
    answered: int
    abandoned: int
    average_wait_seconds: float | None
    service_level: float | None  # share answered within the target

    def as_json(self, target: float) -> dict[str, Any]:
        wait = self.average_wait_seconds
        return {
            "day": self.day.isoformat(),
            "requested": self.requested,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "average_wait_seconds": None if wait is None else round(wait),
            "average_wait": None if wait is None else duration(wait),
            "service_level": self.service_level,
            "service_level_target_seconds": target,
        }


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A Beijing-time day as the UTC interval the records are stored in."""
    start = datetime.combine(day, time(), tzinfo=SHOWN_ZONE)
    return start, start + timedelta(days=1)


async def daily(db: Database, day: date, target: float) -> DayStats:
    start, end = day_bounds(day)
    window = records.ConsultationFilter(requested_from=start, requested_before=end)
    rows: list[records.ConsultationSummary] = []
    while batch := await records.list_consultations(db, window, limit=PAGE, offset=len(rows)):
        rows.extend(batch)
        if len(batch) < PAGE:
            break
    waits = [
        (r.answered_at - r.requested_at).total_seconds() for r in rows if r.answered_at is not None
    ]
    abandoned = sum(
        1
        for r in rows
        if r.answered_at is None and r.end_reason in (EndReason.ABANDONED, EndReason.CANCELLED)
    )
    return DayStats(
        day,
        len(rows),
        len(waits),
        abandoned,
        sum(waits) / len(waits) if waits else None,
        round(sum(1 for w in waits if w <= target) / len(waits), 3) if waits else None,
    )


async def stats_handler(request: web.Request) -> web.Response:
    """GET /api/stats[?day=YYYY-MM-DD]: the live queues and one day's figures (today in
    Beijing by default)."""
    from server.app import HUB_KEY, STATE_KEY, database

    hub = request.app[HUB_KEY]
    now = hub.clock.now()
    raw_day = request.query.get("day")
    try:
        day = (
            date.fromisoformat(raw_day)
            if raw_day
            else datetime.fromtimestamp(now, tz=SHOWN_ZONE).date()
        )
    except ValueError:
        return web.json_response(
            {"error": {"code": "invalid_format", "message": "日期格式应为 YYYY-MM-DD"}}, status=400
        )
    target = SERVICE_LEVEL_SECONDS
    queues = await live(request.app[STATE_KEY], now)
    today = await daily(database(request.app), day, target)
    return web.json_response(
        {
            "queues": [q.as_json() for q in queues],
            "day": today.as_json(target),
        },
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


def setup_stats(app: web.Application) -> None:
    app.router.add_get("/api/stats", stats_handler, name="stats")
