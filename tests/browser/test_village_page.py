"""The village page in Chromium with an aiortc lawyer: ask, wait, talk, reload, hang up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lawyer_client.desk import start_desk
from room.participant import Participant
from room.synthetic import SIDE_LAWYER
from room.tracks import media_source
from signaling.messages import EndReason

from .conftest import OpenAs
from .pagetools import FrameCounter

# Keep media small: two cores carry the browser, the server and aiortc at once.
PAGE_CAMERA = "640x360"
AIORTC_VIDEO = "320x240"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hang_up_from", ["page", "aiortc"])
async def test_village_page_calls_an_aiortc_lawyer(
    start_server: Callable[..., Any],
    open_kiosk: OpenAs,
    participants: list[Participant],
    hang_up_from: str,
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_kiosk(server, "village-1", f"/village?camera={PAGE_CAMERA}")
    await page.wait_view("home")
    await page.click('button.topic[data-topic="labour"]')
    if hang_up_from == "page":
        await page.screenshot("village-home")
    await page.click("#call")

    # Nobody on duty yet: the page waits and says so.
    await page.wait_view("waiting")
    await page.page.wait_for_function("document.getElementById('waiting-duty').textContent !== ''")
    assert "没有律师值班" in await page.page.inner_text("#waiting-duty")
    if hang_up_from == "page":
        await page.screenshot("village-waiting")

    from_village = FrameCounter()
    desk = await start_desk(
        server.url,
        "lawyer-1",
        "demo-lawyer-1",
        media_source(SIDE_LAWYER, synthetic=AIORTC_VIDEO),
        on_video=from_village,
    )
    participants.append(desk)

    await page.wait_view("call")
    video = await page.wait_remote_video()
    assert video["videoWidth"] > 0
    await from_village.wait_for(10)
    if hang_up_from == "page":
        await page.screenshot("village-call")

    # A network blip mid-call: the websocket comes back, the media never stopped.
    await page.page.evaluate("window.lawroom.page.signaling.reconnectNow()")
    await page.page.wait_for_function("window.lawroom.page.signaling.ready")
    assert (await page.wait_remote_video())["generation"] == 1
    await from_village.wait_for(10)

    # A reload mid-call: the page resumes its session and offers afresh; both sides see video.
    await page.page.reload()
    await page.wait_view("call")
    await page.wait_remote_video()
    await from_village.wait_for(10)
    assert "peer_disconnected" in desk.peer_events and "peer_resumed" in desk.peer_events

    if hang_up_from == "page":
        await page.click("#hangup")
    else:
        await desk.hang_up()
    await page.wait_view("ended")
    if hang_up_from == "page":
        await page.screenshot("village-ended")
    await desk.ended.wait()
    assert desk.end_reason is EndReason.HANG_UP
    await page.assert_clean()
    assert not server.hub.violations


@pytest.mark.timeout(120)
async def test_village_page_leaves_a_callback_and_is_rung_back(
    start_server: Callable[..., Any], open_kiosk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_kiosk(server, "village-1", f"/village?camera={PAGE_CAMERA}")
    await page.wait_view("home")
    await page.click('button.topic[data-topic="labour"]')
    await page.click("#call")
    await page.wait_view("waiting")
    await page.page.wait_for_function("document.getElementById('waiting-duty').textContent !== ''")
    assert "回电" in await page.page.inner_text("#waiting-duty")
    await page.page.fill("#callback-phone", "13904710000")
    await page.screenshot("village-waiting-callback")
    await page.click("#leave-callback")

    # Home again, free for the next villager, saying a lawyer will call back.
    await page.wait_view("home")
    notice = page.page.locator("#home-notice")
    await notice.wait_for(state="visible")
    assert "打回这台终端" in await notice.inner_text()
    assert await server.hub.state.waiting() != []

    from_village = FrameCounter()
    desk = await start_desk(
        server.url,
        "lawyer-1",
        "demo-lawyer-1",
        media_source(SIDE_LAWYER, synthetic=AIORTC_VIDEO),
        on_video=from_village,
    )
    participants.append(desk)
    # The lawyer takes the callback; the page, at home, is rung back into the call.
    await page.wait_view("call")
    await page.wait_remote_video()
    await from_village.wait_for(10)
    await desk.hang_up()
    await page.wait_view("ended")
    await page.assert_clean()


@pytest.mark.timeout(120)
async def test_village_page_waits_first_in_line_when_its_lawyer_is_gone_for_good(
    start_server: Callable[..., Any], open_kiosk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_kiosk(server, "village-1", f"/village?camera={PAGE_CAMERA}")
    await page.wait_view("home")
    await page.click('button.topic[data-topic="labour"]')
    await page.click("#call")
    await page.wait_view("waiting")
    first = await start_desk(
        server.url, "lawyer-1", "demo-lawyer-1", media_source(SIDE_LAWYER, synthetic=AIORTC_VIDEO)
    )
    participants.append(first)
    await page.wait_view("call")
    await page.wait_remote_video()

    # The lawyer's connection is lost and never comes back within the grace period.
    await first.client.drop()
    await page.page.wait_for_function(
        "!document.getElementById('call-status').hidden", timeout=10_000
    )
    server.clock.advance(server.settings.grace_seconds + 0.1)
    await page.wait_view("waiting")
    assert "下一位" in await page.page.inner_text("#waiting-title")
    await page.screenshot("village-requeued")

    # The next lawyer on duty is offered it first, and the page is in a call again.
    second = await start_desk(
        server.url, "lawyer-2", "demo-lawyer-2", media_source(SIDE_LAWYER, synthetic=AIORTC_VIDEO)
    )
    participants.append(second)
    await page.wait_view("call")
    await page.wait_remote_video()
    await second.hang_up()
    await page.wait_view("ended")
    await page.assert_clean()
