"""SDP edits that media quality depends on.

Against aiortc's REMB-only feedback Chromium's bandwidth estimate stays low and a 4K camera is
sent at 180p-720p. Bitrate hints (`x-google-*-bitrate`, in kbit/s) on every video codec of the
SDP a peer hands over make Chromium start high and stay high.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BitrateHints:
    min_kbps: int = 1_000
    start_kbps: int = 8_000
    max_kbps: int = 25_000

    def fmtp(self) -> str:
        return (
            f"x-google-min-bitrate={self.min_kbps};x-google-start-bitrate={self.start_kbps};"
            f"x-google-max-bitrate={self.max_kbps}"
        )


VIDEO_CODECS = ("VP8", "VP9", "H264", "AV1")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([A-Za-z0-9-]+)/", re.MULTILINE)


def add_bitrate_hints(sdp: str, hints: BitrateHints = BitrateHints()) -> str:
    """The SDP with bitrate hints on each video codec's fmtp line (added where there is none)."""
    payloads = {pt for pt, codec in _RTPMAP.findall(sdp) if codec.upper() in VIDEO_CODECS}
    lines = sdp.split("\r\n")
    out: list[str] = []
    with_fmtp: set[str] = set()
    for line in lines:
        if line.startswith("a=fmtp:"):
            pt, _, params = line[len("a=fmtp:") :].partition(" ")
            if pt in payloads:
                with_fmtp.add(pt)
                kept = ";".join(p for p in params.split(";") if p and not p.startswith("x-google-"))
                line = f"a=fmtp:{pt} {kept + ';' if kept else ''}{hints.fmtp()}"
        out.append(line)
    result: list[str] = []
    for line in out:
        result.append(line)
        m = _RTPMAP.match(line)
        if m and m.group(1) in payloads and m.group(1) not in with_fmtp:
            result.append(f"a=fmtp:{m.group(1)} {hints.fmtp()}")
    return "\r\n".join(result)
