"""The pages as HTTP serves them: index, village, lawyer, demo identities, no accounts."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from server.app import init_app
from server.i18n import CATALOGUE
from server.settings import load


async def _get(server: Any, path: str) -> tuple[int, str, CIMultiDictProxy[str]]:
    async with aiohttp.ClientSession() as http, http.get(server.http_url + path) as response:
        return response.status, await response.text(), response.headers


def _config(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="lawroom-config">(.*?)</script>', html, re.S
    )
    assert match is not None
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.mark.timeout(30)
async def test_index_links_both_pages(lawroom: Any) -> None:
    status, html, _ = await _get(lawroom, "/")
    assert status == 200
    assert 'href="/village"' in html and 'href="/lawyer"' in html
    assert "/village?identity=village-2" in html and "/lawyer?identity=mediator-1" in html
    assert "演示模式" in html


@pytest.mark.timeout(30)
async def test_village_page_signs_in_as_a_demo_terminal(lawroom: Any) -> None:
    status, html, headers = await _get(lawroom, "/village")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert '<script type="module" src="/static/village.js">' in html
    config = _config(html)
    assert (config["role"], config["identity"], config["token"]) == (
        "village",
        "village-1",
        "demo-village-1",
    )
    assert config["server_now"] == lawroom.clock.now()
    assert set(config["catalogue"]) == {"zh", "mn"}
    assert config["catalogue"]["mn"]["village.call"] == CATALOGUE["mn"]["village.call"]
    assert not any(k.startswith("lawyer.") for k in config["catalogue"]["zh"])
    assert len(config["topics"]) == 15
    assert "开始视频咨询" in html  # rendered in Chinese before any script runs


@pytest.mark.timeout(30)
async def test_identity_picks_another_demo_account_of_the_right_role(lawroom: Any) -> None:
    _, html, _ = await _get(lawroom, "/village?identity=village-2")
    assert _config(html)["identity"] == "village-2"
    _, html, _ = await _get(lawroom, "/lawyer?identity=mediator-1")
    config = _config(html)
    assert (config["role"], config["identity"]) == ("mediator", "mediator-1")
    assert "王调解员" in html
    status, html, _ = await _get(lawroom, "/lawyer?identity=village-1")
    assert status == 404
    assert "没有这个演示账号" in html and "lawyer-1" in html
    assert "lawroom-config" not in html


@pytest.mark.timeout(30)
async def test_lawyer_page_defaults_to_lawyer_1(lawroom: Any) -> None:
    status, html, _ = await _get(lawroom, "/lawyer")
    assert status == 200
    config = _config(html)
    assert (config["role"], config["identity"], config["token"]) == (
        "lawyer",
        "lawyer-1",
        "demo-lawyer-1",
    )
    assert "mn" in config["catalogue"]  # Chinese only for now, but served the same way
    assert '<script type="module" src="/static/lawyer.js">' in html


@pytest.mark.timeout(30)
async def test_without_demo_the_pages_say_accounts_are_not_set_up() -> None:
    # conftest's start_server always sets demo=True: this one is built by hand.
    server = TestServer(init_app(replace(load({}, env={}), demo=False)), host="127.0.0.1")
    await server.start_server()
    try:
        running = SimpleNamespace(http_url=str(server.make_url("/")).rstrip("/"))
        for path in ("/village", "/lawyer"):
            status, html, _ = await _get(running, path)
            assert status == 200
            assert "账号还没有设置" in html and "lawroom serve --demo" in html
            assert "lawroom-config" not in html and "demo-" not in html
        _, html, _ = await _get(running, "/")
        assert "账号还没有设置" in html and "identity=" not in html
    finally:
        await server.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "name",
    ["protocol.js", "signaling.js", "call.js", "ui.js", "village.js", "lawyer.js", "style.css"],
)
async def test_static_files_are_served(lawroom: Any, name: str) -> None:
    status, body, headers = await _get(lawroom, f"/static/{name}")
    assert status == 200 and body
    kind = "text/css" if name.endswith(".css") else "javascript"
    assert kind in headers["Content-Type"]
