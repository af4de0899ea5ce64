"""Encoder/decoder backends of :class:`bpg_tools.codec.BPGCodec`: HEVC intra through pillow-heif,
or the real ``bpgenc``/``bpgdec`` programs.  Each turns an ``[H, W, 3]`` uint8 image into a
payload body and back (the body formats are described in :mod:`bpg_tools.codec`).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from bpg_tools.heif_mux import NAL_PPS, NAL_SPS, NAL_VPS, HeifParseError, build_heif, extract_nal_units, nal_type
from bpg_tools.payload import CHROMA_IDC, BPGDecodeError, BPGError, Header, read_ue7, ue7

__all__ = ["HeifBackend", "BpgExeBackend", "find_bpg_programs"]

SUBPROCESS_TIMEOUT_S = 120.0


class HeifBackend:
    """HEVC intra through pillow-heif; the body is the framed NAL units."""

    name = "heif"

    def __init__(self, chroma: str, preset: str) -> None:
        import pillow_heif

        self._ph = pillow_heif
        self.chroma = chroma
        self.preset = preset
        lib = pillow_heif.libheif_info()
        self._info = {
            "backend": "pillow-heif",
            "pillow_heif": str(pillow_heif.__version__),
            "libheif": str(lib.get("libheif", "?")),
            "x265": str(lib.get("encoders", {}).get("x265", lib.get("HEIF", "?"))).replace("x265 HEVC encoder ", "").strip("()"),
            "libde265": str(lib.get("decoders", {}).get("libde265", "?")).replace("libde265 HEVC decoder, version ", ""),
            "chroma": chroma,
            "preset": preset,
            "rate_control": "x265 constant QP, ipratio=1 (qp = HEVC slice QP)",
        }

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def encode(self, rgb: np.ndarray, qp: int) -> tuple[bytes, int, int]:
        """(body, chroma_format_idc, bit_depth) for an ``[H, W, 3]`` uint8 image."""
        h, w = rgb.shape[:2]
        buf = io.BytesIO()
        try:
            heif = self._ph.from_bytes("RGB", (w, h), rgb.tobytes())
            heif.save(buf, quality=50, chroma=int(self.chroma), save_nclx_profile=True,
                      enc_params={"x265:qp": str(int(qp)), "x265:ipratio": "1", "preset": self.preset})
            hevc = extract_nal_units(buf.getvalue())
        except (HeifParseError, RuntimeError, ValueError, OSError) as exc:
            raise BPGError(f"HEVC encoding failed at QP {qp}: {exc}") from exc
        body = b"".join(ue7(len(n)) + n for n in (*hevc.parameter_sets, *hevc.slices))
        return body, hevc.chroma_format_idc, hevc.bit_depth

    def decode(self, body: bytes, header: Header) -> np.ndarray:
        nals = []
        pos = 0
        while pos < len(body):
            size, pos = read_ue7(body, pos)
            if size < 2 or pos + size > len(body):
                raise BPGDecodeError(f"NAL length {size} at byte {pos} runs past the body")
            nals.append(body[pos : pos + size])
            pos += size
        params = [n for n in nals if nal_type(n) in (NAL_VPS, NAL_SPS, NAL_PPS)]
        slices = [n for n in nals if nal_type(n) not in (NAL_VPS, NAL_SPS, NAL_PPS)]
        if not slices or not any(nal_type(n) == NAL_SPS for n in params):
            raise BPGDecodeError("payload lacks an SPS or slice data")
        try:
            heif = build_heif(params, slices)
            img = self._ph.open_heif(heif, convert_hdr_to_8bit=True).to_pillow().convert("RGB")
            rgb = np.asarray(img)
        except (HeifParseError, RuntimeError, ValueError, EOFError, SyntaxError, OSError, struct.error) as exc:
            raise BPGDecodeError(f"HEVC decoding failed: {exc}") from exc
        return rgb


class BpgExeBackend:
    """The real bpgenc/bpgdec programs; the body is the .bpg file."""

    name = "bpg"

    def __init__(self, bpgenc: str, bpgdec: str, chroma: str) -> None:
        self.bpgenc, self.bpgdec, self.chroma = bpgenc, bpgdec, chroma
        self._info = {"backend": "bpg", "bpgenc": bpgenc, "bpgdec": bpgdec,
                      "bpg_version": self._version(), "chroma": chroma}

    def _version(self) -> str:
        try:
            res = subprocess.run([self.bpgenc, "-h"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BPGError(f"cannot run {self.bpgenc}: {exc}") from exc
        m = re.search(r"version\s+([0-9][\w.\-]*)", res.stdout + res.stderr, re.IGNORECASE)
        return m.group(1) if m else "unknown"

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def encode(self, rgb: np.ndarray, qp: int) -> tuple[bytes, int, int]:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="semcom-bpgenc-") as tmp:
            src, dst = Path(tmp) / "in.png", Path(tmp) / "out.bpg"
            Image.fromarray(rgb, "RGB").save(src)
            cmd = [self.bpgenc, "-f", self.chroma, "-q", str(int(qp)), "-o", str(dst), str(src)]
            try:
                res = subprocess.run(cmd, capture_output=True, timeout=SUBPROCESS_TIMEOUT_S)
            except (OSError, subprocess.SubprocessError) as exc:
                raise BPGError(f"bpgenc failed: {exc}") from exc
            if res.returncode != 0 or not dst.exists():
                raise BPGError(f"bpgenc exited {res.returncode}: {res.stderr.decode(errors='replace')[-300:]}")
            return dst.read_bytes(), CHROMA_IDC[self.chroma], 8

    def decode(self, body: bytes, header: Header) -> np.ndarray:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="semcom-bpgdec-") as tmp:
            src, dst = Path(tmp) / "in.bpg", Path(tmp) / "out.png"
            src.write_bytes(body)
            try:
                res = subprocess.run([self.bpgdec, "-o", str(dst), str(src)], capture_output=True,
                                     timeout=SUBPROCESS_TIMEOUT_S)
            except (OSError, subprocess.SubprocessError) as exc:
                raise BPGDecodeError(f"bpgdec failed: {exc}") from exc
            if res.returncode != 0 or not dst.exists():
                raise BPGDecodeError(f"bpgdec exited {res.returncode}: {res.stderr.decode(errors='replace')[-300:]}")
            try:
                with Image.open(dst) as img:
                    return np.asarray(img.convert("RGB"))
            except (OSError, ValueError) as exc:
                raise BPGDecodeError(f"bpgdec output unreadable: {exc}") from exc


def find_bpg_programs() -> tuple[str, str] | None:
    """``(bpgenc, bpgdec)`` from ``$SEMCOM_BPGENC``/``$SEMCOM_BPGDEC``, else ``PATH``; ``None`` unless both are found."""
    enc = os.environ.get("SEMCOM_BPGENC") or shutil.which("bpgenc")
    dec = os.environ.get("SEMCOM_BPGDEC") or shutil.which("bpgdec")
    return (enc, dec) if enc and dec else None
