"""Start a lawyer's (or mediator's) desk: sign in, go on duty, take what is offered."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiortc import MediaStreamTrack

from room.participant import Participant
from room.peer import FrameProbe
from signaling.client import SignalingClient
from signaling.messages import Role, SetDuty


async def start_desk(
    url: str,
    identity: str,
    token: str,
    tracks: Callable[[], Sequence[MediaStreamTrack]],
    *,
    role: Role = Role.LAWYER,
    auto_accept: bool = True,
    on_video: FrameProbe | None = None,
    on_audio: FrameProbe | None = None,
    auto_resume: bool = True,
) -> Participant:
    """A signed-in professional, on duty."""
    client = SignalingClient(url, role, identity, token, auto_resume=auto_resume)
    await client.connect()
    desk = Participant(
        client, tracks, on_video=on_video, on_audio=on_audio, auto_accept=auto_accept
    )
    desk.start()
    await client.send(SetDuty(on_duty=True))
    return desk
