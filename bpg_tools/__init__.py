"""BPG image codec for the classical link: real ``bpgenc``/``bpgdec`` or HEVC-intra via
pillow-heif, a compact link payload, rate control to a bit budget and an encode cache.

Typical use::

    from bpg_tools import get_codec
    codec = get_codec()                           # backend "auto", 4:2:0 (bpgenc's default)
    enc = codec.encode_to_budget(image, 73_728)   # image [3, H, W] in [0, 1]
    enc.bits, enc.qp, codec.info()
    rec = codec.decode(enc.payload)               # [3, H, W] in [0, 1]; BPGDecodeError if corrupt

See :mod:`bpg_tools.codec` and ``docs/bpg.md``.
"""

from __future__ import annotations

import functools

from bpg_tools.codec import (
    HEADER_BYTES,
    QP_MAX,
    QP_MIN,
    BPGCodec,
    BPGDecodeError,
    BPGError,
    EncodedImage,
    default_cache_dir,
    to_uint8_rgb,
)

__all__ = [
    "BPGCodec",
    "BPGError",
    "BPGDecodeError",
    "EncodedImage",
    "HEADER_BYTES",
    "QP_MIN",
    "QP_MAX",
    "get_codec",
    "default_cache_dir",
    "to_uint8_rgb",
]


@functools.lru_cache(maxsize=None)
def get_codec(backend: str = "auto", chroma: str = "420", preset: str = "slow") -> BPGCodec:
    """A shared :class:`BPGCodec` per settings (so its in-memory cache is shared too)."""
    return BPGCodec(backend=backend, chroma=chroma, preset=preset)
