"""Choosing what a Python client sends: a camera, or synthetic video and a tone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiortc import MediaStreamTrack

from room.synthetic import TONE_HZ, PatternVideoTrack, ToneAudioTrack, parse_size


def media_source(
    side: int, camera: int | None = None, synthetic: str = "640x480"
) -> Callable[[], Sequence[MediaStreamTrack]]:
    """A factory for fresh tracks, called once per peer connection."""

    def tracks() -> Sequence[MediaStreamTrack]:
        if camera is not None:
            from room.camera import CameraTrack

            video: MediaStreamTrack = CameraTrack(camera)
        else:
            width, height = parse_size(synthetic)
            video = PatternVideoTrack(side, width, height)
        # aiortc has no echo cancellation: a real terminal needs a headset or the browser page.
        return [video, ToneAudioTrack(TONE_HZ[side])]

    return tracks


def ws_url(server: str) -> str:
    """`http://host:8080` -> `ws://host:8080/ws` (a ws:// or wss:// URL is kept)."""
    base = server.rstrip("/")
    if base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    elif base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    return base if base.endswith("/ws") else base + "/ws"
