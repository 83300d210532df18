"""A bare websocket speaking raw JSON, for tests of what the server does with any input."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from server.app import STATE_KEY
from tests.conftest import RunningServer

DEMO_TOKENS = {
    "village-1": ("village", "demo-village-1"),
    "village-2": ("village", "demo-village-2"),
    "lawyer-1": ("lawyer", "demo-lawyer-1"),
    "lawyer-2": ("lawyer", "demo-lawyer-2"),
    "mediator-1": ("mediator", "demo-mediator-1"),
}


class Wire:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws

    @classmethod
    async def open(cls, server: RunningServer, **kwargs: Any) -> Wire:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(server.url, **kwargs)
        return cls(http, ws)

    @classmethod
    async def signed_in(cls, server: RunningServer, identity: str) -> Wire:
        wire = await cls.open(server)
        role, token = DEMO_TOKENS[identity]
        await wire.send({"type": "hello", "role": role, "identity": identity, "token": token})
        welcome = await wire.next()
        assert welcome["type"] == "welcome", welcome
        wire.welcome = welcome
        return wire

    welcome: dict[str, Any]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        frame = await self.ws.receive(timeout=timeout)
        assert frame.type is aiohttp.WSMsgType.TEXT, (frame.type, frame.data, frame.extra)
        result: dict[str, Any] = json.loads(frame.data)
        return result

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            msg = await self.next(timeout)
            if msg["type"] == kind:
                return msg

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send, and return the error (or pong) that answers it."""
        await self.send(message)
        return await self.next()

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def snapshot(server: RunningServer) -> tuple[Any, ...]:
    """Everything the shared state holds, to show a refused message changed nothing."""
    state = server.server.app[STATE_KEY]
    sessions = sorted(
        [s.model_dump() async for s in state.sessions()], key=lambda s: s["session_id"]
    )
    waiting = await state.waiting()
    consultations = []
    for s in sessions:
        if s["consultation_id"]:
            c = await state.get_consultation(s["consultation_id"])
            consultations.append(c.model_dump() if c else None)
    return (sessions, waiting, consultations)
