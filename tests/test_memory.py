"""aiortc decodes every received track into an unbounded queue: a remote track that nobody
reads grows memory without limit. Over a 30 s call, memory must stay flat."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.conftest import RunningServer
from tests.peers import desk, village
from village_client.terminal import request

FPS = 30
CALL_SECONDS = 30
# Unread, 640x480 decoded frames pile up at ~14 MB/s per direction: ~700 MB over 25 s.
ALLOWED_GROWTH_MB = 120


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.timeout(120)
async def test_memory_stays_bounded_over_a_30_second_call(lawroom: RunningServer) -> None:
    # Neither side looks at the video it receives (no probe): only the peer's own reader.
    lawyer, _ = await desk(lawroom, size="640x480")
    terminal, from_lawyer = await village(lawroom, size="640x480")
    try:
        await request(terminal, "labour")
        async with asyncio.timeout(20):
            await terminal.joined.wait()
            await lawyer.joined.wait()
        await from_lawyer.until(lambda: len(from_lawyer.counters) >= 5 * FPS)
        start = rss_mb()
        # The call's own length is what is under test: count the frames the village receives.
        await from_lawyer.until(lambda: len(from_lawyer.counters) >= CALL_SECONDS * FPS, timeout=90)
        growth = rss_mb() - start
        assert lawyer.peer is not None
        assert lawyer.peer.received.video_frames >= (CALL_SECONDS - 8) * FPS
        assert growth < ALLOWED_GROWTH_MB, f"memory grew {growth:.0f} MB over the call"
    finally:
        await terminal.close()
        await lawyer.close()
