"""What the recorder reads from encoded frames without decoding them: whether a frame is a
keyframe, and the picture size a container header needs (VP8 frame header, H.264 SPS)."""

from __future__ import annotations

from collections.abc import Iterator

_H264_IDR = 5
_H264_SPS = 7
# Profiles whose SPS carries chroma format, bit depths and scaling lists (H.264 7.3.2.1.1).
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can start playback (a segment starts only on one)."""
    if codec == "VP8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 on a key frame; the start code follows.
        return len(data) >= 10 and not data[0] & 1 and data[3:6] == b"\x9d\x01\x2a"
    if codec == "H264":
        return any(nal[0] & 0x1F == _H264_IDR for nal in _nal_units(data))
    return True  # every Opus packet decodes on its own


def picture_size(codec: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) from a keyframe, or None if this frame does not say."""
    if codec == "VP8":
        if not is_keyframe(codec, data):
            return None
        width = int.from_bytes(data[6:8], "little") & 0x3FFF
        height = int.from_bytes(data[8:10], "little") & 0x3FFF
        return width, height
    if codec == "H264":
        for nal in _nal_units(data):
            if nal[0] & 0x1F == _H264_SPS:
                try:
                    return _sps_size(nal)
                except IndexError:
                    return None
    return None


def _nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B access unit (what aiortc's depayloader produces)."""
    starts: list[int] = []
    pos = data.find(b"\x00\x00\x01")
    while pos != -1:
        starts.append(pos + 3)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        if start < end:
            yield data[start:end]


class _Bits:
    """An RBSP bit reader with Exp-Golomb codes (H.264 7.2, 9.1)."""

    def __init__(self, nal: bytes) -> None:
        # Emulation prevention: 00 00 03 -> 00 00.
        self._data = nal.replace(b"\x00\x00\x03", b"\x00\x00")
        self._pos = 0

    def bit(self) -> int:
        byte = self._data[self._pos >> 3]
        value = (byte >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _sps_size(nal: bytes) -> tuple[int, int]:
    r = _Bits(nal)
    r.bits(8)  # NAL header
    profile_idc = r.bits(8)
    r.bits(16)  # constraint flags, level_idc
    r.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in _H264_HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3:
            r.bit()  # separate_colour_plane_flag
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.bit()  # qpprime_y_zero_transform_bypass_flag
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bit()
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_map_units = r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()  # mb_adaptive_frame_field_flag
    r.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (2 - frame_mbs_only)
    if r.bit():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        crop_x = 2 if chroma_format_idc in (1, 2) else 1
        crop_y = (2 if chroma_format_idc == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    return width, height


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + r.se() + 256) % 256
        last = next_scale or last
