"""Fixtures for the page tests: Debian's Chromium driven by Playwright, fake camera, loopback only.

Every test launches its own headless Chromium (a fresh profile each time) with a fake camera and
microphone that need no permission prompt. Each page gets its own browser context, so its
sessionStorage (where the page keeps its session for a reload), its localStorage (a kiosk's
device token) and its cookies (a desk's sign-in) are its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ViewportSize, async_playwright

from room.participant import Participant

from .pagetools import LOOPBACK_ONLY, PageUnderTest, device_script, sign_in

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = ViewportSize(width=1280, height=800)

# From /work/shared/WEBRTC_NOTES.md: fake media, loopback allowed and announced as plain
# addresses, nothing that reaches out to the internet.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--autoplay-policy=no-user-gesture-required",
]

OpenPage = Callable[..., Awaitable[PageUnderTest]]
# (server, username or terminal identity, path) -> a signed-in desk or an enrolled kiosk.
OpenAs = Callable[..., Awaitable[PageUnderTest]]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # launch() gives every browser a fresh temporary profile (user-data-dir).
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    """Open a URL in a new browser context; the page's errors are collected for the test."""
    opened: list[PageUnderTest] = []

    async def open_(url: str, *, init_script: str | None = None) -> PageUnderTest:
        context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        await context.add_init_script(LOOPBACK_ONLY)
        if init_script is not None:
            await context.add_init_script(init_script)
        page = PageUnderTest(await context.new_page())
        opened.append(page)
        await page.page.goto(url)
        return page

    yield open_
    for page in opened:
        await page.page.context.close()


@pytest.fixture
def open_desk(open_page: OpenPage) -> OpenAs:
    """A professional's page, signed in through the sign-in form."""

    async def open_(server: Any, username: str, path: str = "/lawyer") -> PageUnderTest:
        page = await open_page("about:blank")
        await sign_in(page.page, server.http_url, username, path)
        return page

    return open_


@pytest.fixture
def open_kiosk(open_page: OpenPage) -> OpenAs:
    """The village page of a kiosk that holds `identity`'s device token (as after enrolment)."""

    async def open_(
        server: Any, identity: str = "village-1", path: str = "/village", init_script: str = ""
    ) -> PageUnderTest:
        seed = device_script(server.http_url, identity)
        return await open_page(f"{server.http_url}{path}", init_script=seed + init_script)

    return open_


@pytest.fixture
async def participants() -> AsyncIterator[list[Participant]]:
    """Python clients a test starts; closed at the end whatever happened."""
    started: list[Participant] = []
    yield started
    for participant in started:
        await participant.close()
