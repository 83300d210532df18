"""A real camera as an aiortc track: OpenCV capture runs in a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import fractions
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import cv2
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class CameraTrack(VideoStreamTrack):
    def __init__(self, index: int, width: int = 3840, height: int = 2160) -> None:
        super().__init__()
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            raise RuntimeError(f"camera {index} cannot be opened")
        # Ask for 4K; the camera gives the nearest it has.
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # One thread: a capture device is not safe to read from two at once.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camera")
        self._t0: float | None = None

    def _grab(self) -> Any:
        ok, image = self._capture.read()
        return image if ok else None

    async def recv(self) -> av.VideoFrame:
        image = await asyncio.get_running_loop().run_in_executor(self._executor, self._grab)
        if image is None:
            self.stop()
            raise MediaStreamError("camera stopped delivering frames")
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = int((now - self._t0) / VIDEO_TIME_BASE)
        frame.time_base = VIDEO_TIME_BASE
        return frame

    def stop(self) -> None:
        super().stop()
        self._executor.submit(self._capture.release)
        self._executor.shutdown(wait=False)
