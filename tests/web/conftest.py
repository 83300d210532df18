"""Fixtures for the web side: an HTTP client that keeps cookies like a browser, signs in through
the form and carries the CSRF token of whatever page it last read."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from server.app import database
from server.auth import SESSION_COOKIE
from server.db.engine import Database
from server.demo_seed import demo_password
from tests.conftest import RunningServer
from tests.wire import Wire

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
CONFIG_RE = re.compile(r'<script type="application/json" id="lawroom-config">(.*?)</script>', re.S)


@dataclass
class Reply:
    status: int
    text: str
    headers: CIMultiDictProxy[str]

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def json(self) -> Any:
        return json.loads(self.text)

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match is not None, self.text[:500]
        return match.group(1)

    def config(self) -> dict[str, Any]:
        match = CONFIG_RE.search(self.text)
        assert match is not None
        config: dict[str, Any] = json.loads(match.group(1))
        return config


class WebClient:
    """One browser, as far as HTTP goes: its cookies, and headers it always sends (an address
    claimed through a trusted proxy, say). Redirects are not followed: tests look at them."""

    def __init__(self, server: RunningServer, headers: dict[str, str] | None = None) -> None:
        self.server = server
        # unsafe: the test server is an IP address, whose cookies aiohttp otherwise drops.
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers or {}
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        kwargs.setdefault("allow_redirects", False)
        async with self.http.request(method, self.server.http_url + path, **kwargs) as response:
            return Reply(response.status, await response.text(), response.headers)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None
    ) -> Reply:
        """A form post; the CSRF token of the sign-in page unless one is given ('' for none)."""
        form = dict(data or {})
        if csrf is None:
            csrf = await self.csrf()
        if csrf:
            form["csrf_token"] = csrf
        return await self.request("POST", path, data=form)

    async def post_json(self, path: str, body: Any, *, csrf: str | None = None) -> Reply:
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        return await self.request("POST", path, json=body, headers=headers)

    async def csrf(self, page: str = "/logout") -> str:
        """The CSRF token this browser's forms carry (read off a page, as a browser would)."""
        reply = await self.get(page)
        if reply.status == 303:  # /logout when not signed in: the sign-in page has one too
            reply = await self.get("/login")
        return reply.csrf()

    async def sign_in(self, username: str, password: str | None = None, next: str = "") -> Reply:
        login = await self.get("/login")
        return await self.post(
            "/login",
            {
                "username": username,
                "password": demo_password(username) if password is None else password,
                "next": next,
            },
            csrf=login.csrf() if login.status == 200 else await self.csrf(),
        )

    @property
    def cookie(self) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == SESSION_COOKIE:
                return cookie.value
        return None

    async def close(self) -> None:
        await self.http.close()


MakeClient = Callable[..., WebClient]


@pytest.fixture
async def web() -> AsyncIterator[MakeClient]:
    """Make browsers for a server; all closed at the end."""
    made: list[WebClient] = []

    def make(server: RunningServer, headers: dict[str, str] | None = None) -> WebClient:
        client = WebClient(server, headers)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


def db_of(server: RunningServer) -> Database:
    return database(server.server.app)


async def in_call(
    server: RunningServer, village_id: str = "village-1", lawyer_id: str = "lawyer-1"
) -> tuple[Wire, Wire, str]:
    """A terminal in a call with a professional, signaling only: no media is needed to be in
    the room. Returns both websockets and the consultation's id."""
    village = await Wire.signed_in(server, village_id)
    lawyer = await Wire.signed_in(server, lawyer_id)
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await village.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    offer = await lawyer.next_of("consultation_offer")
    cid = str(offer["consultation_id"])
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await lawyer.next_of("room_joined")
    await village.next_of("room_joined")
    return village, lawyer, cid
