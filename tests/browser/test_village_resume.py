"""The village page keeps its place: a network blip or a reload within the grace period puts it
back in the queue; after the grace period it says plainly that it has to start again. Also the
Mongolian page, and the error view when there is no camera."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from lawyer_client.desk import start_desk
from room.participant import Participant
from room.synthetic import SIDE_LAWYER
from room.tracks import media_source
from signaling.messages import Language, Role

from .conftest import OpenAs
from .pagetools import FrameCounter

PAGE_CAMERA = "640x360"

NO_CAMERA = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
"""


async def _waiting_ids(server: Any) -> list[str]:
    ids: list[str] = await server.hub.state.waiting()
    return ids


@pytest.mark.timeout(120)
async def test_mongolian_page_keeps_its_place_through_a_blip_and_a_reload(
    start_server: Callable[..., Any], open_kiosk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_kiosk(server, "village-1", f"/village?camera={PAGE_CAMERA}")
    await page.wait_view("home")
    await page.click('button.lang[data-lang="mn"]')
    await page.click('button.topic[data-topic="neighbour"]')
    assert await page.page.evaluate("document.documentElement.lang") == "mn-Mong"
    await page.screenshot("village-home-mn")
    await page.click("#call")
    await page.wait_view("waiting")
    await page.page.wait_for_function("document.getElementById('waiting-duty').textContent !== ''")
    await page.screenshot("village-waiting-mn")
    (queued,) = await _waiting_ids(server)

    # A blip: the websocket drops; the page reconnects and resumes its session.
    await page.page.evaluate("window.lawroom.page.signaling.reconnectNow()")
    await page.page.wait_for_function("window.lawroom.page.signaling.ready")
    assert await page.view() == "waiting"
    assert await _waiting_ids(server) == [queued]

    # A reload: the same again, from sessionStorage.
    await page.page.reload()
    await page.wait_view("waiting")
    await page.page.wait_for_function("window.lawroom.page.signaling.ready")
    assert await _waiting_ids(server) == [queued]

    # A neighbour dispute goes to a mediator: the request kept its place and its language.
    from_village = FrameCounter()
    mediator = await start_desk(
        server.url,
        "mediator-1",
        "demo-mediator-1",
        media_source(SIDE_LAWYER, synthetic="320x240"),
        role=Role.MEDIATOR,
        on_video=from_village,
    )
    participants.append(mediator)
    offer = await asyncio.wait_for(mediator.offers.get(), 10)
    assert offer.consultation_id == queued
    assert offer.language is Language.MN
    await page.wait_view("call")
    await page.wait_remote_video()
    await from_village.wait_for(5)
    await page.screenshot("village-call-mn")
    await page.click("#hangup")
    await page.wait_view("ended")
    await page.screenshot("village-ended-mn")
    await mediator.ended.wait()
    await page.assert_clean()
    assert not server.hub.violations


@pytest.mark.timeout(60)
async def test_village_page_after_the_grace_period_says_to_start_again(
    start_server: Callable[..., Any], open_kiosk: OpenAs
) -> None:
    server = await start_server(strict_protocol=True)
    url = f"{server.http_url}/village?camera={PAGE_CAMERA}"
    page = await open_kiosk(server, "village-1", f"/village?camera={PAGE_CAMERA}")
    await page.wait_view("home")
    await page.click('button.topic[data-topic="consumer"]')
    await page.click("#call")
    await page.wait_view("waiting")
    await page.page.wait_for_function("window.lawroom.page.state.consultationId")

    expired = asyncio.Event()
    grace_expired = server.hub._grace_expired

    async def then_signal(subject: str, payload: str) -> None:
        await grace_expired(subject, payload)
        expired.set()

    server.hub.timers.on("grace", then_signal)
    await page.page.goto("about:blank")  # the terminal goes away, its session stays a while
    server.clock.advance(server.settings.grace_seconds + 1)
    await asyncio.wait_for(expired.wait(), 10)
    assert await _waiting_ids(server) == []

    await page.page.goto(url)
    await page.wait_view("error")
    assert "离开的时间太长" in await page.page.inner_text("#error-text")
    await page.screenshot("village-error-expired")
    await page.click("#start-over")
    await page.wait_view("home")
    await page.assert_clean()
    assert not server.hub.violations


@pytest.mark.timeout(60)
async def test_village_page_without_a_camera_says_what_to_do(
    start_server: Callable[..., Any], open_kiosk: OpenAs
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_kiosk(server, "village-1", "/village", init_script=NO_CAMERA)
    await page.wait_view("home")
    await page.click('button.topic[data-topic="marriage_family"]')
    await page.click("#call")
    await page.wait_view("error")
    text = await page.page.inner_text("#error-text")
    assert "打不开摄像头" in text and "重新开始" in text
    await page.screenshot("village-error")
    assert await _waiting_ids(server) == []  # nothing was asked for without a camera
    await page.assert_clean()
    assert not server.hub.violations
