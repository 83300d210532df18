"""Times are stored in UTC and shown as people in the bureau read them: Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHOWN_ZONE = ZoneInfo("Asia/Shanghai")


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def shown(ts: float) -> str:
    """`2026-11-29 12:09:53` in Beijing time."""
    return utc(ts).astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """A wait or a call length as people say it: `45 秒`, `3 分 05 秒`, `1 小时 02 分`."""
    total = round(seconds)
    if total < 60:
        return f"{total} 秒"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} 分 {secs:02d} 秒"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes:02d} 分"
