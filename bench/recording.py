"""Recording CPU: the same pre-encoded stream recorded passthrough and by aiortc's
`MediaRecorder`, each in a process of its own, one after the other; CPU seconds per minute of
media from `getrusage`. The goal: passthrough at most 0.1x `MediaRecorder` at 1080p.

Both recorders get the stream as RTP packets (aiortc's VP8 packetization), paced in real time,
and reassemble frames as aiortc's receiver does (RTP parsing, depayloading), in the
recorder's linear-time jitter buffer (aiortc's own is quadratic in a frame's packet count and
would charge MediaRecorder seconds per 4K keyframe).
Passthrough: then the recorder's pipeline, segment files, fsync, SHA-256, signed manifest.
`MediaRecorder`: then aiortc's own decoder thread (`decoder_worker`, what every received track
costs in aiortc) feeding `MediaRecorder("....webm")`, which re-encodes. Not included, the same
for both: UDP receive and SRTP decryption.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import av
import numpy as np

GOAL_RATIO: Final = 0.1
FPS: Final = 30
# (label, width, height, VP8 bit rate): the notes' measured streams.
SIZES: Final = {
    "1080p": (1920, 1080, 3_400_000),
    "4k": (3840, 2160, 20_000_000),
}
GOP_SECONDS: Final = 2  # encoded once, looped: every loop starts on a keyframe


@dataclass(frozen=True, slots=True)
class Result:
    recorder: str
    size: str
    media_seconds: float  # fed
    processed_seconds: float  # written (MediaRecorder may fall behind)
    wall_seconds: float
    cpu_seconds: float

    @property
    def cpu_per_media_minute(self) -> float:
        if self.processed_seconds <= 0:
            return float("inf")  # it wrote nothing in its time
        return self.cpu_seconds / self.processed_seconds * 60

    @property
    def kept_real_time(self) -> bool:
        # Everything fed was written, and no later than a second after the last frame.
        return (
            self.processed_seconds >= self.media_seconds - 1 / FPS
            and self.wall_seconds <= self.media_seconds + 1.0
        )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def encode_stream(path: Path, width: int, height: int, bitrate: int) -> int:
    """The synthetic pattern with grain, as VP8 at a WebRTC-like bit rate, written to `path`."""
    from room.synthetic import PatternVideoTrack

    frames = GOP_SECONDS * FPS
    track = PatternVideoTrack(1, width, height, FPS)
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.gop_size = frames
        stream.codec_context.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
        }
        rng = np.random.default_rng(1)
        for n in range(frames):
            # Camera-like noise on the pattern, so the encoder spends its bit rate.
            yuv = track.render(n).to_ndarray()
            grain = rng.integers(-12, 13, size=(height, width), dtype=np.int16)
            yuv[:height] = np.clip(yuv[:height].astype(np.int16) + grain, 0, 255)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = n
            frame.time_base = fractions.Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return frames


def _load(path: Path) -> list[list[bytes]]:
    """The stream's frames as the RTP payloads aiortc's VP8 sender makes of them."""
    from aiortc.codecs.vpx import Vp8Encoder

    with av.open(str(path)) as container:
        frames = [bytes(p) for p in container.demux(video=0) if p.size]
    return [Vp8Encoder._packetize(frame, n & 0x7FFF) for n, frame in enumerate(frames)]


class _Reassembly:
    """aiortc's receive path from RTP bytes to a frame, less UDP and SRTP."""

    def __init__(self, capacity: int) -> None:
        from aiortc.codecs import depayload
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters
        from aiortc.rtp import RtpPacket

        from room.recording.receiver import FrameAssembler

        self.codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=97)
        self._depayload = depayload
        self._packet = RtpPacket
        self._buffer = FrameAssembler(capacity)
        self._sequence = 0

    def frames(self, n: int, payloads: list[bytes]) -> list[Any]:
        out = []
        for i, payload in enumerate(payloads):
            wire = self._packet(
                payload_type=97,
                marker=int(i == len(payloads) - 1),
                sequence_number=self._sequence,
                timestamp=n * 3000,
                ssrc=1,
                payload=payload,
            ).serialize()
            self._sequence = (self._sequence + 1) & 0xFFFF
            packet = self._packet.parse(wire)
            packet._data = self._depayload(self.codec, packet.payload)  # type: ignore[attr-defined]
            _, frame = self._buffer.add(packet)
            if frame is not None:
                out.append(frame)
        return out


async def _pace(frames: list[list[bytes]], seconds: float, deliver: Any) -> int:
    """Hand over each frame's packets at 30 fps (looping the GOP); returns how many frames."""
    total = int(seconds * FPS)
    start = time.monotonic()
    for n in range(total):
        wait = start + n / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        deliver(n, frames[n % len(frames)])
    return total


async def run_passthrough(path: Path, size: str, seconds: float) -> Result:
    from room.recording.bitstream import is_keyframe
    from room.recording.pipeline import RecordingOptions
    from room.recording.receiver import VIDEO_JITTER_CAPACITY, EncodedFrame
    from room.recording.recorder import Recorder
    from room.recording.store import RecordingStore

    frames = _load(path)
    with tempfile.TemporaryDirectory() as data_dir:
        store = await RecordingStore.open(Path(data_dir))
        options = RecordingOptions(segment_seconds=10.0, sync_wait=0)
        recorder = Recorder(store, "bench", options=options)
        await recorder.start()
        track = recorder.open_pipeline("sender").add_track("video")
        track.on_first_packet(0, 90_000, time.time())
        rtp = _Reassembly(VIDEO_JITTER_CAPACITY)

        def deliver(n: int, payloads: list[bytes]) -> None:
            for frame in rtp.frames(n, payloads):
                data = frame.data
                track.on_frame(
                    EncodedFrame(
                        "video",
                        "VP8",
                        90_000,
                        frame.timestamp,
                        data,
                        is_keyframe("VP8", data),
                        time.time(),
                    )
                )

        cpu0, wall0 = _cpu(), time.monotonic()
        fed = await _pace(frames, seconds, deliver)
        records = await recorder.close()
        wall, cpu = time.monotonic() - wall0, _cpu() - cpu0
    if not records:
        raise RuntimeError("the passthrough recorder wrote nothing")
    return Result("passthrough", size, fed / FPS, fed / FPS, wall, cpu)


async def run_media_recorder(path: Path, size: str, seconds: float, budget: float) -> Result:
    from aiortc.contrib.media import MediaRecorder
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
    from aiortc.rtcrtpreceiver import RemoteStreamTrack, decoder_worker

    from room.recording.receiver import VIDEO_JITTER_CAPACITY

    frames = _load(path)
    # Not aiortc's 512 packets: a 4K keyframe would never get through, and MediaRecorder
    # would have nothing to record.
    rtp = _Reassembly(VIDEO_JITTER_CAPACITY)
    codec = rtp.codec
    remote = RemoteStreamTrack("video")
    decode_in: queue.Queue[Any] = queue.Queue()
    loop = asyncio.get_running_loop()
    decoder = threading.Thread(
        target=decoder_worker,
        args=(loop, decode_in, remote._queue, threading.Event()),
        name="video-decoder",
    )
    done = asyncio.Event()
    written = 0
    deadline = 0.0

    class Counting(MediaStreamTrack):
        """What MediaRecorder reads; ends the recording when the budget is spent. (A timeout
        on the loop would not do: with decoded frames queued, MediaRecorder's loop never
        yields, which is the point of this benchmark.)"""

        kind = "video"

        async def recv(self) -> Any:
            nonlocal written
            if time.monotonic() > deadline:
                done.set()
                raise MediaStreamError
            try:
                frame = await remote.recv()
            except MediaStreamError:
                done.set()
                raise
            written += 1
            return frame

    fed = 0

    def deliver(n: int, payloads: list[bytes]) -> None:
        nonlocal fed
        fed += 1
        for frame in rtp.frames(n, payloads):
            decode_in.put((codec, frame))

    with tempfile.TemporaryDirectory() as out:
        recorder = MediaRecorder(str(Path(out) / "recording.webm"))
        recorder.addTrack(Counting())
        cpu0, wall0 = _cpu(), time.monotonic()
        deadline = wall0 + budget
        decoder.start()
        await recorder.start()
        feeding = asyncio.create_task(_pace(frames, seconds, deliver))
        await asyncio.wait(
            [feeding, asyncio.create_task(done.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if feeding.done():
            decode_in.put(None)
            await done.wait()
        wall, cpu = time.monotonic() - wall0, _cpu() - cpu0
    # No stop(): flushing libvpx's look-ahead frames takes minutes when it is behind, and
    # the process ends right after this anyway (see child_main).
    return Result("MediaRecorder", size, fed / FPS, written / FPS, wall, cpu)


def child_main(argv: Sequence[str]) -> int:
    kind, path, size, seconds, budget = argv

    async def measure() -> None:
        if kind == "passthrough":
            result = await run_passthrough(Path(path), size, float(seconds))
        else:
            result = await run_media_recorder(Path(path), size, float(seconds), float(budget))
        print(json.dumps(asdict(result)), flush=True)
        # MediaRecorder's encoder and aiortc's decoder thread may still hold frames, and a
        # cancelled MediaRecorder task runs until its queue is empty: the figures are
        # taken, so the process ends here rather than wait for them.
        os._exit(0)

    asyncio.run(measure())
    return 0


def run_child(kind: str, path: Path, size: str, seconds: float) -> Result:
    budget = 2 * seconds + 10
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.recording",
            "--child",
            kind,
            str(path),
            size,
            str(seconds),
            str(budget),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=budget + 60,
    )
    return Result(**json.loads(out.stdout.strip().splitlines()[-1]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.recording",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=f"Exits 1 if passthrough costs more than {GOAL_RATIO}x MediaRecorder at 1080p.",
    )
    p.add_argument("--sizes", default="1080p,4k", help="comma-separated: 1080p, 4k")
    p.add_argument("--seconds", type=float, default=20.0, help="media per run at 1080p")
    p.add_argument(
        "--seconds-4k",
        type=float,
        default=10.0,
        help="media per run at 4K (MediaRecorder "
        "falls far behind: each run is stopped after 2x its media plus 10 s)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON at the end")
    return p.parse_args(argv)


def _line(r: Result) -> str:
    return (
        f"{r.size:>6} {r.recorder:>14} | {r.cpu_per_media_minute:9.2f} | "
        f"{r.processed_seconds:5.1f}/{r.media_seconds:4.1f} s in {r.wall_seconds:5.1f} s | "
        f"{'yes' if r.kept_real_time else 'NO':>4}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    if argv and argv[0] == "--child":
        return child_main(argv[1:])
    args = parse_args(argv)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            width, height, bitrate = SIZES[size]
            seconds = args.seconds if size == "1080p" else args.seconds_4k
            path = Path(work) / f"{size}.webm"
            print(
                f"{size}: encoding a {GOP_SECONDS} s VP8 stream at {bitrate / 1e6:g} Mbit/s "
                "once...",
                flush=True,
            )
            encode_stream(path, width, height, bitrate)
            with av.open(str(path)) as container:
                packets = [p.size for p in container.demux(video=0) if p.size]
            print(
                f"{size}: {width}x{height}, {sum(packets) * 8 / GOP_SECONDS / 1e6:.1f} Mbit/s "
                f"as encoded, keyframe {packets[0] / 1000:.0f} KB",
                flush=True,
            )
            for kind in ("passthrough", "MediaRecorder"):
                print(f"{size}: recording {seconds:g} s of media with {kind}...", flush=True)
                results.append(run_child(kind, path, size, seconds))
                print("   " + _line(results[-1]), flush=True)

    print()
    print("CPU seconds per minute of media (getrusage of each recorder's process)")
    print(
        f"{'size':>6} {'recorder':>14} | {'CPU s/min':>9} | {'written/fed, wall':^25} | real time"
    )
    for r in results:
        print(_line(r))
    print()
    met = True
    for size in sizes:
        by = {r.recorder: r for r in results if r.size == size}
        passthrough, mr = by["passthrough"], by["MediaRecorder"]
        ratio = passthrough.cpu_per_media_minute / mr.cpu_per_media_minute
        streams = 60 / passthrough.cpu_per_media_minute
        print(
            f"{size}: passthrough / MediaRecorder = {ratio:.3f}; one core records about "
            f"{streams:.0f} {size} streams in real time passthrough"
        )
        if size == "1080p":
            met = ratio <= GOAL_RATIO
            print(
                f"goal: passthrough at most {GOAL_RATIO}x MediaRecorder -- "
                f"{'met' if met else 'NOT met'}"
            )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **asdict(r),
                        "cpu_per_media_minute": r.cpu_per_media_minute,
                        "kept_real_time": r.kept_real_time,
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
