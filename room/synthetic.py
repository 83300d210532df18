"""Synthetic media tracks for Lawroom tests: video frames carry a checksummed
(side, counter) cell grid that survives lossy codecs, audio is a per-side sine tone."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import (
    AUDIO_PTIME,
    VIDEO_CLOCK_RATE,
    VIDEO_TIME_BASE,
    AudioStreamTrack,
    MediaStreamError,
    VideoStreamTrack,
)
from av.video.plane import VideoPlane

SIDE_VILLAGE: Final = 1
SIDE_LAWYER: Final = 2
TONE_HZ: Final[Mapping[int, float]] = MappingProxyType({SIDE_VILLAGE: 440.0, SIDE_LAWYER: 660.0})

SIDE_BITS: Final = 4
COUNTER_BITS: Final = 32
CHECKSUM_BITS: Final = 8
_DATA_BITS: Final = SIDE_BITS + COUNTER_BITS
_TOTAL_BITS: Final = _DATA_BITS + CHECKSUM_BITS

# 4 x 11 = 44 cells = 4 side bits + 32 counter bits + CRC-8.
_GRID_ROWS: Final = 4
_GRID_COLS: Final = 11
# The pitches keep the cells over half a pitch from the frame edges, where encoders
# and scalers smear most; 4 rows at height/10 keep the code in the top 45 % of the
# frame and each cell ~height/12.5 tall.
_COL_PITCH: Final = 1.0 / (_GRID_COLS + 2)
_ROW_PITCH: Final = 1.0 / 10
_CELL_HALF: Final = 0.4  # of a pitch: 20 % of each pitch stays grey as a gap
_SAMPLE_HALF: Final = 0.2  # of a pitch: read only the cell centre, away from ringing
_SAMPLES_PER_AXIS: Final = 5
_CONTENT_TOP: Final = 0.5  # moving content lives below this fraction of the height

# Limited-range luma (what aiortc/libvpx treat yuv420p as).
_Y_BLACK: Final = 16
_Y_WHITE: Final = 235
_Y_GREY: Final = 128
# Cells whose centre averages between these are neither clearly black nor white;
# rejecting them makes grey or noisy frames fail before the checksum is even tried.
_Y_BLACK_MAX: Final = 100.0
_Y_WHITE_MIN: Final = 150.0

_CRC8_POLY: Final = 0x07
# A non-zero init keeps an all-black (e.g. muted) frame from reading as side 0 frame 0.
_CRC8_INIT: Final = 0xFF

_MIN_WIDTH: Final = 64
_MIN_HEIGHT: Final = 48

# Integer so the whole-frame check below is exact (0.02 * 44100 is not, in floats).
_AUDIO_FRAMES_PER_SECOND: Final = round(1 / AUDIO_PTIME)
_TONE_AMPLITUDE: Final = 0.3 * 32767  # about -10 dBFS: loud but no clipping in Opus


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"1280x720"`` into ``(1280, 720)``."""
    parts = text.strip().lower().split("x")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        width, height = int(parts[0]), int(parts[1])
        if width > 0 and height > 0:
            return width, height
    raise ValueError(
        f"invalid size {text!r}: expected WIDTHxHEIGHT with positive integers, e.g. '1280x720'"
    )


def _crc8(value: int, nbits: int) -> int:
    """CRC-8 (poly 0x07, init 0xFF) over the low `nbits` of `value`, MSB first."""
    crc = _CRC8_INIT
    for shift in range(nbits - 1, -1, -1):
        feedback = ((crc >> 7) ^ (value >> shift)) & 1
        crc = (crc << 1) & 0xFF
        if feedback:
            crc ^= _CRC8_POLY
    return crc


def _encode_bits(side: int, counter: int) -> list[bool]:
    data = (side << COUNTER_BITS) | (counter & 0xFFFFFFFF)
    word = (data << CHECKSUM_BITS) | _crc8(data, _DATA_BITS)
    return [bool((word >> i) & 1) for i in range(_TOTAL_BITS - 1, -1, -1)]


def _cell_centre(row: int, col: int, width: int, height: int) -> tuple[float, float]:
    """Centre (y, x) of a cell in pixels; all geometry is relative to frame size."""
    return (row + 1) * _ROW_PITCH * height, (col + 1.5) * _COL_PITCH * width


def _cell_rects(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles (y0, y1, x0, x1) of the cells, row-major, MSB first."""
    half_h = _CELL_HALF * _ROW_PITCH * height
    half_w = _CELL_HALF * _COL_PITCH * width
    rects = []
    for row in range(_GRID_ROWS):
        for col in range(_GRID_COLS):
            cy, cx = _cell_centre(row, col, width, height)
            rects.append(
                (
                    round(cy - half_h),
                    round(cy + half_h),
                    round(cx - half_w),
                    round(cx + half_w),
                )
            )
    return rects


def _plane_view(plane: VideoPlane) -> npt.NDArray[np.uint8]:
    """Writable (height, width) view of an 8-bit plane, skipping row padding."""
    flat = np.frombuffer(memoryview(plane), dtype=np.uint8)
    rows = flat[: plane.line_size * plane.height].reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _luma(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "nv12"):
        # Plane 0 is already luma; viewing it avoids a swscale conversion.
        return _plane_view(frame.planes[0])
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)


def read_pattern(frame: av.VideoFrame) -> tuple[int, int] | None:
    """Return ``(side, counter)`` encoded by `PatternVideoTrack`, or None if unreadable.

    Works on frames of any size (positions are relative), so frames the sender's
    encoder downscaled still decode.
    """
    height, width = frame.height, frame.width
    if height < _GRID_ROWS * 2 or width < _GRID_COLS * 2:
        return None
    luma = _luma(frame)

    offsets = np.linspace(-_SAMPLE_HALF, _SAMPLE_HALF, _SAMPLES_PER_AXIS)
    rows = np.arange(_GRID_ROWS)[:, None] + 1.0 + offsets[None, :]
    cols = np.arange(_GRID_COLS)[:, None] + 1.5 + offsets[None, :]
    ys = np.clip((rows * _ROW_PITCH * height).astype(np.intp), 0, height - 1)
    xs = np.clip((cols * _COL_PITCH * width).astype(np.intp), 0, width - 1)
    # One gather for all cells: shape (rows, samples, cols, samples).
    samples = luma[np.ix_(ys.ravel(), xs.ravel())].reshape(
        _GRID_ROWS, _SAMPLES_PER_AXIS, _GRID_COLS, _SAMPLES_PER_AXIS
    )
    means = samples.mean(axis=(1, 3), dtype=np.float64).ravel()

    white = means >= _Y_WHITE_MIN
    if not np.all(white | (means <= _Y_BLACK_MAX)):
        return None
    word = 0
    for bit in white.tolist():
        word = (word << 1) | int(bit)
    data = word >> CHECKSUM_BITS
    if _crc8(data, _DATA_BITS) != word & 0xFF:
        return None
    return data >> COUNTER_BITS, data & 0xFFFFFFFF


class PatternVideoTrack(VideoStreamTrack):
    """Video track whose frames encode `side` and a frame counter as a cell grid.

    Below the grid a bar sweeps across a gradient so encoders see real motion.
    """

    def __init__(self, side: int, width: int = 640, height: int = 480, fps: int = 30):
        super().__init__()
        if not 0 <= side < 1 << SIDE_BITS:
            raise ValueError(f"side must be in 0..{(1 << SIDE_BITS) - 1}, got {side}")
        if width < _MIN_WIDTH or height < _MIN_HEIGHT or width % 2 or height % 2:
            raise ValueError(
                f"size must be even and at least {_MIN_WIDTH}x{_MIN_HEIGHT}, got {width}x{height}"
            )
        if not 0 < fps <= 120:
            raise ValueError(f"fps must be in 1..120, got {fps}")
        self._side = side
        self._width = width
        self._height = height
        self._fps = fps
        self._frames_sent = 0
        self._ticks = 0
        self._epoch: float | None = None
        self._rects = _cell_rects(width, height)
        self._background = self._make_background()
        self._content_top = round(_CONTENT_TOP * height)
        self._bar_width = max(2, width // 16)
        # One sweep every two seconds regardless of fps, so motion looks the same.
        self._bar_period = 2 * fps

    @property
    def frames_sent(self) -> int:
        """Number of frames returned by `recv` so far."""
        return self._frames_sent

    def _make_background(self) -> tuple[npt.NDArray[np.uint8], ...]:
        """Static Y, U, V planes that every frame starts from."""
        w, h = self._width, self._height
        luma = np.full((h, w), _Y_GREY, dtype=np.uint8)
        top = round(_CONTENT_TOP * h)
        luma[top:, :] = np.linspace(40, 200, w, dtype=np.float64).astype(np.uint8)
        # Tint the content area per side so a human can tell the streams apart;
        # the code area stays neutral so the cells are pure luma.
        hue = 2 * math.pi * self._side / (1 << SIDE_BITS)
        u_plane = np.full((h // 2, w // 2), _Y_GREY, dtype=np.uint8)
        v_plane = np.full((h // 2, w // 2), _Y_GREY, dtype=np.uint8)
        u_plane[top // 2 :, :] = round(128 + 60 * math.cos(hue))
        v_plane[top // 2 :, :] = round(128 + 60 * math.sin(hue))
        return luma, u_plane, v_plane

    def render(self, counter: int) -> av.VideoFrame:
        """Build the frame for `counter` (no pacing, no pts): used by `recv` and tests."""
        # Measured ~0.2 ms per frame at 1280x720 (see test_render_cost). Writing
        # straight into the frame's own planes matters: building an ndarray and
        # calling VideoFrame.from_ndarray measured ~2 ms, mostly page faults on a
        # second fresh 1.4 MB buffer per frame.
        frame = av.VideoFrame(self._width, self._height, "yuv420p")
        planes = [_plane_view(plane) for plane in frame.planes]
        for view, background in zip(planes, self._background, strict=True):
            view[...] = background
        luma = planes[0]
        phase = (counter % self._bar_period) / self._bar_period
        x0 = round(phase * (self._width - self._bar_width))
        luma[self._content_top :, x0 : x0 + self._bar_width] = _Y_WHITE
        for (y0, y1, cx0, cx1), bit in zip(
            self._rects, _encode_bits(self._side, counter), strict=True
        ):
            luma[y0:y1, cx0:cx1] = _Y_WHITE if bit else _Y_BLACK
        return frame

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """Pace to `fps` on the monotonic clock; pts are in 90 kHz units."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._epoch is None:
            self._epoch = time.monotonic()
        else:
            self._ticks += 1
            wait = self._epoch + self._ticks / self._fps - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        # Computed from the tick count rather than accumulated, so 1/fps never drifts.
        return self._ticks * VIDEO_CLOCK_RATE // self._fps, VIDEO_TIME_BASE

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = self.render(self._frames_sent)
        frame.pts = pts
        frame.time_base = time_base
        self._frames_sent += 1
        return frame


class ToneAudioTrack(AudioStreamTrack):
    """Audio track producing 20 ms s16 mono frames of a continuous sine tone."""

    def __init__(self, frequency_hz: float, sample_rate: int = 48000):
        super().__init__()
        if sample_rate <= 0 or sample_rate % _AUDIO_FRAMES_PER_SECOND:
            raise ValueError(f"sample_rate must give whole 20 ms frames, got {sample_rate}")
        if not 0 < frequency_hz < sample_rate / 2:
            raise ValueError(f"frequency_hz must be in (0, {sample_rate / 2}), got {frequency_hz}")
        self._frequency = frequency_hz
        self._sample_rate = sample_rate
        self._samples = sample_rate // _AUDIO_FRAMES_PER_SECOND
        self._time_base = fractions.Fraction(1, sample_rate)
        self._sample_index = 0
        self._epoch: float | None = None
        # Phase in cycles, wrapped each frame so float precision never degrades.
        self._phase = 0.0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._epoch is None:
            self._epoch = time.monotonic()
        else:
            self._sample_index += self._samples
            wait = self._epoch + self._sample_index / self._sample_rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

        step = self._frequency / self._sample_rate
        cycles = self._phase + step * np.arange(self._samples, dtype=np.float64)
        self._phase = (self._phase + step * self._samples) % 1.0
        pcm = np.round(_TONE_AMPLITUDE * np.sin(2 * np.pi * cycles)).astype(np.int16)

        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = self._sample_rate
        frame.pts = self._sample_index
        frame.time_base = self._time_base
        return frame


def dominant_frequency(frame: av.AudioFrame) -> float:
    """Dominant frequency (Hz) of `frame`, channels averaged; 0.0 if silent."""
    channels = len(frame.layout.channels)
    raw = frame.to_ndarray().astype(np.float64)
    if frame.format.is_planar:
        mono = raw.reshape(channels, -1).mean(axis=0)
    else:
        mono = raw.reshape(-1, channels).mean(axis=1)
    if mono.size < 4:
        return 0.0
    mono -= mono.mean()
    if not np.any(mono):
        return 0.0

    # A 20 ms frame gives 50 Hz bins; zero-padding plus a parabolic fit on the
    # log-magnitude peak brings the estimate to within a few Hz.
    n_fft = max(16384, 1 << (mono.size - 1).bit_length())
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size), n=n_fft))
    peak = int(np.argmax(spectrum[1:])) + 1
    offset = 0.0
    if peak + 1 < spectrum.size:
        a, b, c = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denom = a - 2 * b + c
        if denom < 0:
            offset = float(0.5 * (a - c) / denom)
    return float((peak + offset) * frame.sample_rate / n_fft)
