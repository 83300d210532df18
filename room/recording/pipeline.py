"""One participant's recording: encoded frames from its tracks put on one time base,
interleaved, and cut into segments that each start on a keyframe.

Runs on the event loop and does little per frame (a few arithmetic steps and a heap push);
muxing and file work go to the participant's `SegmentWriter` thread.

Timing: a frame's time comes from its sender's RTCP reports (see `clock`). The start is held
up to `sync_wait` for those reports so the first segment is already in sync; a sender that
never reports is timed by arrival. Timestamps are milliseconds since the recording's epoch,
strictly increasing per stream across all segments.

Segments: a segment ends at the first keyframe at least `segment_seconds` after it began
(the recorder asks for that keyframe with a PLI, again every `keyframe_retry` seconds), when
a track starts late, or when the picture size changes: a container's streams are fixed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from room.recording.bitstream import picture_size
from room.recording.clock import ParticipantClock, SlewedTime, TrackClock
from room.recording.receiver import PASSTHROUGH_CODECS, EncodedFrame, Kind
from room.recording.segments import (
    FinishedSegment,
    MediaPacket,
    SegmentWriter,
    StreamSpec,
    next_index,
)

log = logging.getLogger(__name__)

OnSegment = Callable[[FinishedSegment], Awaitable[None]]
KeyframeRequest = Callable[[], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    segment_seconds: float = 30.0
    # aiortc sends its first sender report 0.5-1.5 s into the call, browsers within ~1 s.
    sync_wait: float = 2.5
    # How far one track may run ahead of a silent one before its frames are written anyway.
    max_skew: float = 1.0
    keyframe_retry: float = 1.0

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {self.segment_seconds}")


DEFAULT_OPTIONS: Final = RecordingOptions()


@dataclass
class TrackStats:
    kind: Kind
    codec: str | None = None
    frames_in: int = 0
    frames_written: int = 0
    dropped_before_keyframe: int = 0
    dropped_unsupported: int = 0
    keyframe_requests: int = 0
    sender_reports: int = 0


@dataclass
class _Track:
    index: int
    kind: Kind
    request_keyframe: KeyframeRequest | None
    stats: TrackStats
    clock: TrackClock | None = None
    timeline: SlewedTime | None = None
    spec: StreamSpec | None = None
    last_pts: int = -1
    ended: bool = False
    waiting_keyframe: bool = True
    last_request: float = float("-inf")
    # Frames that arrived before the start, with their unwrapped RTP time.
    held: list[tuple[int, EncodedFrame]] = field(default_factory=list)


class _TrackInput:
    """The `FrameSink` for one track: forwards to the pipeline with the track's identity."""

    def __init__(self, pipeline: ParticipantPipeline, track: _Track) -> None:
        self._pipeline = pipeline
        self._track = track

    def set_keyframe_request(self, request: KeyframeRequest) -> None:
        """How to ask this track's sender for a keyframe (a PLI, once there is a receiver)."""
        self._track.request_keyframe = request

    def on_frame(self, frame: EncodedFrame) -> None:
        self._pipeline._on_frame(self._track, frame)

    def on_first_packet(self, rtp_timestamp: int, clock_rate: int, at: float) -> None:
        if self._track.clock is None:
            self._track.clock = TrackClock(clock_rate, rtp_timestamp, at)

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int, at: float) -> None:
        if self._track.clock is not None:
            self._track.clock.add_report(ntp_timestamp, rtp_timestamp)
            self._track.stats.sender_reports += 1
            self._pipeline._on_report()

    def on_end(self) -> None:
        self._pipeline._on_end(self._track)


@dataclass
class _Segment:
    index: int
    specs: list[StreamSpec]
    streams: dict[int, int]  # track index -> stream index in the file
    lead: int  # the track whose keyframes may end it
    start_ms: int | None = None


class ParticipantPipeline:
    """Records the tracks of one participant into `directory`; one per peer connection."""

    def __init__(
        self,
        directory: Path,
        epoch: float,
        on_segment: OnSegment,
        options: RecordingOptions = DEFAULT_OPTIONS,
        name: str = "participant",
    ) -> None:
        self.directory = directory
        self.name = name
        self._epoch = epoch
        self._on_segment = on_segment
        self._options = options
        self._tracks: list[_Track] = []
        self._clock = ParticipantClock()
        self._writer = SegmentWriter(directory, name)
        self._heap: list[tuple[int, int, int, EncodedFrame]] = []
        self._seq = itertools.count()
        self._started = False
        self._first_held_at: float | None = None
        self._segment: _Segment | None = None
        self._next_index: int | None = None
        self._finishing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._closed = False
        self.segments: list[FinishedSegment] = []

    @property
    def stats(self) -> list[TrackStats]:
        return [t.stats for t in self._tracks]

    @property
    def error(self) -> BaseException | None:
        return self._writer.error

    def add_track(self, kind: Kind, request_keyframe: KeyframeRequest | None = None) -> _TrackInput:
        """A sink for one more track (call before media flows)."""
        track = _Track(len(self._tracks), kind, request_keyframe, TrackStats(kind))
        self._tracks.append(track)
        return _TrackInput(self, track)

    # -- frames in -----------------------------------------------------------------------

    def _on_frame(self, track: _Track, frame: EncodedFrame) -> None:
        if self._closed:
            return
        track.stats.frames_in += 1
        if frame.codec not in PASSTHROUGH_CODECS or (track.stats.codec not in (None, frame.codec)):
            if not track.stats.dropped_unsupported:
                log.warning("%s: cannot record %s %s frames", self.name, track.kind, frame.codec)
            track.stats.dropped_unsupported += 1
            return
        track.stats.codec = frame.codec
        if track.clock is None:  # no packet was seen: only when fed directly (the benchmark)
            track.clock = TrackClock(frame.clock_rate, frame.rtp_timestamp, frame.received_at)
        rtp = track.clock.unwrap(frame.rtp_timestamp)
        if track.waiting_keyframe:
            if frame.keyframe and track.spec is None:
                self._set_spec(track, frame)
            if not frame.keyframe or track.spec is None:
                # Undecodable without the keyframe before it (or, for H.264, without the SPS).
                track.stats.dropped_before_keyframe += 1
                self._ask_keyframe(track)
                return
            track.waiting_keyframe = False
        if not self._started:
            track.held.append((rtp, frame))
            if self._first_held_at is None:
                self._first_held_at = time.monotonic()
            self._maybe_start()
            return
        self._push(track, rtp, frame)
        self._release()

    def _on_report(self) -> None:
        if not self._started:
            self._maybe_start()

    def _on_end(self, track: _Track) -> None:
        track.ended = True
        if self._started:
            self._release()

    def _set_spec(self, track: _Track, frame: EncodedFrame) -> None:
        if track.kind == "audio":
            track.spec = StreamSpec("audio", frame.codec, sample_rate=frame.clock_rate)
            return
        size = picture_size(frame.codec, frame.data)
        if size is not None:
            track.spec = StreamSpec("video", frame.codec, width=size[0], height=size[1])

    def _maybe_start(self) -> None:
        live = [t for t in self._tracks if not t.ended]
        ready = all(t.held and t.clock is not None and t.clock.has_report for t in live)
        waited = (
            self._first_held_at is not None
            and time.monotonic() - self._first_held_at >= self._options.sync_wait
        )
        if not (ready or waited):
            return
        self._started = True
        self._clock.settle([t.clock for t in self._tracks if t.clock is not None])
        for track in self._tracks:
            held, track.held = track.held, []
            for rtp, frame in held:
                self._push(track, rtp, frame)
        self._release()

    def _push(self, track: _Track, rtp: int, frame: EncodedFrame) -> None:
        assert track.clock is not None
        if not self._clock.synchronised and track.clock.has_report:
            self._clock.settle([t.clock for t in self._tracks if t.clock is not None])
        if track.timeline is None:
            track.timeline = SlewedTime(track.clock.clock_rate)
        at = track.timeline.at(rtp, self._clock.local_time(track.clock, rtp))
        pts = max(round((at - self._epoch) * 1000), track.last_pts + 1, 0)
        track.last_pts = pts
        heapq.heappush(self._heap, (pts, next(self._seq), track.index, frame))
        self._keyframe_due(track, pts, frame)

    def _keyframe_due(self, track: _Track, pts: int, frame: EncodedFrame) -> None:
        """Ask the lead video track for the keyframe that will end the current segment."""
        seg = self._segment
        if seg is None or seg.start_ms is None or track.index != seg.lead:
            return
        if track.kind != "video" or frame.keyframe:
            return
        if pts - seg.start_ms >= self._options.segment_seconds * 1000:
            self._ask_keyframe(track)

    def _ask_keyframe(self, track: _Track) -> None:
        now = time.monotonic()
        if track.request_keyframe is None or now - track.last_request < (
            self._options.keyframe_retry
        ):
            return
        track.last_request = now
        track.stats.keyframe_requests += 1
        self._spawn(track.request_keyframe())

    # -- interleaving and segments ---------------------------------------------------------

    def _release(self, everything: bool = False) -> None:
        live = [t for t in self._tracks if not t.ended]
        lasts = [t.last_pts for t in live if t.last_pts >= 0]
        watermark: float
        if everything:
            watermark = float("inf")
        elif not lasts:
            return
        else:
            watermark = max(lasts) - self._options.max_skew * 1000
            if len(lasts) == len(live):
                watermark = max(watermark, min(lasts))
        batch: list[MediaPacket] = []
        while self._heap and self._heap[0][0] <= watermark:
            pts, _, index, frame = heapq.heappop(self._heap)
            track = self._tracks[index]
            if self._cut_before(track, pts, frame):
                self._writer.write(batch)
                batch = []
                self._new_segment(track, pts)
            seg = self._segment
            assert seg is not None
            batch.append(MediaPacket(seg.streams[index], pts, frame.data, frame.keyframe))
            track.stats.frames_written += 1
        self._writer.write(batch)

    def _cut_before(self, track: _Track, pts: int, frame: EncodedFrame) -> bool:
        seg = self._segment
        if seg is None or track.index not in seg.streams:
            return True  # the first, or a track that started late: a container's streams are fixed
        if not frame.keyframe:
            return False
        if track.kind == "video":
            size = picture_size(frame.codec, frame.data)
            spec = seg.specs[seg.streams[track.index]]
            if size is not None and size != (spec.width, spec.height):
                # The sender changed the picture size: the container header says the old one.
                track.spec = StreamSpec("video", frame.codec, width=size[0], height=size[1])
                return True
        if track.index != seg.lead or seg.start_ms is None:
            return False
        return pts - seg.start_ms >= self._options.segment_seconds * 1000

    def _new_segment(self, trigger: _Track, pts: int) -> None:
        if self._segment is not None:
            self._finish_segment()
        if self._next_index is None:
            self._next_index = next_index(self.directory)
        members = [t for t in self._tracks if t.spec is not None and (t.last_pts >= 0)]
        if trigger not in members:
            members.append(trigger)
        videos = [t for t in members if t.kind == "video"]
        lead = trigger if trigger.kind == "video" or not videos else videos[0]
        specs: list[StreamSpec] = []
        streams: dict[int, int] = {}
        for t in members:
            assert t.spec is not None
            streams[t.index] = len(specs)
            specs.append(t.spec)
        self._segment = _Segment(self._next_index, specs, streams, lead.index, pts)
        self._next_index += 1
        self._writer.open(self._segment.index, specs)
        # Other video tracks continue mid-picture in this file: ask them for a fresh start.
        for t in videos:
            if t is not trigger:
                self._ask_keyframe(t)

    def _finish_segment(self) -> None:
        self._segment = None
        future = asyncio.wrap_future(self._writer.finish())
        previous = self._finishing

        async def report() -> None:
            # Segments are reported in order, whatever order the awaits wake in.
            if previous is not None:
                await previous
            try:
                finished = await future
                if finished is not None:
                    self.segments.append(finished)
                    await self._on_segment(finished)
            except Exception:
                # The writer logged its own failure; a failing log must not stop the next.
                log.exception("%s: segment could not be finished or reported", self.name)

        self._finishing = asyncio.create_task(report(), name=f"segment-{self.name}")

    def _spawn(self, coro: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> list[FinishedSegment]:
        """Write everything held, finish the open segment and wait until it is reported."""
        if not self._closed:
            self._closed = True
            if not self._started:
                self._started = True
                for track in self._tracks:
                    held, track.held = track.held, []
                    for rtp, frame in held:
                        self._push(track, rtp, frame)
            self._release(everything=True)
            if self._segment is not None:
                self._finish_segment()
        try:
            if self._finishing is not None:
                await self._finishing
            for task in list(self._tasks):
                task.cancel()
        finally:
            self._writer.shutdown()
        return list(self.segments)
