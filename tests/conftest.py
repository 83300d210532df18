"""Fixtures: a real Lawroom server on a free loopback port, with a hand-driven clock."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from advisor.advice import Advisor
from room.ice import use_host_addresses
from server.app import HUB_KEY, init_app
from server.db.engine import open_database
from server.demo_seed import seed_demo
from server.settings import Settings, load
from signaling.clock import ManualClock
from signaling.hub import Hub
from tests.redis_server import running_redis


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> None:
    """aiortc peers in tests offer only 127.0.0.1: no media leaves the machine."""
    use_host_addresses(["127.0.0.1"])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test session's own; tests needing it skip if it is not installed."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@dataclass
class RunningServer:
    server: TestServer
    clock: ManualClock
    settings: Settings

    @property
    def url(self) -> str:
        return str(self.server.make_url("/ws")).replace("http://", "ws://")

    @property
    def http_url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    @property
    def hub(self) -> Hub:
        return self.server.app[HUB_KEY]


def test_settings(**overrides: Any) -> Settings:
    return replace(load({}, env={}), **{"demo": True, **overrides})


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the demo accounts already in its database: hashing their passwords
    (argon2) for every test server would cost seconds."""
    path = tmp_path_factory.mktemp("seeded")

    async def seed() -> None:
        db = await open_database("", path)
        await seed_demo(db)
        await db.close()

    asyncio.run(seed())
    return path


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    """The advisor's index, built once: every test server shares it."""
    return Advisor.build()


@pytest.fixture
async def start_server(
    seeded_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, advisor: Advisor
) -> AsyncIterator[Callable[..., Any]]:
    """Start a demo-mode server with its own copy of the seeded database; keyword arguments
    override settings."""
    servers: list[TestServer] = []

    async def start(**overrides: Any) -> RunningServer:
        clock = ManualClock()
        data_dir = tmp_path_factory.mktemp("data")
        shutil.copytree(seeded_data_dir, data_dir, dirs_exist_ok=True)
        overrides.setdefault("data_dir", data_dir)
        settings = test_settings(**overrides)
        server = TestServer(init_app(settings, clock=clock, advisor=advisor), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return RunningServer(server, clock, settings)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def lawroom(start_server: Callable[..., Any]) -> RunningServer:
    server: RunningServer = await start_server()
    return server
