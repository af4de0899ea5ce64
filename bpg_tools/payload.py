"""The link payload of :mod:`bpg_tools.codec`: its 8-byte header, the ``ue7`` NAL framing and
the codec's errors (the format is described in :mod:`bpg_tools.codec`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["BPGError", "BPGDecodeError", "HEADER_BYTES", "CHROMA_IDC", "BACKEND_CODE", "Header",
           "ue7", "read_ue7", "pack_header", "unpack_header"]

HEADER_BYTES = 8
#: HEVC chroma_format_idc per chroma option.
CHROMA_IDC = {"400": 0, "420": 1, "422": 2, "444": 3}
#: the header's backend code per backend name.
BACKEND_CODE = {"heif": 0, "bpg": 1}


class BPGError(RuntimeError):
    """The codec cannot run (no backend, encoder failure, bad settings)."""


class BPGDecodeError(BPGError):
    """A payload cannot be decoded (corrupt, truncated, wrong backend)."""


def ue7(value: int) -> bytes:
    """``value`` as BPG's variable-length integer (7 bits per byte, MSB = continuation)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def read_ue7(data: bytes, pos: int) -> tuple[int, int]:
    """``(value, next position)`` of the ``ue7`` integer at ``data[pos]``."""
    value = 0
    for i in range(5):
        if pos >= len(data):
            raise BPGDecodeError("truncated NAL length")
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos
    raise BPGDecodeError("NAL length longer than 5 bytes")


def pack_header(width: int, height: int, chroma_idc: int, bit_depth: int, backend_code: int, body_len: int) -> bytes:
    if not (0 < width < 1 << 16 and 0 < height < 1 << 16):
        raise BPGError(f"image size {width}x{height} does not fit the 16-bit header fields")
    if body_len >= 1 << 24:
        raise BPGError(f"body of {body_len} bytes does not fit the 24-bit length field")
    fmt = (chroma_idc << 6) | ((bit_depth - 8) << 3) | backend_code
    return struct.pack(">HHB", width, height, fmt) + body_len.to_bytes(3, "big")


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    chroma_idc: int
    bit_depth: int
    backend_code: int
    body_len: int


def unpack_header(payload: bytes) -> Header:
    if len(payload) < HEADER_BYTES:
        raise BPGDecodeError(f"payload of {len(payload)} bytes is shorter than the {HEADER_BYTES}-byte header")
    width, height, fmt = struct.unpack_from(">HHB", payload)
    body_len = int.from_bytes(payload[5:8], "big")
    header = Header(width, height, fmt >> 6, ((fmt >> 3) & 7) + 8, fmt & 7, body_len)
    if width == 0 or height == 0:
        raise BPGDecodeError("header has a zero image size")
    if HEADER_BYTES + body_len > len(payload):
        raise BPGDecodeError(f"header announces {body_len} body bytes, only {len(payload) - HEADER_BYTES} present")
    return header
