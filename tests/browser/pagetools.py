"""Helpers for the page tests: a page with its errors collected, waits on what the page shows
and on what getStats says, screenshots, and a frame counter for the aiortc side."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import ConsoleMessage, Page

from server.demo_seed import demo_password
from signaling.identity import DEMO_ACCOUNTS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Chromium offers every interface it has; on these machines that includes a non-loopback one.
# Only 127.0.0.1 UDP candidates reach the other side, so media never targets anything else.
LOOPBACK_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  const loopback = /^candidate:\\S+ \\d+ udp \\d+ 127\\.0\\.0\\.1 /i;
  const keep = (c) => !c || !c.candidate || loopback.test(c.candidate);
  class LoopbackOnly extends Native {
    addEventListener(type, listener, options) {
      if (type === 'icecandidate' && typeof listener === 'function') {
        const inner = listener;
        listener = (ev) => { if (keep(ev.candidate)) inner.call(this, ev); };
      }
      return super.addEventListener(type, listener, options);
    }
  }
  window.RTCPeerConnection = LoopbackOnly;
})();
"""

# Time for the first remote frame: connecting and a first keyframe take well under a second
# on loopback; the margin is for two cores shared by the browser, the server and aiortc.
MEDIA_TIMEOUT_MS = 20_000
VIEW_TIMEOUT_MS = 10_000
FRAMES_TO_SEE = 10

# Playwright's wait_for_function does not await a promise, and getStats is asynchronous: the
# condition is checked in the page, every 100 ms, until it holds or the time is up.
WAIT_FOR_VIDEO = """async ([minWidth, newerThan, frames, timeoutMs]) => {
  const deadline = performance.now() + timeoutMs;
  let v = await window.lawroom.remoteVideo();
  const ok = (x) => x.playing && x.videoWidth >= minWidth && x.generation > newerThan;
  let target = null;
  let generation = null;
  for (;;) {
    if (ok(v) && v.framesDecoded > 0) {
      if (generation !== v.generation) {
        generation = v.generation;
        target = v.framesDecoded + frames;
      } else if (v.framesDecoded >= target) {
        return v;
      }
    }
    if (performance.now() > deadline) {
      throw new Error(`remote video not playing: ${JSON.stringify(v)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    v = await window.lawroom.remoteVideo();
  }
}"""


class PageUnderTest:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    async def wait_view(self, name: str, timeout: float = VIEW_TIMEOUT_MS) -> None:
        await self.page.wait_for_function(
            "name => document.body.dataset.view === name", arg=name, timeout=timeout
        )

    async def view(self) -> str:
        return str(await self.page.evaluate("document.body.dataset.view"))

    async def click(self, selector: str) -> None:
        await self.page.click(selector)

    async def remote_video(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("window.lawroom.remoteVideo()")
        return result

    async def wait_remote_video(
        self, min_width: int = 1, newer_than: int = 0, timeout: float = MEDIA_TIMEOUT_MS
    ) -> dict[str, Any]:
        """Wait until the remote <video> plays (of a peer connection newer than `newer_than`)
        and getStats counts decoded frames going up on it. Returns the last reading."""
        result: dict[str, Any] = await self.page.evaluate(
            WAIT_FOR_VIDEO, [min_width, newer_than, FRAMES_TO_SEE, timeout]
        )
        return result

    async def generation(self) -> int:
        """Which peer connection the page is on (1 for its first)."""
        return int((await self.remote_video())["generation"])

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path

    async def client_violations(self) -> list[Any]:
        result: list[Any] = await self.page.evaluate("window.lawroom.violations")
        return result

    async def assert_clean(self) -> None:
        """No script errors and nothing sent that the page's own schema check refused."""
        assert self.errors == [], self.errors
        assert await self.client_violations() == []


class FrameCounter:
    """A probe for an aiortc participant: counts video frames and remembers their sizes."""

    def __init__(self) -> None:
        self.frames = 0
        self.largest: tuple[int, int] = (0, 0)
        self._changed = asyncio.Event()

    def __call__(self, frame: Any) -> None:
        self.frames += 1
        size = (int(frame.width), int(frame.height))
        if size[0] * size[1] > self.largest[0] * self.largest[1]:
            self.largest = size
        self._changed.set()

    async def wait_for(self, frames: int, timeout: float = MEDIA_TIMEOUT_MS / 1000) -> None:
        """Wait until `frames` more frames than now have arrived."""
        target = self.frames + frames
        async with asyncio.timeout(timeout):
            while self.frames < target:
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_size(self, width: int, height: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self.largest[0] < width or self.largest[1] < height:
                self._changed.clear()
                await self._changed.wait()


# -- signing in: the desk needs a signed-in professional, the kiosk a device token ----------------

DEVICE_KEY = "lawroom.device"

SEED_DEVICE = """
(() => {
  // Once per browser context, and only on the server's own pages (not about:blank): a kiosk that
  // later forgets a revoked token must not be handed it again by a reload.
  try {
    if (location.origin !== %(origin)s || localStorage.getItem('lawroom.test.seeded')) return;
    localStorage.setItem('lawroom.test.seeded', '1');
    localStorage.setItem(%(key)s, %(device)s);
  } catch (err) {
    // Storage is unavailable on some internal pages; nothing to seed there.
  }
})();
"""


def device_script(origin: str, identity: str) -> str:
    """An init script that gives the kiosk a demo terminal's device token, as enrolment would."""
    account = next(a for a in DEMO_ACCOUNTS if a.identity.identity == identity)
    device = {
        "identity": identity,
        "village": account.identity.display_name,
        "token": account.token,
    }
    return SEED_DEVICE % {
        "origin": json.dumps(origin),
        "key": json.dumps(DEVICE_KEY),
        "device": json.dumps(json.dumps(device)),
    }


async def sign_in(page: Page, base_url: str, username: str, path: str) -> None:
    """Sign in through the sign-in form (as a person does), landing on `path`."""
    await page.goto(f"{base_url}/login?next={quote(path, safe='')}")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', demo_password(username))
    async with page.expect_navigation():
        await page.click("#login-submit")
    assert page.url.endswith(path), page.url
