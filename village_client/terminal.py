"""Start a village terminal: sign in, ask for a consultation, make the call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiortc import MediaStreamTrack

from room.participant import Participant
from room.peer import FrameProbe
from signaling.client import SignalingClient
from signaling.messages import Kind, Language, RequestConsultation, Role


async def start_village(
    url: str,
    identity: str,
    token: str,
    tracks: Callable[[], Sequence[MediaStreamTrack]],
    *,
    on_video: FrameProbe | None = None,
    on_audio: FrameProbe | None = None,
    auto_resume: bool = True,
) -> Participant:
    """A signed-in terminal, ready to `request`."""
    client = SignalingClient(url, Role.VILLAGE, identity, token, auto_resume=auto_resume)
    await client.connect()
    village = Participant(client, tracks, on_video=on_video, on_audio=on_audio)
    village.start()
    return village


async def request(
    village: Participant, topic: str, language: Language = Language.ZH, kind: Kind | None = None
) -> None:
    village.mark("requested")
    await village.client.send(RequestConsultation(topic=topic, language=language, kind=kind))
