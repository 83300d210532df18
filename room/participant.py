"""One side of a consultation as a Python client runs it: server messages in, media peer out.

The village terminal makes the SDP offer when the room opens; the professional answers. Both
record a timeline (paired, connected, first frame, hung up) for the demo and the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from aiortc import MediaStreamTrack

from room.peer import FrameProbe, MediaPeer
from signaling.client import SignalingClient
from signaling.messages import (
    Accept,
    CallState,
    CallStateChanged,
    ConsultationEnded,
    ConsultationOffer,
    DutyState,
    EndReason,
    Error,
    HangUp,
    IceCandidate,
    PeerDisconnected,
    PeerResumed,
    RoomJoined,
    Sdp,
    ServerMessage,
)

log = logging.getLogger(__name__)


class Participant:
    def __init__(
        self,
        client: SignalingClient,
        tracks: Callable[[], Sequence[MediaStreamTrack]],
        *,
        on_video: FrameProbe | None = None,
        on_audio: FrameProbe | None = None,
        auto_accept: bool = False,
    ) -> None:
        self.client = client
        self._tracks = tracks
        self._on_video = on_video
        self._on_audio = on_audio
        self.auto_accept = auto_accept
        self.peer: MediaPeer | None = None
        self.consultation_id: str | None = None
        self.call_states: list[CallState] = []
        self.timeline: dict[str, float] = {}
        self.offers: asyncio.Queue[ConsultationOffer] = asyncio.Queue()
        self.errors: asyncio.Queue[Error] = asyncio.Queue()
        self.peer_events: list[str] = []
        # Every server message type handled, in order (what the tests and the demo report).
        self.message_types: list[str] = []
        self._handled = asyncio.Event()
        self.end_reason: EndReason | None = None
        self.on_duty = False
        self.joined = asyncio.Event()
        self.ended = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watchers: list[asyncio.Task[None]] = []

    def mark(self, name: str) -> None:
        self.timeline.setdefault(name, time.monotonic())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"participant-{self.client.identity}")

    async def _run(self) -> None:
        while True:
            msg = await self.client.inbox.get()
            try:
                await self._handle(msg)
            except Exception:
                log.exception("failed to handle %s", msg.type)

    async def message_seen(self, kind: str, after: int = 0) -> None:
        """Wait until a message of this type has been handled (after the first `after`)."""
        while kind not in self.message_types[after:]:
            self._handled.clear()
            await self._handled.wait()

    async def peer_changed(self, kind: str) -> None:
        """Wait for `peer_disconnected` or `peer_resumed` about the other side."""
        await self.message_seen(kind)

    async def _handle(self, msg: ServerMessage) -> None:
        self.message_types.append(msg.type)
        self._handled.set()
        if isinstance(msg, CallStateChanged):
            self.call_states.append(msg.state)
        elif isinstance(msg, ConsultationOffer):
            self.mark("offered")
            if self.auto_accept:
                self.mark("accepted")
                await self.client.send(Accept(consultation_id=msg.consultation_id))
            await self.offers.put(msg)
        elif isinstance(msg, DutyState):
            self.on_duty = msg.on_duty
        elif isinstance(msg, RoomJoined):
            self.consultation_id = msg.consultation_id
            self.ended.clear()
            self.mark("paired")
            self.peer = self._new_peer()
            self.joined.set()
            if msg.initiator:
                sdp = await self.peer.create_offer()
                await self.client.send(
                    Sdp(consultation_id=msg.consultation_id, sdp_type="offer", sdp=sdp)
                )
        elif isinstance(msg, Sdp):
            if msg.sdp_type == "offer" and self.peer is not None and self.peer.negotiated:
                # The other side reloaded or restarted: its old peer connection is gone.
                await self._close_peer()
                self.peer = None
            peer = self.peer or self._new_peer()
            self.peer = peer
            if msg.sdp_type == "offer":
                answer = await peer.accept_offer(msg.sdp)
                await self.client.send(
                    Sdp(consultation_id=msg.consultation_id, sdp_type="answer", sdp=answer)
                )
            else:
                await peer.accept_answer(msg.sdp)
        elif isinstance(msg, IceCandidate):
            if self.peer is not None:
                await self.peer.add_candidate(msg)
        elif isinstance(msg, PeerDisconnected | PeerResumed):
            self.peer_events.append(msg.type)
        elif isinstance(msg, ConsultationEnded):
            self.end_reason = msg.reason
            self.mark("hung_up")
            await self._close_peer()
            self.ended.set()
        elif isinstance(msg, Error):
            log.warning("server refused a message: %s %s", msg.code, msg.message)
            await self.errors.put(msg)

    def _new_peer(self) -> MediaPeer:
        assert self.client.welcome is not None
        peer = MediaPeer(
            self.client.welcome.ice_servers,
            self._tracks(),
            on_video=self._on_video,
            on_audio=self._on_audio,
        )

        def connected() -> None:
            if peer.connected.is_set():
                self.mark("connected")

        peer.pc.on("connectionstatechange", connected)
        self._watchers.append(asyncio.create_task(self._first_frame(peer)))
        return peer

    async def _first_frame(self, peer: MediaPeer) -> None:
        await peer.received.first_video.wait()
        self.mark("first_frame")

    async def hang_up(self) -> None:
        if self.consultation_id is not None:
            await self.client.send(HangUp(consultation_id=self.consultation_id))

    async def _close_peer(self) -> None:
        if self.peer is not None:
            await self.peer.close()

    async def close(self) -> None:
        for task in [self._task, *self._watchers]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close_peer()
        await self.client.close()
