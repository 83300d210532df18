"""Segment files: encoded packets muxed as received into WebM (VP8, Opus) or Matroska (H.264),
one file per participant per segment, fsynced and hashed when finished.

A segment is written as `seg-000001.webm.partial` and renamed when complete, so a crash leaves
an unfinished segment recognisable on restart. Matroska is chosen over MP4 because a truncated
Matroska file still plays up to where it stops; `flush_packets` hands every packet to the OS at
once, so a crash of the process loses nothing the OS had.
"""

from __future__ import annotations

import concurrent.futures
import fractions
import hashlib
import io
import logging
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

import av

log = logging.getLogger(__name__)

MS: Final = fractions.Fraction(1, 1000)
PARTIAL: Final = ".partial"
_FFMPEG_CODEC: Final = MappingProxyType({"VP8": "vp8", "H264": "h264", "opus": "opus"})
_NAME: Final = re.compile(r"^seg-(\d{6})\.(webm|mkv)(\.partial)?$")
_HASH_CHUNK: Final = 1 << 20
# The muxer's own interleaving would hold a stalled stream's partner for up to 10 s, unwritten;
# the pipeline interleaves already, so packets go out as they come. Matroska writes a cluster
# only once it is complete (5 s by default): clusters of 500 ms bound what a crash can lose
# to half a second, at a cost of ~1 % in size.
_MUX_OPTIONS: Final = MappingProxyType(
    {"flush_packets": "1", "max_interleave_delta": "1", "cluster_time_limit": "500"}
)

Kind = Literal["audio", "video"]
Status = Literal["complete", "interrupted"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    kind: Kind
    codec: str  # RTP encoding name: "VP8", "H264" or "opus"
    width: int = 0
    height: int = 0
    sample_rate: int = 48000


@dataclass(frozen=True, slots=True)
class MediaPacket:
    stream: int  # index into the segment's StreamSpecs
    pts_ms: int
    data: bytes
    keyframe: bool


@dataclass(frozen=True, slots=True)
class FinishedSegment:
    path: Path
    index: int
    sha256: str
    size: int
    status: Status
    start_ms: int | None
    end_ms: int | None
    packets: dict[Kind, int] = field(default_factory=dict)


def _ogg_crc(data: bytes) -> int:
    """CRC-32 as Ogg computes it (polynomial 0x04C11DB7, no reflection)."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(payload: bytes, sequence: int, flags: int, granule: int = 0) -> bytes:
    lacing = [255] * (len(payload) // 255) + [len(payload) % 255]
    header = b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, 1, sequence)
    page = header + b"\0\0\0\0" + bytes([len(lacing), *lacing]) + payload
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _opus_stream_template() -> bytes:
    """A minimal Ogg Opus file whose only use is to hand PyAV an OpusHead.

    WebM and Matroska require the OpusHead as the track's CodecPrivate, and PyAV can set it on
    a stream only by copying another stream. WebRTC's Opus is 48 kHz, two channels in the
    codec's terms, with no pre-skip: the first sample sent is the first sample heard.
    """
    head = b"OpusHead" + bytes([1, 2]) + struct.pack("<HIhB", 0, 48_000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 7) + b"lawroom" + struct.pack("<I", 0)
    silence = b"\xf8\xff\xfe"  # one 20 ms Opus frame: the demuxer wants some data
    return _ogg_page(head, 0, 2) + _ogg_page(tags, 1, 0) + _ogg_page(silence, 2, 4, 960)


_OPUS_TEMPLATE: Final = _opus_stream_template()


def _add_opus_stream(container: av.container.OutputContainer) -> av.stream.Stream:
    # The copied codec context is never opened: no Opus decoder or encoder is created.
    with av.open(io.BytesIO(_OPUS_TEMPLATE), format="ogg") as template:
        return container.add_stream_from_template(template.streams.audio[0])


def container_for(specs: Sequence[StreamSpec]) -> tuple[str, str]:
    """(format, extension): WebM holds only VP8/VP9/AV1 and Opus/Vorbis, H.264 needs Matroska."""
    if any(s.codec == "H264" for s in specs):
        return "matroska", "mkv"
    return "webm", "webm"


def segment_name(index: int, extension: str) -> str:
    return f"seg-{index:06d}.{extension}"


def parse_segment_name(name: str) -> tuple[int, bool] | None:
    """(index, partial) for a segment file name, None for anything else."""
    m = _NAME.match(name)
    return None if m is None else (int(m.group(1)), m.group(3) is not None)


def next_index(directory: Path) -> int:
    """The index after every segment already in `directory` (a participant who rejoins)."""
    indexes = [
        parsed[0]
        for p in (directory.iterdir() if directory.is_dir() else [])
        if (parsed := parse_segment_name(p.name)) is not None
    ]
    return max(indexes, default=0) + 1


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, size) of the bytes on disk, read in chunks: segments can be 100 MB."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentFile:
    """One segment being written. Blocking: used from a writer thread only."""

    def __init__(self, directory: Path, index: int, specs: Sequence[StreamSpec]) -> None:
        fmt, extension = container_for(specs)
        directory.mkdir(parents=True, exist_ok=True)
        self.index = index
        self.specs = tuple(specs)
        self.path = directory / segment_name(index, extension)
        self._partial = self.path.with_name(self.path.name + PARTIAL)
        self._container = av.open(str(self._partial), "w", format=fmt, options=dict(_MUX_OPTIONS))
        self._streams = []
        for spec in specs:
            codec = _FFMPEG_CODEC[spec.codec]
            if spec.kind == "video":
                stream = self._container.add_mux_stream(codec, width=spec.width, height=spec.height)
            else:
                stream = _add_opus_stream(self._container)
            stream.time_base = MS
            self._streams.append(stream)
        self._start_ms: int | None = None
        self._end_ms: int | None = None
        self._counts: dict[Kind, int] = {}

    def write(self, packet: MediaPacket) -> None:
        out = av.Packet(packet.data)
        out.stream = self._streams[packet.stream]
        out.time_base = MS
        out.pts = out.dts = packet.pts_ms
        out.is_keyframe = packet.keyframe
        self._container.mux(out)
        if self._start_ms is None:
            self._start_ms = packet.pts_ms
        self._end_ms = packet.pts_ms if self._end_ms is None else max(self._end_ms, packet.pts_ms)
        kind = self.specs[packet.stream].kind
        self._counts[kind] = self._counts.get(kind, 0) + 1

    def close(self) -> FinishedSegment:
        """Finish the container, make it durable under its final name, hash what is on disk."""
        self._container.close()
        fsync_path(self._partial)
        os.replace(self._partial, self.path)
        fsync_path(self.path.parent)
        digest, size = sha256_file(self.path)
        return FinishedSegment(
            self.path,
            self.index,
            digest,
            size,
            "complete",
            self._start_ms,
            self._end_ms,
            dict(self._counts),
        )


def close_interrupted(path: Path) -> FinishedSegment:
    """Close a segment a crash left unfinished (still `.partial`, or renamed but never listed):
    keep its bytes as they are, for they are the record, give it its final name, and say what
    a demuxer still finds in it."""
    parsed = parse_segment_name(path.name)
    if parsed is None:
        raise ValueError(f"not a segment file: {path}")
    final = path.with_name(path.name.removesuffix(PARTIAL))
    fsync_path(path)
    if final != path:
        os.replace(path, final)
        fsync_path(final.parent)
    start, end, counts = _probe(final)
    digest, size = sha256_file(final)
    return FinishedSegment(final, parsed[0], digest, size, "interrupted", start, end, counts)


def _probe(path: Path) -> tuple[int | None, int | None, dict[Kind, int]]:
    """First and last timestamp (ms) and packet counts, by demuxing only."""
    start: int | None = None
    end: int | None = None
    counts: dict[Kind, int] = {}
    try:
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                ms = int(packet.pts * packet.time_base * 1000)
                start = ms if start is None else min(start, ms)
                end = ms if end is None else max(end, ms)
                kind = packet.stream.type
                if kind in ("audio", "video"):
                    counts[kind] = counts.get(kind, 0) + 1
    except (av.FFmpegError, OSError) as exc:
        # A crash before the header was written leaves nothing to read: still a record.
        log.warning("unfinished segment %s is unreadable past %s: %s", path, end, exc)
    return start, end, counts


class SegmentWriter:
    """A participant's segment files, written in order on one thread of their own.

    Muxing is cheap, but closing a segment (fsync, hashing up to 100 MB) blocks for tens of
    milliseconds or more: none of it may run on the event loop.
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"rec-{name}")
        self._file: SegmentFile | None = None
        self.error: BaseException | None = None

    def _run(self, fn: Callable[..., object], *args: object) -> concurrent.futures.Future[object]:
        future = self._pool.submit(fn, *args)
        future.add_done_callback(self._check)
        return future

    def _check(self, future: concurrent.futures.Future[object]) -> None:
        exc = future.exception()
        if exc is not None and self.error is None:
            self.error = exc
            log.error("recording to %s failed", self.directory, exc_info=exc)

    def open(self, index: int, specs: Sequence[StreamSpec]) -> None:
        self._run(self._open, index, tuple(specs))

    def write(self, packets: Sequence[MediaPacket]) -> None:
        if packets:
            self._run(self._write, tuple(packets))

    def finish(self) -> concurrent.futures.Future[FinishedSegment | None]:
        return self._run(self._finish)  # type: ignore[return-value]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)

    def _open(self, index: int, specs: tuple[StreamSpec, ...]) -> None:
        self._file = SegmentFile(self.directory, index, specs)

    def _write(self, packets: tuple[MediaPacket, ...]) -> None:
        if self._file is None:
            raise RuntimeError("no segment is open")
        for packet in packets:
            self._file.write(packet)

    def _finish(self) -> FinishedSegment | None:
        current, self._file = self._file, None
        return None if current is None else current.close()
