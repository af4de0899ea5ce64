"""JPEG 2000 through Pillow (OpenJPEG), rate-controlled to a byte budget, in a length-framed payload.

Encoding: the raw codestream (``.j2k``, no JP2 box), 9/7 irreversible wavelet, the RGB→YCbCr
component transform, one quality layer at compression ratio r (OpenJPEG's rate control).  The
ratio starts at raw/budget and grows until the codestream fits, so the payload uses nearly
the whole budget.  The payload is a 3-byte big-endian length then the codestream, so a
receiver that gets the transport block's zero padding after it knows where it ends.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, features

__all__ = ["LENGTH_BYTES", "J2kPayload", "encode_to_budget", "decode", "J2kDecodeError", "versions"]

#: Bytes of the length field in front of the codestream.
LENGTH_BYTES = 3
#: Rate-control retries before giving up on a budget.
_TRIES = 12


class J2kDecodeError(ValueError):
    """A payload is not a decodable JPEG 2000 codestream of the expected size."""


@dataclass(frozen=True)
class J2kPayload:
    """One encoded image.

    :ivar data: the framed payload (length + codestream); ``b""`` when nothing fits the budget.
    :ivar ratio: the compression ratio used (raw RGB bytes / codestream bytes asked), 0 if empty.
    """

    data: bytes
    ratio: float

    @property
    def bits(self) -> int:
        """Payload bits (0 when empty)."""
        return 8 * len(self.data)


def _to_pil(image: torch.Tensor) -> Image.Image:
    rgb = image.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")


def _codestream(pil: Image.Image, ratio: float) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, format="JPEG2000", no_jp2=True, irreversible=True, mct=1,
             quality_mode="rates", quality_layers=[ratio])
    return buf.getvalue()


def encode_to_budget(image: torch.Tensor, max_bits: int) -> J2kPayload:
    """The framed JPEG 2000 payload of ``image`` (``[3, H, W]`` in [0, 1]) in at most ``max_bits``.

    :returns: the payload at the lowest compression ratio OpenJPEG's rate control fits, or an
        empty one when even its smallest codestream does not fit.
    """
    budget = int(max_bits) // 8 - LENGTH_BYTES
    if budget <= 0:
        return J2kPayload(b"", 0.0)
    pil = _to_pil(image)
    raw = 3 * pil.width * pil.height
    ratio = max(raw / budget, 1.0)
    for _ in range(_TRIES):
        data = _codestream(pil, ratio)
        if len(data) <= budget:
            return J2kPayload(len(data).to_bytes(LENGTH_BYTES, "big") + data, ratio)
        ratio *= 1.02 * len(data) / budget
    return J2kPayload(b"", 0.0)


def decode(payload: bytes, height: int, width: int) -> torch.Tensor:
    """``[3, H, W]`` float in [0, 1] from a framed payload (trailing bytes ignored).

    :raises J2kDecodeError: a bad length, codestream or size.
    """
    if len(payload) < LENGTH_BYTES:
        raise J2kDecodeError("payload shorter than its length field")
    length = int.from_bytes(payload[:LENGTH_BYTES], "big")
    body = payload[LENGTH_BYTES:LENGTH_BYTES + length]
    if length == 0 or len(body) != length:
        raise J2kDecodeError(f"length field says {length} bytes, {len(payload) - LENGTH_BYTES} present")
    try:
        with Image.open(io.BytesIO(body)) as img:
            img.load()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise J2kDecodeError(f"JPEG 2000 decoding failed: {exc}") from exc
    if rgb.shape[:2] != (height, width):
        raise J2kDecodeError(f"decoded size {rgb.shape[:2]} != {(height, width)}")
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div_(255.0)


def versions() -> dict[str, str]:
    """Pillow's and OpenJPEG's versions (recorded in every row)."""
    import PIL

    return {"pillow": PIL.__version__, "openjpeg": str(features.version("jpg_2000"))}
