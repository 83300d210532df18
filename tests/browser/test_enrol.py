"""Kiosk enrolment and revocation in Chromium: the kiosk shows a code, a supervisor confirms it on
their page, the kiosk gets its token and can ask for a consultation; a supervisor revokes a
terminal in a call and both sides see the call end within a second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from lawyer_client.desk import start_desk
from room.participant import Participant
from room.synthetic import SIDE_LAWYER
from room.tracks import media_source
from server.app import database
from server.db import accounts
from signaling.messages import EndReason
from tests.web.conftest import WebClient

from .conftest import OpenAs, OpenPage
from .pagetools import DEVICE_KEY, FrameCounter

CAMERA = "320x240"
DEVICE = f"JSON.parse(localStorage.getItem('{DEVICE_KEY}'))"
BAD_DEVICE = f"""
if (location.origin !== 'null') localStorage.setItem('{DEVICE_KEY}',
  JSON.stringify({{identity: 'village-1', village: '巴彦村法律服务室', token: 'not-its-token'}}));
"""


@pytest.mark.timeout(90)
async def test_a_kiosk_is_enrolled_by_a_supervisor_and_can_then_ask(
    start_server: Callable[..., Any], open_page: OpenPage, open_desk: OpenAs
) -> None:
    server = await start_server(strict_protocol=True)
    kiosk = await open_page(f"{server.http_url}/village?camera={CAMERA}")
    await kiosk.wait_view("enrol")
    await kiosk.page.wait_for_function("document.getElementById('enrol-code').textContent.length")
    code = await kiosk.page.inner_text("#enrol-code")
    await kiosk.screenshot("village-enrol")

    supervisor = await open_desk(server, "supervisor", "/supervisor/terminals")
    form = supervisor.page.locator("#add-terminal")
    await form.locator('input[name="identity"]').fill("village-9")
    await form.locator('input[name="village"]').fill("新村法律服务室")
    async with supervisor.page.expect_navigation():
        await form.locator('button[type="submit"]').click()
    assert "已添加终端 village-9" in await supervisor.page.inner_text("#notice")
    row = supervisor.page.locator('tr[data-terminal="village-9"]')
    await row.locator('input[name="code"]').fill(code)
    async with supervisor.page.expect_navigation():
        await row.locator("form.enrol button").click()
    assert "终端 village-9 已登记" in await supervisor.page.inner_text("#notice")
    await supervisor.screenshot("supervisor-terminals")

    # The kiosk's next poll brings its token; it signs in with it and can ask.
    await kiosk.wait_view("home")
    assert await kiosk.page.inner_text("#village-name") == "新村法律服务室"
    device = await kiosk.page.evaluate(DEVICE)
    assert device["identity"] == "village-9" and device["token"].startswith("lrd_")
    await kiosk.click('button.topic[data-topic="land"]')
    await kiosk.click("#call")
    await kiosk.wait_view("waiting")
    # The server's answer (its place in the queue) is on the screen: the request arrived.
    await kiosk.page.wait_for_function("document.getElementById('waiting-duty').textContent")
    (waiting,) = await server.hub.state.waiting()
    consultation = await server.hub.state.get_consultation(waiting)
    assert consultation.village_identity == "village-9"
    await supervisor.page.reload()
    cell = supervisor.page.locator('[data-presence-for="village-9"]')
    assert await cell.inner_text() == "排队中"
    await kiosk.assert_clean()
    assert supervisor.errors == []
    assert not server.hub.violations


@pytest.mark.timeout(90)
async def test_revoking_a_terminal_ends_its_call_within_a_second(
    start_server: Callable[..., Any], open_kiosk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    from_village = FrameCounter()
    desk = await start_desk(
        server.url,
        "lawyer-1",
        "demo-lawyer-1",
        media_source(SIDE_LAWYER, synthetic=CAMERA),
        on_video=from_village,
    )
    participants.append(desk)
    kiosk = await open_kiosk(server, "village-1", f"/village?camera={CAMERA}")
    await kiosk.wait_view("home")
    await kiosk.click('button.topic[data-topic="labour"]')
    await kiosk.click("#call")
    await kiosk.wait_view("call")
    await from_village.wait_for(5)

    supervisor = WebClient(server)
    try:
        await supervisor.sign_in("supervisor")
        csrf = await supervisor.csrf()
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await supervisor.post("/supervisor/terminals/village-1/revoke", {}, csrf=csrf)
        assert reply.status == 303
        await asyncio.wait_for(desk.ended.wait(), 5)
        lawyer_saw = loop.time() - started
        await kiosk.wait_view("error", timeout=5000)
        kiosk_saw = loop.time() - started
    finally:
        await supervisor.close()
    assert desk.end_reason is EndReason.REVOKED
    assert lawyer_saw < 1.0 and kiosk_saw < 1.0, (lawyer_saw, kiosk_saw)
    assert "停用" in await kiosk.page.inner_text("#error-text")
    assert await kiosk.page.evaluate(DEVICE) is None  # its token is worthless now
    terminal = await accounts.get_terminal(database(server.server.app), "village-1")
    assert terminal is not None and not terminal.active
    # Starting over, the kiosk asks to be enrolled again.
    await kiosk.click("#start-over")
    await kiosk.wait_view("enrol")
    assert kiosk.errors == []
    assert not server.hub.violations


@pytest.mark.timeout(60)
async def test_a_kiosk_whose_token_is_refused_enrols_again(
    start_server: Callable[..., Any], open_page: OpenPage
) -> None:
    server = await start_server(strict_protocol=True)
    kiosk = await open_page(f"{server.http_url}/village", init_script=BAD_DEVICE)
    await kiosk.wait_view("enrol")
    assert "停用" in await kiosk.page.inner_text("#enrol-notice")
    assert await kiosk.page.evaluate(DEVICE) is None
    await kiosk.page.wait_for_function("document.getElementById('enrol-code').textContent.length")
    assert kiosk.errors == []
