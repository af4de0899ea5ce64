"""Minimal HEIF (ISO/IEC 23008-12) demuxer and muxer for one HEVC-intra image.

Why this exists: pillow-heif (libheif + x265) writes a whole HEIF file, but a link only
needs to carry the HEVC bitstream.  :func:`extract_nal_units` pulls the NAL units out of
a single-image HEIF file (parameter sets from the ``hvcC`` box, slice data from the
item's ``iloc`` extents) and :func:`build_heif` re-wraps received NAL units into a
decodable HEIF file.  Picture size, chroma format, bit depth and profile/tier/level
are read from the received SPS, as a real muxer would, so every bit the decoder
depends on comes from the transmitted payload.

Measured container overhead (libheif 1.23.6 writer, 768×512 4:4:4 image): 383 bytes of
boxes (``ftyp`` 28, ``meta`` 343 incl. ``hvcC`` 121 whose NAL arrays carry VPS/SPS/PPS,
``mdat`` header 8, 4-byte NAL length 4); removing the parameter sets themselves (which
the payload keeps) leaves **308 bytes = 2 464 bits of pure container** per image.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "HeifParseError",
    "NAL_VPS",
    "NAL_SPS",
    "NAL_PPS",
    "nal_type",
    "ExtractedHevc",
    "extract_nal_units",
    "build_heif",
    "remove_emulation_prevention",
    "SpsInfo",
    "parse_sps",
]

NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
_PARAMETER_SETS = (NAL_VPS, NAL_SPS, NAL_PPS)


class HeifParseError(ValueError):
    """The bytes are not a single-image HEVC HEIF file this module understands."""


def nal_type(nal: bytes) -> int:
    """HEVC ``nal_unit_type`` (6 bits after the forbidden-zero bit of the 2-byte header)."""
    if len(nal) < 2:
        raise HeifParseError("NAL unit shorter than its 2-byte header")
    return (nal[0] >> 1) & 0x3F


@dataclass(frozen=True)
class ExtractedHevc:
    """The HEVC content of a HEIF file.

    :ivar parameter_sets: VPS, SPS, PPS NAL units (no length prefixes), in ``hvcC`` order.
    :ivar slices: the image item's NAL units (slice segments, possibly SEI), in order.
    :ivar width: ``ispe`` width in pixels.
    :ivar height: ``ispe`` height in pixels.
    :ivar chroma_format_idc: 0 = 4:0:0, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4 (from ``hvcC``).
    :ivar bit_depth: luma bit depth (from ``hvcC``).
    :ivar file_size: size in bytes of the whole HEIF file.
    """

    parameter_sets: tuple[bytes, ...]
    slices: tuple[bytes, ...]
    width: int
    height: int
    chroma_format_idc: int
    bit_depth: int
    file_size: int

    @property
    def nal_bytes(self) -> int:
        """Total NAL-unit bytes (parameter sets + slices), without any framing."""
        return sum(map(len, self.parameter_sets)) + sum(map(len, self.slices))


# --------------------------------------------------------------------------- parsing
def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Child boxes in ``data[start:end]`` as (type, body_start, box_end)."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise HeifParseError("truncated 64-bit box size")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise HeifParseError(f"box {typ!r} at {pos} has bad size {size}")
        out.append((typ, pos + header, pos + size))
        pos += size
    return out


def _find(boxes: list[tuple[bytes, int, int]], typ: bytes) -> tuple[int, int]:
    for t, s, e in boxes:
        if t == typ:
            return s, e
    raise HeifParseError(f"no {typ.decode(errors='replace')!r} box")


def _read_uint(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big") if size else 0


def _parse_iloc(data: bytes, s: int, e: int, item_id: int) -> list[tuple[int, int]]:
    """File-offset extents (offset, length) of ``item_id`` (construction method 0)."""
    version = data[s]
    pos = s + 4
    b1, b2 = data[pos], data[pos + 1]
    off_size, len_size, base_size = b1 >> 4, b1 & 15, b2 >> 4
    idx_size = b2 & 15 if version in (1, 2) else 0
    id_size = 2 if version < 2 else 4  # item_count and item_ID: 16 bits before version 2, else 32
    pos += 2
    count = _read_uint(data, pos, id_size)
    pos += id_size
    for _ in range(count):
        iid = _read_uint(data, pos, id_size)
        pos += id_size
        method = 0
        if version in (1, 2):
            method = struct.unpack_from(">H", data, pos)[0] & 15
            pos += 2
        pos += 2  # data_reference_index
        base = _read_uint(data, pos, base_size)
        pos += base_size
        n_ext = struct.unpack_from(">H", data, pos)[0]
        pos += 2
        extents = []
        for _ in range(n_ext):
            pos += idx_size
            off = _read_uint(data, pos, off_size)
            pos += off_size
            length = _read_uint(data, pos, len_size)
            pos += len_size
            extents.append((base + off, length))
        if iid == item_id:
            if method != 0:
                raise HeifParseError(f"iloc construction method {method} not supported")
            return extents
    raise HeifParseError(f"item {item_id} not in iloc")


def _parse_hvcc(body: bytes) -> tuple[tuple[bytes, ...], int, int, int]:
    """(NAL units, chroma_format_idc, bit_depth, length_size) of an ``hvcC`` body."""
    if len(body) < 23:
        raise HeifParseError("hvcC too short")
    chroma = body[16] & 3
    bit_depth = (body[17] & 7) + 8
    length_size = (body[21] & 3) + 1
    n_arrays = body[22]
    pos = 23
    nals = []
    for _ in range(n_arrays):
        pos += 1  # completeness + type
        count = struct.unpack_from(">H", body, pos)[0]
        pos += 2
        for _ in range(count):
            size = struct.unpack_from(">H", body, pos)[0]
            nals.append(bytes(body[pos + 2 : pos + 2 + size]))
            pos += 2 + size
    return tuple(nals), chroma, bit_depth, length_size


def extract_nal_units(heif: bytes) -> ExtractedHevc:
    """Split a single-image HEVC HEIF file into its NAL units and image facts.

    :raises HeifParseError: if the file is not a one-item ``hvc1`` HEIF (e.g. a grid).
    """
    try:
        top = _boxes(heif, 0, len(heif))
        ms, me = _find(top, b"meta")
        meta = _boxes(heif, ms + 4, me)
        ps, _ = _find(meta, b"pitm")
        version = heif[ps]
        item_id = struct.unpack_from(">H" if version == 0 else ">I", heif, ps + 4)[0]
        iinf = heif[slice(*_find(meta, b"iinf"))]
        if b"hvc1" not in iinf or b"grid" in iinf:
            raise HeifParseError("primary item is not a single hvc1 image")
        extents = _parse_iloc(heif, *_find(meta, b"iloc"), item_id)
        iprp = _boxes(heif, *_find(meta, b"iprp"))
        ipco = _boxes(heif, *_find(iprp, b"ipco"))
        hs, he = _find(ipco, b"hvcC")
        params, chroma, bit_depth, length_size = _parse_hvcc(heif[hs:he])
        es, _ = _find(ipco, b"ispe")
        width, height = struct.unpack_from(">II", heif, es + 4)
        item = b"".join(heif[o : o + n] for o, n in extents)
        slices = []
        pos = 0
        while pos < len(item):
            size = _read_uint(item, pos, length_size)
            pos += length_size
            if size == 0 or pos + size > len(item):
                raise HeifParseError("bad NAL length in item data")
            slices.append(bytes(item[pos : pos + size]))
            pos += size
    except (struct.error, IndexError) as exc:
        raise HeifParseError(f"malformed HEIF: {exc}") from exc
    return ExtractedHevc(params, tuple(slices), width, height, chroma, bit_depth, len(heif))


# --------------------------------------------------------------------------- SPS
class _BitReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise HeifParseError("SPS ended early")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise HeifParseError("bad exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.u(zeros)


@dataclass(frozen=True)
class SpsInfo:
    """Picture facts from an HEVC SPS.

    :ivar width: luma width after the conformance window (what a decoder outputs).
    :ivar height: luma height after the conformance window.
    :ivar chroma_format_idc: 0..3.
    :ivar bit_depth: luma bit depth.
    """

    width: int
    height: int
    chroma_format_idc: int
    bit_depth: int


def parse_sps(sps: bytes) -> SpsInfo:
    """Read picture size, chroma format and bit depth from an SPS NAL unit (H.265 §7.3.2.2).

    :raises HeifParseError: if the SPS is truncated or malformed.
    """
    r = _BitReader(remove_emulation_prevention(sps)[2:])
    r.u(4)
    max_sub_layers_minus1 = r.u(3)
    r.u(1)
    r.u(96)  # general profile_tier_level
    flags = [(r.u(1), r.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))
    for profile_present, level_present in flags:
        r.u(88 * profile_present + 8 * level_present)
    r.ue()  # sps_seq_parameter_set_id
    chroma = r.ue()
    if chroma > 3:
        raise HeifParseError(f"bad chroma_format_idc {chroma}")
    separate = r.u(1) if chroma == 3 else 0
    width, height = r.ue(), r.ue()
    sub_w = 2 if chroma in (1, 2) and not separate else 1
    sub_h = 2 if chroma == 1 and not separate else 1
    if r.u(1):  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    bit_depth = r.ue() + 8
    if width <= 0 or height <= 0 or bit_depth > 16:
        raise HeifParseError(f"implausible SPS: {width}x{height}, {bit_depth} bit")
    return SpsInfo(width, height, chroma, bit_depth)


# --------------------------------------------------------------------------- muxing
def remove_emulation_prevention(nal: bytes) -> bytes:
    """RBSP of a NAL unit: drop every ``0x03`` that follows two zero bytes."""
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _box(typ: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), typ) + body


def _full_box(typ: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(typ, struct.pack(">I", (version << 24) | flags), *parts)


def _hvcc(parameter_sets: list[bytes], chroma_format_idc: int, bit_depth: int) -> bytes:
    """An ``hvcC`` box; profile/tier/level are copied from the SPS's profile_tier_level."""
    sps = next((p for p in parameter_sets if nal_type(p) == NAL_SPS), None)
    if sps is None:
        raise HeifParseError("no SPS among the parameter sets")
    rbsp = remove_emulation_prevention(sps)
    # 2-byte NAL header, 1 byte (vps id, max_sub_layers_minus1, temporal nesting),
    # then general profile_space/tier/profile_idc (1) + compat flags (4) +
    # constraint flags (6) + level_idc (1) = the 12 bytes hvcC carries verbatim.
    if len(rbsp) < 15:
        raise HeifParseError("SPS too short")
    ptl = rbsp[3:15]
    head = (
        bytes([1])
        + ptl
        + struct.pack(">H", 0xF000)  # reserved + min_spatial_segmentation_idc = 0
        + bytes([0xFC, 0xFC | (chroma_format_idc & 3), 0xF8 | ((bit_depth - 8) & 7), 0xF8 | ((bit_depth - 8) & 7)])
        + struct.pack(">H", 0)  # avgFrameRate
        + bytes([0x0F])  # constantFrameRate 0, 1 temporal layer, nested, 4-byte lengths
    )
    arrays = []
    for t in _PARAMETER_SETS:
        units = [p for p in parameter_sets if nal_type(p) == t]
        if units:
            arrays.append(
                bytes([0x80 | t])
                + struct.pack(">H", len(units))
                + b"".join(struct.pack(">H", len(u)) + u for u in units)
            )
    return _box(b"hvcC", head, bytes([len(arrays)]), *arrays)


def build_heif(parameter_sets: list[bytes], slices: list[bytes]) -> bytes:
    """A single-image HEIF file around the given HEVC NAL units.

    Width, height (``ispe``), chroma format and bit depth (``hvcC``, ``pixi``) are read
    from the SPS, so they come from the transmitted bits.

    Colour signalling is fixed (``colr``/``nclx``: BT.709 primaries, sRGB transfer,
    BT.601 matrix, full range), as written by pillow-heif's encoder; it is receiver-side
    convention, not transmitted.

    :param parameter_sets: VPS/SPS/PPS NAL units (any other NAL here is ignored).
    :param slices: the picture's remaining NAL units in decoding order.
    :returns: the HEIF file bytes.
    :raises HeifParseError: if there is no SPS or a NAL unit is too large.
    """
    if any(len(p) > 0xFFFF for p in parameter_sets):
        raise HeifParseError("parameter set larger than 65535 bytes")
    params = [p for p in parameter_sets if len(p) >= 2 and nal_type(p) in _PARAMETER_SETS]
    sps = next((p for p in params if nal_type(p) == NAL_SPS), None)
    if sps is None:
        raise HeifParseError("no SPS among the parameter sets")
    info = parse_sps(sps)
    width, height, chroma_format_idc, bit_depth = info.width, info.height, info.chroma_format_idc, info.bit_depth
    n_channels = 1 if chroma_format_idc == 0 else 3
    ftyp = _box(b"ftyp", b"heic", struct.pack(">I", 0), b"mif1", b"heic")
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I", 0), b"pict", bytes(12), b"\0")
    pitm = _full_box(b"pitm", 0, 0, struct.pack(">H", 1))
    infe = _full_box(b"infe", 2, 0, struct.pack(">HH", 1, 0), b"hvc1", b"\0")
    iinf = _full_box(b"iinf", 0, 0, struct.pack(">H", 1), infe)
    ipco = _box(
        b"ipco",
        _hvcc(params, chroma_format_idc, bit_depth),
        _box(b"colr", b"nclx", struct.pack(">HHHB", 1, 13, 6, 0x80)),
        _full_box(b"ispe", 0, 0, struct.pack(">II", width, height)),
        _full_box(b"pixi", 0, 0, bytes([n_channels] + [bit_depth] * n_channels)),
    )
    # property 1 (hvcC) essential; 2 colr, 3 ispe, 4 pixi
    ipma = _full_box(b"ipma", 0, 0, struct.pack(">IHB", 1, 1, 4), bytes([0x81, 0x02, 0x03, 0x04]))
    iprp = _box(b"iprp", ipco, ipma)
    item = b"".join(struct.pack(">I", len(s)) + s for s in slices)

    def meta_with(offset: int) -> bytes:
        iloc = _full_box(
            b"iloc", 0, 0, bytes([0x44, 0x00]), struct.pack(">HHHHII", 1, 1, 0, 1, offset, len(item))
        )
        return _full_box(b"meta", 0, 0, hdlr, pitm, iloc, iinf, iprp)

    head_len = len(ftyp) + len(meta_with(0))
    meta = meta_with(head_len + 8)
    return ftyp + meta + _box(b"mdat", item)
