"""The recorder's parts on their own: bitstream reading, clocks, the aiortc version guard,
and timestamps across an RTP wrap-around."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import aiortc
import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from room.recording.bitstream import is_keyframe, picture_size
from room.recording.clock import SlewedTime, TrackClock, extend, ntp_to_seconds
from room.recording.feed import encode_audio, encode_video, feed
from room.recording.pipeline import ParticipantPipeline, RecordingOptions
from room.recording.receiver import AiortcVersionError, FrameAssembler, tap_receiver
from room.recording.segments import FinishedSegment


@pytest.mark.timeout(30)
@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_keyframes_and_sizes_are_read_without_decoding(codec: str) -> None:
    stream = encode_video(codec, 642, 362, 40, keyframe_every=20)
    keys = [i for i, f in enumerate(stream.frames) if is_keyframe(codec, f)]
    assert keys == [0, 20]
    assert picture_size(codec, stream.frames[0]) == (642, 362)
    assert picture_size(codec, stream.frames[1]) is None


def test_rtp_timestamps_unwrap_across_2_to_the_32() -> None:
    assert extend(5, (1 << 32) - 10) == (1 << 32) + 5
    assert extend((1 << 32) - 10, 1 << 32) == (1 << 32) - 10
    clock = TrackClock(90_000, (1 << 32) - 3000, 100.0)
    assert clock.unwrap((1 << 32) - 3000) == (1 << 32) - 3000
    assert clock.unwrap(0) == 1 << 32
    assert clock.arrival_time(1 << 32) == pytest.approx(100.0 + 3000 / 90_000)


def test_sender_reports_map_rtp_time_and_late_ones_are_outvoted() -> None:
    ntp = int((1_000_000_000.0 + 2_208_988_800) * (1 << 32))
    assert ntp_to_seconds(ntp) == pytest.approx(1_000_000_000.0)
    clock = TrackClock(90_000, 0, 50.0)
    clock.add_report(ntp, 90_000)
    assert clock.sender_time(180_000) == pytest.approx(1_000_000_001.0)
    late = int((1_000_000_001.0 + 0.2 + 2_208_988_800) * (1 << 32))
    clock.add_report(late, 180_000)  # sent 200 ms after its frame: ignored
    assert clock.sender_time(180_000) == pytest.approx(1_000_000_001.0)


def test_timeline_corrections_are_spread_out() -> None:
    timeline = SlewedTime(90_000)
    assert timeline.at(0, 10.0) == 10.0
    # The clock now says 100 ms later: 5 % of each 1/30 s frame is applied at a time.
    times = [timeline.at(n * 3000, 10.1 + n / 30) for n in range(1, 80)]
    steps = [b - a for a, b in zip([10.0, *times], times, strict=False)]
    assert all(1 / 30 - 1e-9 <= s <= 1.05 / 30 + 1e-9 for s in steps)
    assert times[-1] == pytest.approx(10.1 + 79 / 30)
    # A jump of seconds is the sender restarting its clock: followed at once.
    assert timeline.at(80 * 3000, 20.0) == 20.0


@pytest.mark.timeout(30)
async def test_recording_across_rtp_wraparound_has_no_jump(tmp_path: Path) -> None:
    finished: list[FinishedSegment] = []

    async def on_segment(segment: FinishedSegment) -> None:
        finished.append(segment)

    pipeline = ParticipantPipeline(
        tmp_path, time.time(), on_segment, RecordingOptions(segment_seconds=10, sync_wait=0)
    )
    media = [encode_video("VP8", 160, 120, 60), encode_audio(100)]
    # Both RTP clocks wrap one second in.
    await feed(pipeline, media, 2.0, realtime=False, rtp_origin=(1 << 32) - 90_000)
    await pipeline.close()
    assert len(finished) == 1
    with av.open(str(finished[0].path)) as container:
        for stream in container.streams:
            pts = [p.pts for p in container.demux(stream) if p.pts is not None]
            container.seek(0)
            assert all(0 < b - a <= 40 for a, b in itertools.pairwise(pts))


def _packets(seed: int, frames: int) -> list[RtpPacket]:
    """A video stream's packets as a network delivers them: frames of 1-40 packets, some
    lost, some late, some twice, and a jump or two in sequence numbers."""
    rng = random.Random(seed)
    out: list[RtpPacket] = []
    sequence = rng.randrange(1 << 16)
    for n in range(frames):
        for _ in range(rng.choice([1, 2, 5, 40])):
            packet = RtpPacket(payload_type=97, sequence_number=sequence, timestamp=n * 3000)
            packet._data = rng.randbytes(rng.randrange(1, 20))  # type: ignore[attr-defined]
            sequence = (sequence + 1) & 0xFFFF
            roll = rng.random()
            if roll < 0.03:
                continue  # lost
            out.append(packet)
            if roll < 0.06:
                out.append(packet)  # duplicated
        if rng.random() < 0.01:
            sequence = (sequence + rng.randrange(200, 2000)) & 0xFFFF
    for i in range(0, len(out) - 3, 7):
        if rng.random() < 0.3:
            out[i], out[i + 2] = out[i + 2], out[i]  # reordered
    return out


@pytest.mark.parametrize("seed", range(20))
def test_frame_assembler_delivers_what_aiortc_delivers(seed: int) -> None:
    ours, theirs = FrameAssembler(64), JitterBuffer(64, is_video=True)
    for packet in _packets(seed, 400):
        mine, reference = ours.add(packet), theirs.add(packet)
        assert mine[0] == reference[0]
        assert (mine[1] is None) == (reference[1] is None)
        if mine[1] is not None and reference[1] is not None:
            assert (mine[1].timestamp, mine[1].data) == (reference[1].timestamp, reference[1].data)


def test_frame_assembler_takes_a_4k_keyframe_in_linear_time() -> None:
    assembler = FrameAssembler(4096)
    packets = [RtpPacket(payload_type=97, sequence_number=i, timestamp=0) for i in range(2000)]
    packets.append(RtpPacket(payload_type=97, sequence_number=2000, timestamp=3000))
    for packet in packets:
        packet._data = bytes(1200)  # type: ignore[attr-defined]
    start = time.process_time()
    results = [assembler.add(p)[1] for p in packets]
    # aiortc's own JitterBuffer takes seconds over this (quadratic): allow a loaded machine.
    assert time.process_time() - start < 0.5
    assert results[-1] is not None and len(results[-1].data) == 2000 * 1200


@pytest.mark.timeout(30)
async def test_other_aiortc_versions_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        monkeypatch.setattr(aiortc, "__version__", "1.17.0")
        with pytest.raises(AiortcVersionError, match=r"aiortc 1\.16\.0"):
            tap_receiver(receiver, None)  # type: ignore[arg-type]
    finally:
        await pc.close()
