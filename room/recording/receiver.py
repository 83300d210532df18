"""The recorder's tap on aiortc: encoded frames out of an `RTCRtpReceiver`, before any decoder.

aiortc decodes every track it receives, in a thread per receiver, and its video jitter buffer
(512 packets, about 650 KB) never completes a larger 4K keyframe. A recorder needs neither the
decoder nor that limit. aiortc offers no hook for either, so this module re-classes a receiver
(created by aiortc inside `setRemoteDescription`) as `PassthroughReceiver` before it starts:
`receive()` starts RTCP but no decoder thread, the queue the decoder would read from hands each
reassembled frame to a `FrameSink` on the event loop instead, and the jitter buffer is sized
for 4K keyframes. Everything here reads aiortc's private attributes of one pinned version;
`tap_receiver` refuses any other version, and the tests fail if the internals move.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.codecs import is_rtx
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtp import AnyRtcpPacket, RtcpSrPacket, RtpPacket

from room.recording.bitstream import is_keyframe

AIORTC_VERSION: Final = "1.16.0"

# 4096 packets of up to ~1.3 KB hold a 5 MB frame: any 4K keyframe seen in practice (a 4K VP8
# keyframe at 20 Mbit/s measured 900 KB). The buffer is a list of slots, so this costs 32 KB.
VIDEO_JITTER_CAPACITY: Final = 4096
# The whole burst of a big keyframe from a sender that does not pace (aiortc does not) lands in
# the socket before the event loop reads any of it: the kernel default (~208 KB) drops most of
# it. Unprivileged processes get up to net.core.rmem_max (4 MB on these machines).
RECEIVE_BUFFER_BYTES: Final = 8 * 1024 * 1024

PASSTHROUGH_CODECS: Final = frozenset({"VP8", "H264", "opus"})

# The private attributes of aiortc 1.16.0's RTCRtpReceiver this module reads or replaces.
_P: Final = "_RTCRtpReceiver__"
_INTERNALS: Final = (
    "kind",
    "codecs",
    "rtx_ssrc",
    "started",
    "rtcp_task",
    "jitter_buffer",
    "decoder_queue",
    "decoder_thread",
    "timestamp_mapper",
)

Kind = Literal["audio", "video"]


class AiortcVersionError(RuntimeError):
    """The installed aiortc is not the one whose internals this module was written against."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One reassembled frame as it came off the wire, with when it was handed over."""

    kind: Kind
    codec: str  # "VP8", "H264" or "opus" (RTP encoding names)
    clock_rate: int
    rtp_timestamp: int  # 32 bits, as sent: sender reports refer to these
    data: bytes
    keyframe: bool
    received_at: float  # time.time()


class FrameSink(Protocol):
    """Where a tapped receiver delivers; every method is called on the event loop."""

    def on_frame(self, frame: EncodedFrame) -> None: ...

    def on_first_packet(self, rtp_timestamp: int, clock_rate: int, at: float) -> None:
        """The first media packet: with `at` it anchors RTP time when there is no report."""

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int, at: float) -> None: ...

    def on_end(self) -> None: ...


def check_aiortc_version() -> None:
    if aiortc.__version__ != AIORTC_VERSION:
        raise AiortcVersionError(
            f"the recorder taps aiortc {AIORTC_VERSION}'s RTCRtpReceiver internals, but aiortc "
            f"{aiortc.__version__} is installed: re-check room/recording/receiver.py against "
            "the new rtcrtpreceiver.py and run tests/recording before changing the pin"
        )


class FrameAssembler(JitterBuffer):
    """aiortc's video jitter buffer, reassembling frames in linear time.

    aiortc's `_remove_frame` rescans every buffered packet from the oldest one on each
    arrival: quadratic in a frame's packet count. Measured: a 1.2 MB keyframe (1,000 packets)
    took 0.6 s of event loop, a 2.4 MB 4K keyframe 4 s. This one resumes where the last scan
    stopped; what it delivers, and when, is unchanged (tests/recording/test_parts.py).
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, prefetch=0, is_video=True)
        self._scanned = 0  # packets from the origin present, all of the first frame

    def remove(self, count: int) -> None:
        self._scanned = 0
        super().remove(count)

    def smart_remove(self, count: int) -> bool:
        self._scanned = 0
        return bool(super().smart_remove(count))

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        assert self._origin is not None
        packets = self._packets
        first = packets[self._origin % self._capacity]
        timestamp = None if first is None else first.timestamp
        count = self._scanned
        while count < self._capacity:
            packet = packets[(self._origin + count) % self._capacity]
            if packet is None:
                break
            if packet.timestamp != timestamp:
                assert timestamp is not None  # the slot at the origin holds a packet
                # The next frame has begun: the one before it is complete.
                frame = JitterFrame(
                    data=b"".join(
                        packets[(self._origin + i) % self._capacity]._data  # type: ignore[union-attr]
                        for i in range(count)
                    ),
                    timestamp=timestamp,
                )
                self.remove(count)
                return frame
            count += 1
        self._scanned = count
        return None


class _NoDecoderThread:
    """Stands where aiortc keeps its decoder thread: truthy, so frames are queued, and
    joinable, so aiortc's own shutdown path works unchanged."""

    def join(self) -> None:
        pass


class _RtpTimestamps:
    """aiortc rewrites frame timestamps relative to the first frame; the recorder needs them
    as sent, to apply sender reports. (Unwrapping is the recorder's job.)"""

    def map(self, timestamp: int) -> int:
        return timestamp


class _SinkQueue:
    """Stands where aiortc's decoder reads frames from: hands them to the sink instead."""

    def __init__(self, receiver: PassthroughReceiver) -> None:
        self._receiver = receiver

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._receiver._tap_ended()
        else:
            self._receiver._tap_frame(*item)


class PassthroughReceiver(RTCRtpReceiver):
    """An `RTCRtpReceiver` whose frames go to a `FrameSink`; made by `tap_receiver` only."""

    _sink: FrameSink
    _media_ssrc: int | None
    _kind: Kind
    _ended: bool
    _frames: int

    def _tap_init(self, kind: Kind, sink: FrameSink, jitter_capacity: int) -> None:
        self._sink = sink
        self._media_ssrc = None
        self._kind = kind
        self._ended = False
        self._frames = 0
        setattr(self, _P + "decoder_queue", _SinkQueue(self))
        setattr(self, _P + "timestamp_mapper", _RtpTimestamps())
        if kind == "video":
            setattr(self, _P + "jitter_buffer", FrameAssembler(jitter_capacity))

    @property
    def decoder_started(self) -> bool:
        """Whether anything but the tap sits where aiortc's decoder thread would."""
        return not isinstance(getattr(self, _P + "decoder_thread"), _NoDecoderThread | None)

    @property
    def frames_delivered(self) -> int:
        return self._frames

    async def receive(self, parameters: RTCRtpReceiveParameters) -> None:
        # aiortc 1.16.0's receive(), less the decoder thread it starts.
        if getattr(self, _P + "started"):
            return
        codecs: dict[int | None, RTCRtpCodecParameters] = getattr(self, _P + "codecs")
        rtx_ssrc: dict[int, int] = getattr(self, _P + "rtx_ssrc")
        for codec in parameters.codecs:
            codecs[codec.payloadType] = codec
        for encoding in parameters.encodings:
            if encoding.rtx:
                rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc
        setattr(self, _P + "decoder_thread", _NoDecoderThread())
        self.transport._register_rtp_receiver(self, parameters)
        setattr(self, _P + "rtcp_task", asyncio.ensure_future(self._run_rtcp()))
        setattr(self, _P + "started", True)

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        if self._media_ssrc is None and self._enabled:
            codec = getattr(self, _P + "codecs").get(packet.payload_type)
            if codec is not None and not is_rtx(codec):
                self._media_ssrc = packet.ssrc
                self._sink.on_first_packet(packet.timestamp, codec.clockRate, time.time())
        await super()._handle_rtp_packet(packet, arrival_time_ms)

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self._media_ssrc:
            info = packet.sender_info
            self._sink.on_sender_report(info.ntp_timestamp, info.rtp_timestamp, time.time())
        await super()._handle_rtcp_packet(packet)

    async def request_keyframe(self) -> bool:
        """Send a PLI to the sender; False while no media has arrived to address it to."""
        if self._media_ssrc is None or self._ended:
            return False
        await self._send_rtcp_pli(self._media_ssrc)
        return True

    def _tap_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        if self._ended:
            return
        self._frames += 1
        self._sink.on_frame(
            EncodedFrame(
                kind=self._kind,
                codec=codec.name,
                clock_rate=codec.clockRate,
                rtp_timestamp=frame.timestamp,
                data=frame.data,
                keyframe=is_keyframe(codec.name, frame.data),
                received_at=time.time(),
            )
        )

    def _tap_ended(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._sink.on_end()
        # What aiortc's decoder thread does at its end: the remote track ends too.
        if self._track is not None:
            self._track._queue.put_nowait(None)


def tap_receiver(
    receiver: RTCRtpReceiver, sink: FrameSink, jitter_capacity: int = VIDEO_JITTER_CAPACITY
) -> PassthroughReceiver:
    """Make `receiver` deliver encoded frames to `sink` and never decode.

    Call it after `setRemoteDescription` (which creates the receiver) and before the connection
    starts receiving (aiortc calls `receive()` once ICE and DTLS are up).
    """
    check_aiortc_version()
    missing = [name for name in _INTERNALS if not hasattr(receiver, _P + name)]
    if type(receiver) is not RTCRtpReceiver or missing:
        raise AiortcVersionError(
            f"cannot tap {type(receiver).__name__}: missing aiortc internals {missing}"
        )
    if getattr(receiver, _P + "started"):
        raise RuntimeError("the receiver has started already: tap it before the call connects")
    kind: Kind = "video" if getattr(receiver, _P + "kind") == "video" else "audio"
    # aiortc creates the receiver inside setRemoteDescription with no factory to pass a class:
    # re-classing the instance before it starts is the one way in. Same layout, no __slots__.
    receiver.__class__ = PassthroughReceiver
    tapped: PassthroughReceiver = receiver  # type: ignore[assignment]
    tapped._tap_init(kind, sink, jitter_capacity)
    return tapped


def enlarge_receive_buffers(pc: RTCPeerConnection, size: int = RECEIVE_BUFFER_BYTES) -> int:
    """Raise SO_RCVBUF on the connection's ICE sockets (after setLocalDescription, which
    gathers them); returns how many sockets were changed. Best effort: the kernel caps it."""
    changed = 0
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        connection: Any = getattr(ice, "_connection", None)
        for protocol in getattr(connection, "_protocols", []):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            # asyncio wraps the socket (TransportSocket); TURN allocations have none at all.
            if sock is None or not hasattr(sock, "setsockopt") or sock.fileno() in seen:
                continue
            seen.add(sock.fileno())
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            except OSError:
                continue
            changed += 1
    return changed
