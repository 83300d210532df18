"""The record in Chromium: the lawyer's notes auto-save (and survive a reload before they were
sent, and a dropped connection), the outcome, the villager's rating after the call; and what
anyone typed is shown as text on every page that shows it, never run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.app import database
from server.db import records

from .conftest import OpenAs
from .pagetools import PageUnderTest

CAMERA = "320x240"
HOSTILE_NOTES = "<img src=x onerror=window.__pwned=1>\n当事人称工资被拖欠三个月。"
HOSTILE_DETAIL = "<script>window.__pwned=2</script>申请法律援助"
SAVED = "已保存"


async def _status(page: PageUnderTest, element: str, text: str) -> None:
    await page.page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent === text && "
        "!document.getElementById(id).hidden",
        arg=[element, text],
    )


async def _not_pwned(page: PageUnderTest) -> None:
    assert await page.page.evaluate("typeof window.__pwned") == "undefined"


@pytest.mark.timeout(120)
async def test_notes_outcome_and_rating_are_kept_and_shown_as_text(
    start_server: Callable[..., Any], open_desk: OpenAs, open_kiosk: OpenAs
) -> None:
    server = await start_server(strict_protocol=True)
    db = database(server.server.app)
    lawyer = await open_desk(server, "lawyer-1", f"/lawyer?camera={CAMERA}")
    await lawyer.wait_view("off_duty")
    await lawyer.click("#go-on-duty")
    await lawyer.wait_view("on_duty")
    village = await open_kiosk(server, "village-1", f"/village?camera={CAMERA}")
    await village.wait_view("home")
    await village.click('button.topic[data-topic="labour"]')
    await village.click("#call")
    await lawyer.wait_view("incoming")
    await lawyer.click("#accept")
    await lawyer.wait_view("call")
    await village.wait_view("call")
    cid = await lawyer.page.evaluate("window.lawroom.page.state.consultationId")
    assert "巴彦村法律服务室" in await lawyer.page.inner_text("#record-for")

    # Typed, and the page reloaded before the autosave fired: nothing is lost.
    await lawyer.page.fill("#notes", HOSTILE_NOTES)
    await lawyer.page.reload()
    await lawyer.wait_view("call")
    await _status(lawyer, "notes-status", SAVED)
    assert await lawyer.page.input_value("#notes") == HOSTILE_NOTES
    (notes,) = await records.latest_notes(db, cid, "lawyer-1")
    assert (notes.revision, notes.text) == (1, HOSTILE_NOTES)

    await lawyer.page.select_option("#outcome", "legal_aid_application")
    await lawyer.page.fill("#outcome-detail", HOSTILE_DETAIL)
    await _status(lawyer, "outcome-status", SAVED)
    await lawyer.screenshot("lawyer-call-record")

    # Typed while the connection is down: saved once it is back.
    await lawyer.page.evaluate("window.lawroom.page.signaling.reconnectNow()")
    more = HOSTILE_NOTES + "\n已建议申请法律援助。"
    await lawyer.page.fill("#notes", more)
    await lawyer.page.wait_for_function("window.lawroom.page.signaling.ready")
    await _status(lawyer, "notes-status", SAVED)
    (notes,) = await records.latest_notes(db, cid, "lawyer-1")
    assert (notes.revision, notes.text) == (2, more)

    # After the call the record stays for the wrap-up; the terminal asks for a rating.
    await lawyer.click("#hangup")
    await lawyer.wait_view("on_duty")
    assert await lawyer.page.is_visible("#notes") and await lawyer.page.is_enabled("#record-done")
    await village.wait_view("ended")
    await village.page.wait_for_selector("#rating", state="visible")
    await village.click('button.star[data-rating="4"]')
    await _status(village, "rating-status", "谢谢您的评价！")
    await village.screenshot("village-rated")
    await lawyer.screenshot("lawyer-wrap-up")
    (summary,) = await records.list_consultations(db)
    assert (summary.rating, summary.outcome) == (4, "legal_aid_application")

    for page in (lawyer, village):
        await _not_pwned(page)
        await page.assert_clean()
    assert await lawyer.page.input_value("#notes") == more
    await lawyer.click("#record-done")
    assert await lawyer.page.is_hidden("#record")
    assert await lawyer.page.evaluate("localStorage.getItem('lawroom.record.lawyer-1')") is None

    # The professional's own history, and the supervisor's list and record: text, not markup.
    await lawyer.page.goto(f"{server.http_url}/lawyer/history")
    assert more in await lawyer.page.inner_text(".notes-text")
    await _not_pwned(lawyer)
    supervisor = await open_desk(server, "supervisor", "/supervisor/consultations")
    await supervisor.page.click(f'tr[data-consultation-id="{cid}"] a')
    await supervisor.page.wait_for_selector("#timeline")
    assert await supervisor.page.inner_text("#notes-1") == more
    assert await supervisor.page.inner_text("#outcome-detail") == HOSTILE_DETAIL
    await supervisor.screenshot("supervisor-record")
    await _not_pwned(supervisor)
    assert lawyer.errors == [] and supervisor.errors == []
    assert not server.hub.violations
