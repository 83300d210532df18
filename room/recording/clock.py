"""RTP time to recording time: 32-bit RTP timestamps unwrapped, mapped to the wall clock
through RTCP sender reports where the sender sends them, else through arrival time.

Audio and video of one sender are stamped by separate RTP clocks with random origins; only the
sender reports (NTP time <-> RTP timestamp) relate them. Sender NTP time is the sender's own
clock: one offset per participant (sender clock to ours) brings it onto the local clock that
arrival times use, so every track of every participant shares one time base.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

_WRAP: Final = 1 << 32
_HALF: Final = 1 << 31
# A report's NTP time is taken when the sender sent a packet, never before the frame was
# captured: a late report only errs late. The earliest mapping among the last few (about 8 s
# of reports) is the truest, and one stalled report cannot move a recording's timing.
_REPORTS_KEPT: Final = 8


def ntp_to_seconds(ntp: int) -> float:
    """A 64-bit NTP timestamp as seconds since the Unix epoch (as `time.time()`)."""
    return (ntp >> 32) - 2_208_988_800 + (ntp & 0xFFFFFFFF) / _WRAP


def extend(timestamp: int, reference: int) -> int:
    """The unwrapped value of a 32-bit `timestamp` nearest to the unwrapped `reference`."""
    delta = (timestamp - reference) % _WRAP
    if delta >= _HALF:
        delta -= _WRAP
    return reference + delta


@dataclass(slots=True)
class _Report:
    rtp: int  # unwrapped
    sender_time: float  # seconds, the sender's clock


class TrackClock:
    """One track's RTP clock: where its timestamps fall on the local clock."""

    def __init__(self, clock_rate: int, first_rtp: int, first_arrival: float) -> None:
        self.clock_rate = clock_rate
        self._anchor_rtp = first_rtp
        self._anchor_time = first_arrival
        self._last = first_rtp
        self._reports: deque[_Report] = deque(maxlen=_REPORTS_KEPT)

    @property
    def has_report(self) -> bool:
        return bool(self._reports)

    def unwrap(self, timestamp: int) -> int:
        """Unwrap a frame's timestamp; frames come in order, so each follows the last."""
        self._last = extend(timestamp, self._last)
        return self._last

    def add_report(self, ntp: int, rtp: int) -> None:
        # Only recent reports are kept: that follows any drift between the sender's clocks.
        self._reports.append(_Report(extend(rtp, self._last), ntp_to_seconds(ntp)))

    def sender_time(self, rtp: int) -> float | None:
        """When the sender says unwrapped `rtp` was (its clock), if it has reported."""
        if not self._reports:
            return None
        return min(r.sender_time + (rtp - r.rtp) / self.clock_rate for r in self._reports)

    def arrival_time(self, rtp: int) -> float:
        """Local time of `rtp`, had every frame been as late as the first packet."""
        return self._anchor_time + (rtp - self._anchor_rtp) / self.clock_rate

    def anchor_offset(self) -> float | None:
        """Local minus sender clock, as seen on this track's first packet."""
        sender = self.sender_time(self._anchor_rtp)
        return None if sender is None else self._anchor_time - sender


class ParticipantClock:
    """The tracks of one sender on the local clock, synchronised by its sender reports."""

    def __init__(self) -> None:
        self._offset: float | None = None

    def settle(self, tracks: list[TrackClock]) -> None:
        """Fix the sender-to-local offset from the tracks that have reported so far.

        The least delayed first packet is the best estimate; fixed once, so a track's times
        never move when another track's report arrives.
        """
        if self._offset is not None:
            return
        offsets = [o for o in (t.anchor_offset() for t in tracks) if o is not None]
        if offsets:
            self._offset = min(offsets)

    @property
    def synchronised(self) -> bool:
        return self._offset is not None

    def local_time(self, track: TrackClock, rtp: int) -> float:
        sender = track.sender_time(rtp)
        if sender is None or self._offset is None:
            return track.arrival_time(rtp)
        return sender + self._offset


# Corrections to a track's timeline are applied at most this fraction of the media time they
# are spread over (5 %: 100 ms of correction over 2 s), so frames are never bunched up and
# audio never jumps; beyond STEP_SECONDS the sender has restarted its clock and we follow.
MAX_SLEW: Final = 0.05
STEP_SECONDS: Final = 1.0


class SlewedTime:
    """A track's times: they follow where the clock puts each frame, without jumps."""

    def __init__(self, clock_rate: int) -> None:
        self._rate = clock_rate
        self._rtp: int | None = None
        self._time = 0.0

    def at(self, rtp: int, target: float) -> float:
        if self._rtp is None:
            self._rtp, self._time = rtp, target
            return target
        elapsed = max(rtp - self._rtp, 0) / self._rate
        natural = self._time + elapsed
        error = target - natural
        if abs(error) > STEP_SECONDS:
            result = target
        else:
            limit = MAX_SLEW * elapsed
            result = natural + max(-limit, min(limit, error))
        self._rtp, self._time = rtp, result
        return result
