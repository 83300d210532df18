"""Real aiortc senders for recorder tests, and readers of what the recorder wrote.

Video and audio of a sender run off one shared clock: frame n of the pattern is due at
epoch + n/fps, and a 100 ms beep starts at epoch + k seconds, so a recording's audio/video
sync can be measured from the files alone.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import VIDEO_TIME_BASE, AudioStreamTrack, MediaStreamError

from room.recording.recorder import Recorder
from room.synthetic import PatternVideoTrack, read_pattern

BEEP_SECONDS = 0.1
BEEP_THRESHOLD = 0.05  # of full scale; the beep is at 0.3
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms


class ClockedPatternTrack(PatternVideoTrack):
    """The pattern track, paced from a shared epoch: frame n is due at epoch + n / fps."""

    def __init__(self, epoch: float, width: int, height: int, fps: int = 30) -> None:
        super().__init__(1, width, height, fps)
        self.epoch = epoch
        self.fps = fps
        self._n = 0

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        n = self._n
        self._n += 1
        wait = self.epoch + n / self.fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return n * 90_000 // self.fps, VIDEO_TIME_BASE


class BeepAudioTrack(AudioStreamTrack):
    """20 ms frames from the same epoch: a 440 Hz beep for the first 100 ms of every second."""

    def __init__(self, epoch: float) -> None:
        super().__init__()
        self.epoch = epoch
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = self.frames_sent
        self.frames_sent += 1
        wait = self.epoch + n * AUDIO_SAMPLES / AUDIO_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (n * AUDIO_SAMPLES + np.arange(AUDIO_SAMPLES)) / AUDIO_RATE
        pcm = np.where(t % 1.0 < BEEP_SECONDS, 0.3 * 32767 * np.sin(2 * np.pi * 440 * t), 0)
        frame = av.AudioFrame.from_ndarray(
            np.round(pcm).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def sender_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def connect(
    recorder: Recorder, participant: str, tracks: Sequence[MediaStreamTrack], codec: str = "VP8"
) -> RTCPeerConnection:
    """A sending aiortc peer offering `tracks` to the recorder, connected."""
    pc = sender_pc()
    for track in tracks:
        transceiver = pc.addTransceiver(track, direction="sendonly")
        if track.kind == "video":
            caps = [c for c in _video_codecs() if c.mimeType == f"video/{codec}"]
            transceiver.setCodecPreferences(caps)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await recorder.add_participant(participant, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


def _video_codecs() -> list:  # type: ignore[type-arg]
    from aiortc import RTCRtpSender

    return list(RTCRtpSender.getCapabilities("video").codecs)


@dataclass(frozen=True)
class VideoRead:
    pts_ms: list[int]
    counters: list[int]  # -1 where the pattern did not read
    sizes: set[tuple[int, int]]
    first_is_keyframe: bool


def read_video(path: Path) -> VideoRead:
    """Decode a segment's video (the test decodes; the recorder never does)."""
    pts: list[int] = []
    counters: list[int] = []
    sizes: set[tuple[int, int]] = set()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first_key = next(iter(container.demux(stream))).is_keyframe
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            assert frame.pts is not None and frame.time_base is not None
            pts.append(round(frame.pts * frame.time_base * 1000))
            read = read_pattern(frame)
            counters.append(-1 if read is None else read[1])
            sizes.add((frame.width, frame.height))
    return VideoRead(pts, counters, sizes, first_key)


def read_audio(path: Path) -> tuple[list[int], list[float]]:
    """(pts in ms, beep onsets in ms) of a segment's audio."""
    pts: list[int] = []
    onsets: list[float] = []
    loud = False
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return pts, onsets
        for frame in container.decode(audio=0):
            assert frame.pts is not None and frame.time_base is not None
            start = float(frame.pts * frame.time_base * 1000)
            pts.append(round(start))
            samples = frame.to_ndarray()
            channels = len(frame.layout.channels)
            first = samples[0] if frame.format.is_planar else samples[0][::channels]
            scale = 1.0 if frame.format.name.startswith(("flt", "dbl")) else 32768.0
            above = np.flatnonzero(np.abs(first.astype(np.float64)) / scale > BEEP_THRESHOLD)
            if above.size and not loud:
                onsets.append(start + above[0] * 1000 / frame.sample_rate)
            loud = bool(above.size)
    return pts, onsets
