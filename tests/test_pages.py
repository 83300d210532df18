"""The pages as HTTP serves them: the index, the kiosk (a device token it keeps, or enrolment;
`--demo`'s `?identity=`), the desk (only for a signed-in professional), static files."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from advisor.advice import Advisor
from server.app import init_app
from server.i18n import CATALOGUE
from server.settings import load


async def _get(
    server: Any, path: str, http: aiohttp.ClientSession | None = None
) -> tuple[int, str, CIMultiDictProxy[str]]:
    async with aiohttp.ClientSession() as own:
        session = http or own
        async with session.get(server.http_url + path, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers


def _config(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="lawroom-config">(.*?)</script>', html, re.S
    )
    assert match is not None
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.mark.timeout(30)
async def test_index_links_the_pages(lawroom: Any) -> None:
    status, html, _ = await _get(lawroom, "/")
    assert status == 200
    for href in ('href="/village"', 'href="/lawyer"', 'href="/supervisor"'):
        assert href in html
    assert "/village?identity=village-2" in html
    assert "演示模式" in html and "lawyer-1-password" in html


@pytest.mark.timeout(30)
async def test_village_page_holds_no_credential_of_its_own(lawroom: Any) -> None:
    status, html, headers = await _get(lawroom, "/village")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert '<script type="module" src="/static/village.js">' in html
    config = _config(html)
    assert config["role"] == "village" and config["demo_device"] is None
    assert "token" not in config and "identity" not in config
    assert len(config["csrf_token"]) == 64  # for its enrolment calls
    assert config["server_now"] == lawroom.clock.now()
    assert set(config["catalogue"]) == {"zh", "mn"}
    assert config["catalogue"]["mn"]["village.call"] == CATALOGUE["mn"]["village.call"]
    assert (
        config["catalogue"]["mn"]["village.enrol_title"] == CATALOGUE["mn"]["village.enrol_title"]
    )
    assert not any(k.startswith(("lawyer.", "supervisor.")) for k in config["catalogue"]["zh"])
    assert len(config["topics"]) == 15
    assert "开始视频咨询" in html  # rendered in Chinese before any script runs
    assert "HttpOnly" in headers["Set-Cookie"]


@pytest.mark.timeout(30)
async def test_demo_identity_hands_the_kiosk_a_demo_terminal(lawroom: Any) -> None:
    _, html, _ = await _get(lawroom, "/village?identity=village-2")
    assert _config(html)["demo_device"] == {
        "identity": "village-2",
        "village": "乌兰村法律服务室",
        "token": "demo-village-2",
    }
    status, html, _ = await _get(lawroom, "/village?identity=lawyer-1")
    assert status == 404
    assert "没有这个演示账号" in html and "village-1" in html
    assert "lawroom-config" not in html


@pytest.mark.timeout(30)
async def test_the_desk_is_for_signed_in_professionals(lawroom: Any) -> None:
    status, _, headers = await _get(lawroom, "/lawyer?camera=640x360")
    assert status == 303
    assert headers["Location"] == "/login?next=%2Flawyer%3Fcamera%3D640x360"
    status, html, _ = await _get(lawroom, headers["Location"])
    assert status == 200 and 'name="next" value="/lawyer?camera=640x360"' in html

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        _, login, _ = await _get(lawroom, "/login", http)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert csrf is not None
        form = {"username": "mediator-1", "password": "mediator-1-password"}
        async with http.post(
            lawroom.http_url + "/login",
            data={**form, "csrf_token": csrf.group(1), "next": "/lawyer"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
        status, html, _ = await _get(lawroom, "/lawyer", http)
    assert status == 200
    config = _config(html)
    assert (config["role"], config["identity"]) == ("mediator", "mediator-1")
    assert "token" not in config  # the websocket is signed in by the session cookie
    assert "王调解员" in html and 'id="notes"' in html
    assert '<script type="module" src="/static/lawyer.js">' in html


@pytest.mark.timeout(30)
async def test_without_demo_there_are_no_demo_identities(advisor: Advisor, tmp_path: Path) -> None:
    # conftest's start_server always sets demo=True: this one is built by hand.
    server = TestServer(
        init_app(replace(load({}, env={}), demo=False, data_dir=tmp_path), advisor=advisor),
        host="127.0.0.1",
    )
    await server.start_server()
    try:
        running = SimpleNamespace(http_url=str(server.make_url("/")).rstrip("/"))
        status, html, _ = await _get(running, "/village?identity=village-1")
        assert status == 200
        assert _config(html)["demo_device"] is None and "demo-" not in html
        status, _, headers = await _get(running, "/lawyer")
        assert status == 303 and headers["Location"].startswith("/login")
        _, html, _ = await _get(running, "/")
        assert "演示模式" not in html and "identity=" not in html
    finally:
        await server.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "name",
    [
        "protocol.js",
        "signaling.js",
        "call.js",
        "ui.js",
        "village.js",
        "lawyer.js",
        "record.js",
        "enrol.js",
        "supervisor.js",
        "style.css",
    ],
)
async def test_static_files_are_served(lawroom: Any, name: str) -> None:
    status, body, headers = await _get(lawroom, f"/static/{name}")
    assert status == 200 and body
    kind = "text/css" if name.endswith(".css") else "javascript"
    assert kind in headers["Content-Type"]
