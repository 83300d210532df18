"""The recorder in real calls: aiortc senders on loopback, files read back with PyAV.

Tolerances, stated once: of the frames sent, at most 5 are missing from the recording (those in
flight when the call ends, or before the first keyframe), none is duplicated or out of order;
a segment's duration matches its frame count within 5 % + 40 ms (timestamps follow the
sender's reports, which a loaded sender makes late: the recorder corrects its timeline by at
most 5 % of the time it spreads a correction over); audio and video agree within 100 ms,
measured from beeps at known times against the frame counters.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import statistics
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpreceiver
import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection

from room.recording.cli import verify_main
from room.recording.pipeline import RecordingOptions
from room.recording.receiver import VIDEO_JITTER_CAPACITY
from room.recording.recorder import Recorder
from room.recording.store import RecordingStore
from tests.recording.helpers import (
    BeepAudioTrack,
    ClockedPatternTrack,
    connect,
    read_audio,
    read_video,
)

SEGMENT = 2.0
FPS = 30
MAX_MISSING = 5
SLEW = 0.05
DURATION_TOLERANCE_MS = 40
SYNC_TOLERANCE_MS = 100


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every decoder aiortc creates for a received track, by MIME type (the recorder: none)."""
    created: list[str] = []
    real = aiortc.codecs.get_decoder

    def counting(codec: Any) -> Any:
        created.append(codec.mimeType)
        return real(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting)
    return created


@pytest.fixture
async def store(tmp_path: Path) -> RecordingStore:
    return await RecordingStore.open(tmp_path / "data")


@pytest.fixture
async def recorder(store: RecordingStore) -> AsyncIterator[Recorder]:
    rec = Recorder(store, "consultation-1", options=RecordingOptions(segment_seconds=SEGMENT))
    await rec.start()
    yield rec
    await rec.close()


def decoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith("-decoder")]


async def until(condition: Any, timeout: float, step: float = 0.05) -> None:
    """Poll a condition that has no event of its own (a track's frame counter)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(step)


@pytest.mark.timeout(60)
async def test_call_is_recorded_in_sync_without_decoding(
    recorder: Recorder, store: RecordingStore, decoders: list[str]
) -> None:
    epoch = time.monotonic() + 0.3
    video = ClockedPatternTrack(epoch, 320, 240, FPS)
    audio = BeepAudioTrack(epoch)
    sender = await connect(recorder, "village-1", [video, audio])
    entry = recorder.participants["village-1"]
    async with asyncio.timeout(10):
        await entry.connected.wait()
    await recorder.wait_segments(2, timeout=20)
    assert decoder_threads() == []
    await until(lambda: video.frames_sent >= 5.5 * FPS, timeout=10)
    await sender.close()
    sent = video.frames_sent
    records = await recorder.close()

    assert entry.connection_states[:3] == ["new", "connecting", "connected"]
    answer = entry.pc.localDescription.sdp
    assert answer.count("a=recvonly") == 2 and "a=sendrecv" not in answer
    assert decoders == []
    assert [r.decoder_started for r in entry.receivers] == [False, False]
    assert all(r.frames_delivered > 0 for r in entry.receivers)
    assert len(records) >= 3
    assert [Path(r.file).name for r in records] == [
        f"seg-{i:06d}.webm" for i in range(1, len(records) + 1)
    ]
    stats = {s.kind: s for s in entry.stats}
    assert stats["video"].sender_reports > 0 and stats["audio"].sender_reports > 0

    directory = recorder.directory
    counters: list[int] = []
    video_pts: list[int] = []
    audio_pts: list[int] = []
    onsets: list[float] = []
    for record in records:
        path = directory / record.file
        seen = read_video(path)
        assert seen.first_is_keyframe, record.file
        assert seen.sizes == {(320, 240)}
        assert -1 not in seen.counters, f"{record.file}: a frame did not decode cleanly"
        # A segment's duration matches its frame count.
        span = seen.pts_ms[-1] - seen.pts_ms[0]
        expected = (seen.counters[-1] - seen.counters[0]) * 1000 / FPS
        assert abs(span - expected) <= SLEW * expected + DURATION_TOLERANCE_MS, record.file
        counters += seen.counters
        video_pts += seen.pts_ms
        a_pts, a_onsets = read_audio(path)
        audio_pts += a_pts
        onsets += a_onsets

    # Every frame once, in order; only a few missing at the ends.
    assert counters == sorted(set(counters))
    assert len(counters) >= sent - MAX_MISSING
    assert max(b - a for a, b in itertools.pairwise(counters)) <= 2
    # Timestamps strictly increase per stream across segments.
    assert all(b > a for a, b in itertools.pairwise(video_pts))
    assert all(b > a for a, b in itertools.pairwise(audio_pts))
    # The audio covers the video's span.
    assert abs(len(audio_pts) * 20 - (video_pts[-1] - video_pts[0])) <= 300

    # Sync: where the recording puts the shared epoch, by video and by audio.
    video_epoch = statistics.median(
        p - c * 1000 / FPS for p, c in zip(video_pts, counters, strict=True)
    )
    assert len(onsets) >= 4
    offsets = [o - round((o - video_epoch) / 1000) * 1000 for o in onsets]
    audio_epoch = statistics.median(offsets)
    assert abs(audio_epoch - video_epoch) <= SYNC_TOLERANCE_MS, (audio_epoch, video_epoch)

    report = await store.verify("consultation-1")
    assert report.ok and report.finished, report.problems
    assert [c.file for c in report.segments] == [r.file for r in records]

    # Flip one byte of the second segment: verify names it, and only it.
    target = directory / records[1].file
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = await store.verify("consultation-1")
    assert report.files_with("segment_altered") == [records[1].file]
    assert [p.code for p in report.problems] == ["segment_altered"]
    code = await asyncio.to_thread(
        verify_main, ["consultation-1", "--data-dir", str(store.data_dir)]
    )
    assert code == 1


@pytest.mark.timeout(60)
async def test_h264_call_is_recorded_as_matroska(
    recorder: Recorder, store: RecordingStore, decoders: list[str]
) -> None:
    epoch = time.monotonic() + 0.3
    video = ClockedPatternTrack(epoch, 320, 240, FPS)
    sender = await connect(recorder, "lawyer-1", [video, BeepAudioTrack(epoch)], codec="H264")
    await recorder.wait_segments(1, timeout=20)
    await sender.close()
    records = await recorder.close()
    assert decoders == []
    assert records[0].file.endswith(".mkv")
    counters: list[int] = []
    for record in records:
        seen = read_video(recorder.directory / record.file)
        assert seen.first_is_keyframe and seen.sizes == {(320, 240)}
        counters += [c for c in seen.counters if c >= 0]
    assert counters == sorted(set(counters)) and len(counters) >= 2 * FPS
    assert (await store.verify("consultation-1")).ok


# -- a keyframe bigger than aiortc's jitter buffer ------------------------------------------

BIG_SIZE = (1280, 720)
# aiortc packs VP8 into 1300-byte RTP payloads; its video jitter buffer holds 512 of them.
AIORTC_BUFFER_BYTES = 512 * 1300


def encode_noise_keyframe_gop(frames: int) -> list[bytes]:
    """VP8 of random noise at very high quality: the first frame is a keyframe over 1 MB."""
    width, height = BIG_SIZE
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, FPS)
    ctx.bit_rate = 200_000_000
    ctx.options = {"qmin": "0", "qmax": "4", "deadline": "realtime", "cpu-used": "8"}
    noise = np.random.default_rng(7).integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
    out: list[bytes] = []
    for n in range(frames):
        frame = av.VideoFrame.from_ndarray(noise, format="yuv420p")
        frame.pts = n
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


class PreEncodedTrack(MediaStreamTrack):
    """Sends pre-encoded VP8 packets (aiortc packetizes them without encoding), looping the
    group of pictures so a lost keyframe comes round again."""

    kind = "video"

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self._packets = packets
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> av.Packet[Any]:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self.sent / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self._packets[self.sent % len(self._packets)])
        packet.pts = self.sent * 90_000 // FPS
        packet.time_base = fractions.Fraction(1, 90_000)
        self.sent += 1
        return packet


async def aiortc_default_video_buffer() -> int:
    """The capacity aiortc itself gives a video receiver: what the recorder must exceed."""
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        capacity: int = vars(receiver)["_RTCRtpReceiver__jitter_buffer"].capacity
        return capacity
    finally:
        await pc.close()


@pytest.mark.timeout(90)
async def test_keyframe_larger_than_aiortc_buffer_is_recorded(
    recorder: Recorder, decoders: list[str]
) -> None:
    packets = await asyncio.to_thread(encode_noise_keyframe_gop, FPS)
    keyframe = len(packets[0])
    # Bigger than all aiortc would buffer, within what the recorder's buffer holds.
    assert await aiortc_default_video_buffer() * 1300 == AIORTC_BUFFER_BYTES
    assert AIORTC_BUFFER_BYTES < keyframe < VIDEO_JITTER_CAPACITY * 1200

    track = PreEncodedTrack(packets)
    sender = await connect(recorder, "village-4k", [track])
    entry = recorder.participants["village-4k"]
    # A second of frames accepted after the keyframe (a keyframe lost on a loaded machine
    # comes round again: the track loops its group of pictures every second).
    stats = entry.stats[0]
    await until(lambda: stats.frames_in - stats.dropped_before_keyframe >= FPS, timeout=45)
    await sender.close()
    records = await recorder.close()

    assert decoders == []
    assert [r.decoder_started for r in entry.receivers] == [False]
    assert records, entry.stats
    path = recorder.directory / records[0].file
    with av.open(str(path)) as container:
        sizes = [(p.size, p.is_keyframe) for p in container.demux(video=0) if p.size]
    assert sizes[0] == (keyframe, True)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert frames and {(f.width, f.height) for f in frames} == {BIG_SIZE}


@pytest.mark.timeout(60)
async def test_two_participants_and_a_reconnect_share_one_recording(
    recorder: Recorder, store: RecordingStore
) -> None:
    epoch = time.monotonic() + 0.3
    village = await connect(recorder, "village-1", [ClockedPatternTrack(epoch, 160, 120)])
    lawyer = await connect(recorder, "lawyer-1", [BeepAudioTrack(epoch)])
    await recorder.wait_segments(1, timeout=20)
    # The village terminal reloads: a new offer replaces its connection, numbering goes on.
    await village.close()
    first = len([r for r in recorder.segments if r.participant == "village-1"])
    village = await connect(recorder, "village-1", [ClockedPatternTrack(epoch, 160, 120)])
    entry = recorder.participants["village-1"]
    stats = entry.stats[0]
    await until(lambda: stats.frames_written >= FPS, timeout=20)
    await village.close()
    await lawyer.close()
    records = await recorder.close()

    mine = [Path(r.file).name for r in records if r.participant == "village-1"]
    assert mine == [f"seg-{i:06d}.webm" for i in range(1, len(mine) + 1)]
    assert len(mine) > first
    assert {r.participant for r in records} == {"village-1", "lawyer-1"}
    report = await store.verify("consultation-1")
    assert report.ok and report.finished, report.problems
    assert len(report.segments) == len(records)
