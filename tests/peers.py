"""Real aiortc participants for tests: synthetic media that proves where it came from."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from lawyer_client.desk import start_desk
from room.participant import Participant
from room.synthetic import SIDE_LAWYER, SIDE_VILLAGE, dominant_frequency, read_pattern
from room.tracks import media_source
from signaling.messages import Role
from tests.conftest import RunningServer
from tests.wire import DEMO_TOKENS
from village_client.terminal import start_village

SMALL = "320x240"  # two encoders and two decoders share this machine's two cores


@dataclass
class Seen:
    """What a receiver read back from the other side's synthetic media."""

    sides: set[int] = field(default_factory=set)
    counters: list[int] = field(default_factory=list)
    tones: list[float] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def video(self, frame: object) -> None:
        read = read_pattern(frame)  # type: ignore[arg-type]
        if read is not None:
            self.sides.add(read[0])
            self.counters.append(read[1])
        self.changed.set()

    def audio(self, frame: object) -> None:
        if len(self.tones) < 500:
            self.tones.append(dominant_frequency(frame))  # type: ignore[arg-type]
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until frames received so far make `condition` true."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def village(
    server: RunningServer, identity: str = "village-1", size: str = SMALL, auto_resume: bool = False
) -> tuple[Participant, Seen]:
    seen = Seen()
    p = await start_village(
        server.url,
        identity,
        DEMO_TOKENS[identity][1],
        media_source(SIDE_VILLAGE, synthetic=size),
        on_video=seen.video,
        on_audio=seen.audio,
        auto_resume=auto_resume,
    )
    return p, seen


async def desk(
    server: RunningServer,
    identity: str = "lawyer-1",
    size: str = SMALL,
    auto_accept: bool = True,
    auto_resume: bool = False,
) -> tuple[Participant, Seen]:
    seen = Seen()
    role = Role(DEMO_TOKENS[identity][0])
    p = await start_desk(
        server.url,
        identity,
        DEMO_TOKENS[identity][1],
        media_source(SIDE_LAWYER, synthetic=size),
        role=role,
        auto_accept=auto_accept,
        on_video=seen.video,
        on_audio=seen.audio,
        auto_resume=auto_resume,
    )
    return p, seen
