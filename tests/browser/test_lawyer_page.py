"""The lawyer page in Chromium with an aiortc village terminal: duty, offer, call, reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from room.participant import Participant
from room.synthetic import SIDE_VILLAGE
from room.tracks import media_source
from signaling.messages import CallState, EndReason, Language
from village_client.terminal import request, start_village

from .conftest import OpenAs
from .pagetools import FrameCounter

PAGE_CAMERA = "640x360"
AIORTC_VIDEO = "320x240"


async def _village(server: Any, counter: FrameCounter | None = None) -> Participant:
    return await start_village(
        server.url,
        "village-1",
        "demo-village-1",
        media_source(SIDE_VILLAGE, synthetic=AIORTC_VIDEO),
        on_video=counter,
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hang_up_from", ["page", "aiortc"])
async def test_lawyer_page_takes_a_call_from_an_aiortc_village(
    start_server: Callable[..., Any],
    open_desk: OpenAs,
    participants: list[Participant],
    hang_up_from: str,
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_desk(server, "lawyer-1", f"/lawyer?camera={PAGE_CAMERA}")
    await page.wait_view("off_duty")
    shots = hang_up_from == "page"
    if shots:
        await page.screenshot("lawyer-off-duty")
    await page.click("#go-on-duty")
    await page.wait_view("on_duty")
    if shots:
        await page.screenshot("lawyer-on-duty")

    from_lawyer = FrameCounter()
    village = await _village(server, from_lawyer)
    participants.append(village)
    await request(village, "traffic", Language.MN)

    await page.wait_view("incoming")
    card = await page.page.inner_text(".request")
    for shown in ("交通事故", "法律咨询", "蒙古语", "巴彦村法律服务室"):
        assert shown in card
    if shots:
        await page.screenshot("lawyer-incoming")
    await page.click("#accept")

    await page.wait_view("call")
    await page.wait_remote_video()
    await from_lawyer.wait_for(10)
    if shots:
        await page.screenshot("lawyer-call")

    # A reload mid-call: the lawyer page offers afresh and the aiortc village starts over.
    await page.page.reload()
    await page.wait_view("call")
    await page.wait_remote_video()
    await from_lawyer.wait_for(10)
    assert "peer_resumed" in village.peer_events

    if hang_up_from == "page":
        await page.click("#hangup")
    else:
        await village.hang_up()
    await village.ended.wait()
    assert village.end_reason is EndReason.HANG_UP
    await page.wait_view("on_duty")
    assert "通话已结束" in await page.page.inner_text("#notice")
    await page.assert_clean()
    assert not server.hub.violations


@pytest.mark.timeout(60)
async def test_lawyer_page_declines_and_goes_off_duty(
    start_server: Callable[..., Any], open_desk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    page = await open_desk(server, "lawyer-2", f"/lawyer?camera={PAGE_CAMERA}")
    await page.wait_view("off_duty")
    await page.click("#go-on-duty")
    await page.wait_view("on_duty")
    village = await _village(server)
    participants.append(village)
    await request(village, "labour")
    await page.wait_view("incoming")
    await page.click("#decline")
    await page.wait_view("on_duty")
    await page.page.wait_for_function("!document.getElementById('notice').hidden")
    assert "拒绝" in await page.page.inner_text("#notice")
    # Nobody else is on duty: the request waits again, never to be offered to lawyer-2 again.
    (waiting_id,) = await server.hub.state.waiting()
    consultation = await server.hub.state.get_consultation(waiting_id)
    assert consultation.state is CallState.WAITING
    assert consultation.passed_by == ("lawyer-2",)
    await page.click("#go-off-duty")
    await page.wait_view("off_duty")
    await page.assert_clean()
    assert not server.hub.violations
