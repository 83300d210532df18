"""`lawroom demo`: one whole consultation between two Python clients through a real server."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from aiohttp import web

from lawyer_client.desk import start_desk
from room.ice import use_host_addresses
from room.participant import Participant
from room.synthetic import SIDE_LAWYER, SIDE_VILLAGE, read_pattern
from room.tracks import media_source
from server.app import init_app
from server.settings import load
from village_client.terminal import request, start_village


async def start_server() -> tuple[web.AppRunner, str]:
    """A demo-mode server on a free loopback port; returns the runner and its websocket URL."""
    settings = replace(load({}, env={}), demo=True, port=0)
    runner = web.AppRunner(init_app(settings), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"ws://127.0.0.1:{port}/ws"


class PatternCheck:
    """Counts frames whose pattern names the expected sender."""

    def __init__(self, side: int) -> None:
        self.side = side
        self.matching = 0
        self.last_counter = -1

    def __call__(self, frame: object) -> None:
        read = read_pattern(frame)  # type: ignore[arg-type]
        if read is not None and read[0] == self.side:
            self.matching += 1
            self.last_counter = read[1]


async def run_demo(size: str, seconds: float) -> int:
    # One machine: keep the media on loopback, nothing leaves it.
    use_host_addresses(["127.0.0.1"])
    t0 = time.monotonic()
    runner, url = await start_server()
    print(f"Lawroom demo: server at {url}, synthetic video {size}")
    from_lawyer, from_village = PatternCheck(SIDE_LAWYER), PatternCheck(SIDE_VILLAGE)
    desk = await start_desk(
        url,
        "lawyer-1",
        "demo-lawyer-1",
        media_source(SIDE_LAWYER, synthetic=size),
        on_video=from_village,
    )
    village = await start_village(
        url,
        "village-1",
        "demo-village-1",
        media_source(SIDE_VILLAGE, synthetic=size),
        on_video=from_lawyer,
    )
    try:
        await request(village, "labour")
        async with asyncio.timeout(30):
            await village.joined.wait()
            assert village.peer is not None
            await village.peer.received.first_video.wait()
            await desk.joined.wait()
            assert desk.peer is not None
            await desk.peer.received.first_video.wait()
        await asyncio.sleep(seconds)  # the conversation itself
        await village.hang_up()
        async with asyncio.timeout(10):
            await desk.ended.wait()
            await village.ended.wait()
        _report(t0, village, desk, from_lawyer, from_village)
        ok = from_lawyer.matching > 0 and from_village.matching > 0
        print(
            "demo " + ("passed" if ok else "FAILED: video did not carry the other side's pattern")
        )
        return 0 if ok else 1
    finally:
        await village.close()
        await desk.close()
        await runner.cleanup()


def _report(
    t0: float,
    village: Participant,
    desk: Participant,
    from_lawyer: PatternCheck,
    from_village: PatternCheck,
) -> None:
    rows = [
        ("village asked for a labour consultation", village.timeline.get("requested")),
        ("lawyer was offered it", desk.timeline.get("offered")),
        ("lawyer accepted", desk.timeline.get("accepted")),
        ("paired: both in the room", village.timeline.get("paired")),
        ("village media connected", village.timeline.get("connected")),
        ("lawyer media connected", desk.timeline.get("connected")),
        ("first frame at the village (from the lawyer)", village.timeline.get("first_frame")),
        ("first frame at the lawyer (from the village)", desk.timeline.get("first_frame")),
        ("hung up", desk.timeline.get("hung_up")),
    ]
    for label, at in sorted(rows, key=lambda r: r[1] or 0):
        shown = f"{(at - t0) * 1000:8.0f} ms" if at is not None else "       – "
        print(f"  {shown}  {label}")
    print(f"  call states at the village: {' -> '.join(s.value for s in village.call_states)}")
    assert village.peer is not None and desk.peer is not None
    print(
        f"  village received {village.peer.received.video_frames} video frames "
        f"({from_lawyer.matching} carrying the lawyer's pattern, last counter "
        f"{from_lawyer.last_counter}) and {village.peer.received.audio_frames} audio frames"
    )
    print(
        f"  lawyer received {desk.peer.received.video_frames} video frames "
        f"({from_village.matching} carrying the village's pattern, last counter "
        f"{from_village.last_counter}) and {desk.peer.received.audio_frames} audio frames"
    )
