"""4K: the village page's 3840x2160 camera reaches an aiortc lawyer at 1080p or more.

Without bitrate hints Chromium's estimate against aiortc (REMB only) stays low and a 4K camera
is sent at 180p-720p (WEBRTC_NOTES.md); the hints in the SDP each side hands over fix that.
The only browser test at 4K: two-way 4K would saturate the machine's two cores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lawyer_client.desk import start_desk
from room.participant import Participant
from room.synthetic import SIDE_LAWYER
from room.tracks import media_source

from .conftest import OpenAs
from .pagetools import SCREENSHOTS, FrameCounter

# Software 4K encoding runs at 7-15 fps here and the first 4K frame can take seconds.
FOUR_K_TIMEOUT = 60.0

SENDER_PREFERENCE = """() => window.lawroom.page.call.pc.getSenders()
    .filter((s) => s.track && s.track.kind === 'video')
    .map((s) => s.getParameters().degradationPreference)"""


@pytest.mark.timeout(150)
async def test_4k_camera_reaches_aiortc_in_high_resolution(
    start_server: Callable[..., Any], open_kiosk: OpenAs, participants: list[Participant]
) -> None:
    server = await start_server(strict_protocol=True)
    from_village = FrameCounter()
    desk = await start_desk(
        server.url,
        "lawyer-1",
        "demo-lawyer-1",
        media_source(SIDE_LAWYER, synthetic="320x240"),
        on_video=from_village,
    )
    participants.append(desk)
    # No ?camera=: the page asks for its default, 3840x2160, which the fake camera offers.
    page = await open_kiosk(server, "village-1", "/village")
    await page.wait_view("home")
    await page.click('button.topic[data-topic="land"]')
    await page.click('button.topic[data-topic="demolition"]')
    await page.click("#call")
    await page.wait_view("call")
    local = await page.page.evaluate(
        "document.getElementById('self').srcObject.getVideoTracks()[0].getSettings()"
    )
    assert (local["width"], local["height"]) == (3840, 2160)

    await from_village.wait_for_size(1920, 1080, timeout=FOUR_K_TIMEOUT)
    balanced = from_village.largest
    assert await page.page.evaluate(SENDER_PREFERENCE) == ["balanced"]

    # Document mode: the sender keeps the resolution and gives up frame rate.
    await page.click("#document")
    await page.page.wait_for_function(
        f"async () => ({SENDER_PREFERENCE})()[0] === 'maintain-resolution'"
    )
    await from_village.wait_for(10, timeout=FOUR_K_TIMEOUT)
    assert desk.peer is not None and desk.peer.received.last_video_size is not None
    document = desk.peer.received.last_video_size
    assert document[0] >= 1920 and document[1] >= 1080
    stats = await page.remote_video()
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "4k-result.json").write_text(
        json.dumps(
            {
                "largest_received": balanced,
                "received_in_document_mode": document,
                "chromium_outbound": stats["outbound"],
            },
            indent=2,
        )
    )
    await page.screenshot("village-call-document-mode")
    await page.click("#hangup")
    await desk.ended.wait()
    await page.assert_clean()
    assert not server.hub.violations
