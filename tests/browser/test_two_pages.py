"""Chromium on both pages: the village terminal calls the lawyer's desk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import OpenAs

# Both pages encode and decode in one browser on two cores: keep it small.
CAMERA = "480x270"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("reload", "hang_up_from"), [("village", "lawyer"), ("lawyer", "village")])
async def test_village_page_calls_lawyer_page(
    start_server: Callable[..., Any],
    open_desk: OpenAs,
    open_kiosk: OpenAs,
    reload: str,
    hang_up_from: str,
) -> None:
    server = await start_server(strict_protocol=True)
    lawyer = await open_desk(server, "lawyer-1", f"/lawyer?camera={CAMERA}")
    await lawyer.wait_view("off_duty")
    await lawyer.click("#go-on-duty")
    await lawyer.wait_view("on_duty")

    village = await open_kiosk(server, "village-1", f"/village?camera={CAMERA}")
    await village.wait_view("home")
    await village.click('button.topic[data-topic="elderly"]')
    await village.click("#call")
    await lawyer.wait_view("incoming")
    assert "老年人权益" in await lawyer.page.inner_text("#req-topic")
    await lawyer.click("#accept")

    await village.wait_view("call")
    await lawyer.wait_view("call")
    await village.wait_remote_video()
    await lawyer.wait_remote_video()

    pages = {"village": village, "lawyer": lawyer}
    other = pages["lawyer" if reload == "village" else "village"]
    before = await other.generation()
    await pages[reload].page.reload()
    await pages[reload].wait_view("call")
    # Both sides play again: the reloaded page offered afresh, the other answered on a new
    # peer connection.
    await pages[reload].wait_remote_video()
    await other.wait_remote_video(newer_than=before)

    await pages[hang_up_from].click("#hangup")
    await village.wait_view("ended")
    await lawyer.wait_view("on_duty")
    await village.assert_clean()
    await lawyer.assert_clean()
    assert not server.hub.violations
