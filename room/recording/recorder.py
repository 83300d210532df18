"""The recorder of one consultation: a receive-only participant that answers each sender's
offer with its own peer connection and records every track of it, as received.

    store = await RecordingStore.open(settings.data_dir)           # once, at start-up
    recorder = Recorder(store, consultation_id, ice_servers)
    await recorder.start()
    answer_sdp = await recorder.add_participant("village-1", offer_sdp)
    ...
    await recorder.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription, candidate_from_sdp

from room.ice import rtc_configuration
from room.recording.pipeline import (
    DEFAULT_OPTIONS,
    ParticipantPipeline,
    RecordingOptions,
    TrackStats,
)
from room.recording.receiver import (
    PASSTHROUGH_CODECS,
    Kind,
    PassthroughReceiver,
    check_aiortc_version,
    enlarge_receive_buffers,
    tap_receiver,
)
from room.recording.segment_log import SegmentRecord
from room.recording.segments import FinishedSegment
from room.recording.store import RecordingStore, check_id, segment_record, utc_now
from room.sdp import BitrateHints, add_bitrate_hints
from signaling.messages import IceCandidate, IceServer

log = logging.getLogger(__name__)

# Chromium sends its camera at full resolution to the recorder only with these (room/sdp.py).
DEFAULT_HINTS: Final = BitrateHints()


class RecorderError(RuntimeError):
    """The recorder cannot do what was asked (closed, unknown participant, unusable offer)."""


@dataclass
class RecordedParticipant:
    """One sender's peer connection and what it records."""

    participant_id: str
    pc: RTCPeerConnection
    pipeline: ParticipantPipeline
    receivers: list[PassthroughReceiver]
    connection_states: list[str] = field(default_factory=lambda: ["new"])
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def stats(self) -> list[TrackStats]:
        return self.pipeline.stats


class Recorder:
    def __init__(
        self,
        store: RecordingStore,
        recording_id: str,
        ice_servers: Sequence[IceServer] = (),
        options: RecordingOptions = DEFAULT_OPTIONS,
        bitrate_hints: BitrateHints | None = DEFAULT_HINTS,
        on_segment: Callable[[SegmentRecord], None] | None = None,
    ) -> None:
        check_aiortc_version()
        self.recording_id = check_id(recording_id, "recording id")
        self.store = store
        self.directory = store.recording_dir(recording_id)
        self.options = options
        self.participants: dict[str, RecordedParticipant] = {}
        self.segments: list[SegmentRecord] = []
        self._ice_servers = list(ice_servers)
        self._hints = bitrate_hints
        self._on_segment = on_segment
        self._manifest = store.manifest(recording_id)
        self._report_lock = asyncio.Lock()
        self._segment_added = asyncio.Condition()
        # Every participant's timestamps count from here: their recordings line up.
        self.epoch = time.time()
        self._pipelines: list[ParticipantPipeline] = []
        self._closed = False

    async def start(self) -> None:
        """Create the recording's directory and the manifest's first, signed line."""
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self._manifest.start, utc_now())

    async def add_participant(self, participant_id: str, offer_sdp: str) -> str:
        """Answer a sender's offer receive-only; returns the answer's SDP. A participant who
        offers again (a reload) replaces its earlier connection; numbering goes on."""
        if self._closed:
            raise RecorderError(f"recording {self.recording_id} is closed")
        check_id(participant_id, "participant id")
        if participant_id in self.participants:
            await self.remove_participant(participant_id)
        offer = SessionDescription.parse(offer_sdp)
        if not any(m.kind in ("audio", "video") for m in offer.media):
            raise RecorderError("the offer has no audio or video to record")

        pc = RTCPeerConnection(rtc_configuration(self._ice_servers))
        pipeline = self.open_pipeline(participant_id)
        entry = RecordedParticipant(participant_id, pc, pipeline, [])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            # setRemoteDescription created the receivers; aiortc starts them only once ICE and
            # DTLS are up, well after this.
            for transceiver in pc.getTransceivers():
                kind: Kind = "video" if transceiver.kind == "video" else "audio"
                sink = pipeline.add_track(kind)
                tapped = tap_receiver(transceiver.receiver, sink)
                sink.set_keyframe_request(tapped.request_keyframe)
                entry.receivers.append(tapped)
            await pc.setLocalDescription(await pc.createAnswer())
            _check_codecs(str(pc.localDescription.sdp))
            enlarge_receive_buffers(pc)
        except Exception:
            await pc.close()
            await pipeline.close()
            raise
        pc.on("connectionstatechange", lambda: self._on_state(entry))
        self.participants[participant_id] = entry
        answer = str(pc.localDescription.sdp)
        return add_bitrate_hints(answer, self._hints) if self._hints else answer

    def open_pipeline(
        self, participant_id: str, options: RecordingOptions | None = None
    ) -> ParticipantPipeline:
        """A participant's recording fed by the caller rather than a peer connection (the
        benchmark, tests, a future media server). `close()` closes it if the caller has not."""
        if self._closed:
            raise RecorderError(f"recording {self.recording_id} is closed")
        check_id(participant_id, "participant id")
        pipeline = ParticipantPipeline(
            self.directory / participant_id,
            self.epoch,
            lambda segment: self._segment_done(participant_id, segment),
            options or self.options,
            name=f"{self.recording_id}/{participant_id}",
        )
        self._pipelines.append(pipeline)
        return pipeline

    async def add_candidate(self, participant_id: str, msg: IceCandidate) -> None:
        """A browser's trickled candidate (aiortc's own are all in its SDP)."""
        entry = self._participant(participant_id)
        if not msg.candidate:
            await entry.pc.addIceCandidate(None)
            return
        candidate = candidate_from_sdp(msg.candidate.removeprefix("candidate:"))
        candidate.sdpMid = msg.sdp_mid
        candidate.sdpMLineIndex = msg.sdp_mline_index
        await entry.pc.addIceCandidate(candidate)

    async def remove_participant(self, participant_id: str) -> list[FinishedSegment]:
        """Stop recording one participant: its last segment is finished and reported."""
        entry = self.participants.pop(participant_id, None)
        if entry is None:
            raise RecorderError(f"{participant_id} is not being recorded")
        await entry.pc.close()
        return await entry.pipeline.close()

    async def close(self, reason: str = "closed") -> list[SegmentRecord]:
        """Stop every participant, finish their segments, and end the manifest."""
        if not self._closed:
            self._closed = True
            for participant_id in list(self.participants):
                await self.remove_participant(participant_id)
            for pipeline in self._pipelines:
                await pipeline.close()
            await asyncio.to_thread(self._manifest.end, reason, utc_now())
        return list(self.segments)

    async def wait_segments(self, count: int, timeout: float) -> list[SegmentRecord]:
        """Wait until `count` segments in all have been finished and recorded."""
        async with asyncio.timeout(timeout), self._segment_added:
            await self._segment_added.wait_for(lambda: len(self.segments) >= count)
        return list(self.segments)

    def _participant(self, participant_id: str) -> RecordedParticipant:
        entry = self.participants.get(participant_id)
        if entry is None:
            raise RecorderError(f"{participant_id} is not being recorded")
        return entry

    def _on_state(self, entry: RecordedParticipant) -> None:
        state = entry.pc.connectionState
        if state != entry.connection_states[-1]:
            entry.connection_states.append(state)
            log.info("recording %s: %s %s", self.recording_id, entry.participant_id, state)
        if state == "connected":
            entry.connected.set()

    async def _segment_done(self, participant_id: str, segment: FinishedSegment) -> None:
        record = segment_record(self.recording_id, participant_id, self.directory, segment)
        # One at a time: manifest lines are chained in the order segments finished.
        async with self._report_lock:
            if not self._manifest.started:  # start() was not awaited: the chain needs it
                await asyncio.to_thread(self._manifest.start, utc_now())
            await self.store.add_segment(self._manifest, record)
        async with self._segment_added:
            self.segments.append(record)
            self._segment_added.notify_all()
        if self._on_segment is not None:
            with contextlib.suppress(Exception):
                self._on_segment(record)


def _check_codecs(answer_sdp: str) -> None:
    for media in SessionDescription.parse(answer_sdp).media:
        if media.kind not in ("audio", "video") or media.direction == "inactive":
            continue
        names = [c.name for c in media.rtp.codecs if c.name.lower() != "rtx"]
        if not names or names[0] not in PASSTHROUGH_CODECS:
            raise RecorderError(
                f"cannot record {media.kind} as {names[:1] or 'nothing'}: "
                f"only {sorted(PASSTHROUGH_CODECS)} are written as received"
            )
