"""Fixtures: one advisor for the whole session (building the index takes seconds of CPU), and
an aiohttp client on an application with only the advisor's routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from advisor.advice import Advisor
from advisor.ratelimit import RateLimit
from advisor.web import setup_advisor

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_LAWS = REPO_ROOT.parent / "shared" / "laws"
# Every test that touches the session advisor may be the one that builds it.
BUILD_TIMEOUT = 240


class ManualClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return Advisor.build()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    advisor: Advisor,
    clock: ManualClock,
) -> ClientFactory:
    async def make(
        rate_limit: RateLimit | None = None, build: Callable[[], Advisor] | None = None
    ) -> TestClient[web.Request, web.Application]:
        """A client; with `build`, the app builds its advisor with it in the background."""
        app = web.Application()
        setup_advisor(
            app,
            advisor=advisor if build is None else None,
            rate_limit=rate_limit or RateLimit(rate=1000.0, burst=1000.0),
            clock=clock,
            build=build or Advisor.build,
        )
        return await aiohttp_client(app)

    return make
