"""Fixtures: a real Lawroom server on a free loopback port, with a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from room.ice import use_host_addresses
from server.app import HUB_KEY, init_app
from server.settings import Settings, load
from signaling.clock import ManualClock
from signaling.hub import Hub


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> None:
    """aiortc peers in tests offer only 127.0.0.1: no media leaves the machine."""
    use_host_addresses(["127.0.0.1"])


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
    return replace(load({}, env={}), demo=True, **overrides)


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Any]]:
    """Start a demo-mode server; keyword arguments override settings."""
    servers: list[TestServer] = []

    async def start(**overrides: Any) -> RunningServer:
        clock = ManualClock()
        settings = test_settings(**overrides)
        server = TestServer(init_app(settings, clock=clock), host="127.0.0.1")
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
