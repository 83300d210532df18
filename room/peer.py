"""An aiortc peer for the Python clients: sends its tracks, consumes every remote track.

aiortc decodes every received track into an unbounded queue, so a track nobody reads grows
memory without limit: each remote track gets a reader task here, whether or not anyone looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from room.ice import rtc_configuration
from room.sdp import add_bitrate_hints
from signaling.messages import IceCandidate, IceServer

log = logging.getLogger(__name__)

FrameProbe = Callable[[Any], None]


@dataclass
class Received:
    """What arrived from the other side, for the demo, the benchmark and the tests."""

    video_frames: int = 0
    audio_frames: int = 0
    first_video_at: float | None = None
    first_audio_at: float | None = None
    last_video_size: tuple[int, int] | None = None
    first_video: asyncio.Event = field(default_factory=asyncio.Event)


class MediaPeer:
    def __init__(
        self,
        ice_servers: Sequence[IceServer],
        tracks: Sequence[MediaStreamTrack] = (),
        on_video: FrameProbe | None = None,
        on_audio: FrameProbe | None = None,
    ) -> None:
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers))
        self.received = Received()
        self.connection_states: list[str] = ["new"]
        self.connected = asyncio.Event()
        self._tracks = list(tracks)
        self._on_video = on_video
        self._on_audio = on_audio
        self._readers: list[asyncio.Task[None]] = []
        self._closing: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state != self.connection_states[-1]:
            self.connection_states.append(state)
        if state == "connected":
            self.connected.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.create_task(self._read(track), name=f"read-{track.kind}"))

    async def _read(self, track: MediaStreamTrack) -> None:
        probe = self._on_video if track.kind == "video" else self._on_audio
        rx = self.received
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    rx.video_frames += 1
                    rx.last_video_size = (frame.width, frame.height)
                    if rx.first_video_at is None:
                        rx.first_video_at = time.monotonic()
                        rx.first_video.set()
                else:
                    rx.audio_frames += 1
                    if rx.first_audio_at is None:
                        rx.first_audio_at = time.monotonic()
                if probe is not None:
                    probe(frame)

    @property
    def negotiated(self) -> bool:
        """Both descriptions are set: a further offer comes from a peer that started over."""
        return self.pc.remoteDescription is not None and self.pc.localDescription is not None

    def _add_tracks(self) -> None:
        for track in self._tracks:
            self.pc.addTrack(track)
        self._tracks = []

    async def create_offer(self) -> str:
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return add_bitrate_hints(str(self.pc.localDescription.sdp))

    async def accept_offer(self, sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return add_bitrate_hints(str(self.pc.localDescription.sdp))

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def add_candidate(self, msg: IceCandidate) -> None:
        """A browser's trickled candidate (aiortc's own are all in its SDP)."""
        if not msg.candidate:
            await self.pc.addIceCandidate(None)
            return
        text = msg.candidate.removeprefix("candidate:")
        candidate: RTCIceCandidate = candidate_from_sdp(text)
        candidate.sdpMid = msg.sdp_mid
        candidate.sdpMLineIndex = msg.sdp_mline_index
        await self.pc.addIceCandidate(candidate)

    async def close(self) -> None:
        """Close once and to the end, even if the caller is cancelled meanwhile.

        aiortc's `RTCPeerConnection.close` cut short by a cancel never completes, and every later
        `close` waits for ever on it (as when a participant is closed while its handler is still
        closing the peer on `consultation_ended`): so the close runs in a task of its own,
        shielded from the caller, and later callers wait for that same task.
        """
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(), name="peer-close")
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self.pc.close()
        self._on_state()
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
