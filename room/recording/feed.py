"""Pre-encoded media fed straight into a `ParticipantPipeline`, with no network: what the
benchmark and the file-level tests record. Frames are encoded once with PyAV (the synthetic
pattern and tone), then handed over as aiortc's receiver would hand them: RTP timestamps from
a random origin, with sender reports."""

from __future__ import annotations

import asyncio
import fractions
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext

from room.recording.bitstream import is_keyframe
from room.recording.clock import ntp_to_seconds
from room.recording.pipeline import ParticipantPipeline
from room.recording.receiver import EncodedFrame, FrameSink
from room.synthetic import PatternVideoTrack

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
AUDIO_FRAME = 960  # 20 ms at 48 kHz, what WebRTC sends


@dataclass(frozen=True, slots=True)
class EncodedStream:
    kind: str
    codec: str  # "VP8", "H264" or "opus"
    clock_rate: int
    step: int  # RTP ticks per frame
    frames: list[bytes]

    @property
    def keyframes(self) -> int:
        return sum(is_keyframe(self.codec, f) for f in self.frames)


def encode_video(
    codec: str,
    width: int,
    height: int,
    frames: int,
    fps: int = 30,
    bitrate: int = 1_000_000,
    keyframe_every: int = 60,
    side: int = 1,
) -> EncodedStream:
    """The synthetic pattern (readable frame counter) encoded as a WebRTC sender would."""
    name = {"VP8": "libvpx", "H264": "libx264"}[codec]
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, fps)
    ctx.framerate = fractions.Fraction(fps, 1)
    ctx.bit_rate = bitrate
    ctx.gop_size = keyframe_every
    if codec == "VP8":
        ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        # WebRTC's H.264: Baseline, no B-frames, SPS/PPS with every IDR (aiortc and browsers).
        ctx.profile = "Baseline"
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "repeat-headers=1",
        }
    track = PatternVideoTrack(side, width, height, fps)
    out: list[bytes] = []
    for n in range(frames):
        frame = track.render(n)
        frame.pts = n
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return EncodedStream("video", codec, VIDEO_CLOCK, VIDEO_CLOCK // fps, out)


def encode_audio(
    frames: int, frequency: float = 440.0, beep_every: float | None = None
) -> EncodedStream:
    """Opus, 20 ms packets: a continuous tone, or with `beep_every` seconds a 100 ms beep at
    the start of each period and silence between (for measuring audio/video sync)."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = AUDIO_CLOCK
    ctx.layout = "stereo"
    ctx.format = "s16"
    ctx.time_base = fractions.Fraction(1, AUDIO_CLOCK)
    out: list[bytes] = []
    for n in range(frames):
        t = (n * AUDIO_FRAME + np.arange(AUDIO_FRAME)) / AUDIO_CLOCK
        pcm = 0.3 * 32767 * np.sin(2 * np.pi * frequency * t)
        if beep_every is not None:
            pcm = np.where((t % beep_every) < 0.1, pcm, 0.0)
        stereo = np.repeat(np.round(pcm).astype(np.int16), 2)[None, :]
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = n * AUDIO_FRAME
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return EncodedStream("audio", "opus", AUDIO_CLOCK, AUDIO_FRAME, out)


class _Sender:
    """One stream's RTP clock and sender reports, as a WebRTC sender would keep them."""

    def __init__(self, stream: EncodedStream, sink: FrameSink, epoch: float) -> None:
        self.stream = stream
        self.sink = sink
        self.origin = random.getrandbits(32)
        self.epoch = epoch
        self.sent = 0

    def rtp(self, n: int) -> int:
        return (self.origin + n * self.stream.step) & 0xFFFFFFFF

    def due(self, n: int) -> float:
        return self.epoch + n * self.stream.step / self.stream.clock_rate

    def send(self, n: int, now: float) -> None:
        frames = self.stream.frames
        data = frames[n % len(frames)]
        if n == 0:
            self.sink.on_first_packet(self.rtp(0), self.stream.clock_rate, now)
            self.report(0)
        self.sink.on_frame(
            EncodedFrame(
                kind="video" if self.stream.kind == "video" else "audio",
                codec=self.stream.codec,
                clock_rate=self.stream.clock_rate,
                rtp_timestamp=self.rtp(n),
                data=data,
                keyframe=is_keyframe(self.stream.codec, data),
                received_at=now,
            )
        )
        self.sent = n + 1

    def report(self, n: int) -> None:
        at = self.due(n)
        ntp = int((at + 2_208_988_800) * (1 << 32))
        assert abs(ntp_to_seconds(ntp) - at) < 1e-6
        self.sink.on_sender_report(ntp, self.rtp(n), at)


async def feed(
    pipeline: ParticipantPipeline,
    streams: Sequence[EncodedStream],
    seconds: float,
    realtime: bool = True,
    rtp_origin: int | None = None,
) -> list[int]:
    """Feed `seconds` of each stream (looping its frames) into new tracks of `pipeline`, paced
    in real time or as fast as possible; returns the frames fed per stream."""
    start = time.time()
    senders = [
        _Sender(s, pipeline.add_track("video" if s.kind == "video" else "audio"), start)
        for s in streams
    ]
    if rtp_origin is not None:
        for sender in senders:
            sender.origin = rtp_origin
    totals = [int(seconds * s.clock_rate / s.step) for s in streams]
    counters = [0] * len(senders)
    while True:
        pending = [
            (sender.due(counters[i]), i)
            for i, sender in enumerate(senders)
            if counters[i] < totals[i]
        ]
        if not pending:
            break
        due, i = min(pending)
        if realtime:
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        n = counters[i]
        senders[i].send(n, due if not realtime else time.time())
        if n % 50 == 49:
            senders[i].report(n)
        counters[i] += 1
        if not realtime and n % 30 == 0:
            await asyncio.sleep(0)  # let the segment reports run
    return [s.sent for s in senders]
