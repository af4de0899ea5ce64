"""The BPG codec interface: backends, payload format, rate control, cache, robustness."""

from __future__ import annotations

import io
import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bpg_tools import HEADER_BYTES, BPGCodec, BPGDecodeError, BPGError
from bpg_tools.heif_mux import build_heif, extract_nal_units, parse_sps
from simulator.metrics import psnr


def smooth_image(h: int = 96, w: int = 128, grid: tuple[int, int] = (4, 6), seed: int = 0) -> torch.Tensor:
    """``[3, H, W]`` random smooth image in [0, 1] (bicubic upsampling of a coarse grid)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(1, 3, *grid, generator=g), size=(h, w), mode="bicubic", align_corners=False)
    return x[0].clamp(0, 1)


@pytest.fixture(scope="module")
def codec(tmp_path_factory: pytest.TempPathFactory) -> BPGCodec:
    return BPGCodec(backend="heif", cache_dir=tmp_path_factory.mktemp("bpgcache"))


def test_backend_reports_itself(codec: BPGCodec) -> None:
    info = codec.info()
    assert info["backend"] == "pillow-heif"
    for key in ("libheif", "x265", "libde265", "pillow_heif"):
        assert info[key] and info[key] != "?"
    assert info["chroma"] == "420"  # bpgenc's default
    assert codec.backend == "heif"


def test_round_trip_psnr(codec: BPGCodec) -> None:
    img = smooth_image()
    fine, coarse = codec.encode(img, 20), codec.encode(img, 51)
    rec_fine, rec_coarse = codec.decode(fine.payload), codec.decode(coarse.payload)
    assert rec_fine.shape == img.shape and rec_fine.dtype == torch.float32
    assert 0.0 <= rec_fine.min() and rec_fine.max() <= 1.0
    p_fine, p_coarse = psnr(img, rec_fine).item(), psnr(img, rec_coarse).item()
    assert p_fine > 38.0
    assert 12.0 < p_coarse < p_fine
    assert coarse.bits < fine.bits


def test_payload_is_header_plus_nal_units_only(codec: BPGCodec) -> None:
    """The payload drops the HEIF container but decodes to the same pixels as the file."""
    import pillow_heif

    img = smooth_image(64, 128)
    rgb = (img.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    buf = io.BytesIO()
    pillow_heif.from_bytes("RGB", (128, 64), rgb.tobytes()).save(
        buf, chroma=420, enc_params={"x265:qp": "30", "x265:ipratio": "1", "preset": "slow"})
    heif = buf.getvalue()
    hevc = extract_nal_units(heif)
    enc = codec.encode(img, 30)
    assert len(enc.payload) < len(heif) - 250  # ~300 bytes of container removed
    assert enc.header_bits == 8 * HEADER_BYTES
    assert int.from_bytes(enc.payload[:2], "big") == 128 and int.from_bytes(enc.payload[2:4], "big") == 64
    # framing: ue7 length per NAL unit, < 2 bytes each here
    assert len(enc.payload) - HEADER_BYTES - hevc.nal_bytes <= 2 * (len(hevc.parameter_sets) + len(hevc.slices))
    direct = np.asarray(pillow_heif.open_heif(heif).to_pillow())
    rewrapped = np.asarray(pillow_heif.open_heif(build_heif(list(hevc.parameter_sets), list(hevc.slices))).to_pillow())
    assert np.array_equal(direct, rewrapped)
    assert np.array_equal(direct, codec.decode_uint8(enc.payload))
    sps = parse_sps(hevc.parameter_sets[1])
    assert (sps.width, sps.height, sps.chroma_format_idc, sps.bit_depth) == (128, 64, 1, 8)


def test_budget_respected_and_tight(codec: BPGCodec) -> None:
    img = smooth_image()
    for budget in (1800, 2304, 3456, 6000, 20000):
        enc = codec.encode_to_budget(img, budget)
        assert not enc.empty and enc.bits <= budget and enc.budget_bits == budget
        if enc.qp > 0:  # the next better QP would not have fitted
            assert codec.encode(img, enc.qp - 1).bits > budget
    # trailing zero padding (what a channel code adds) is ignored by the decoder
    enc = codec.encode_to_budget(img, 3456)
    assert torch.equal(codec.decode(enc.payload + bytes(50)), codec.decode(enc.payload))


def test_empty_encoding_when_nothing_fits(codec: BPGCodec) -> None:
    enc = codec.encode_to_budget(smooth_image(), 200)
    assert enc.empty and enc.bits == 0 and enc.qp is None and enc.header_bits == 0


def test_bits_monotone_in_qp(codec: BPGCodec) -> None:
    img = smooth_image(seed=3)
    bits = [codec.encode(img, qp).bits for qp in range(0, 52, 3)]
    assert all(a > b for a, b in zip(bits, bits[1:])), bits


def test_corrupted_payload_raises_typed_error_or_decodes(codec: BPGCodec) -> None:
    img = smooth_image(seed=5)
    payload = codec.encode(img, 30).payload
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "image": 0}
    for trial in range(40):
        data = bytearray(payload)
        for pos in rng.integers(HEADER_BYTES, len(data), size=1 + trial % 5):
            data[pos] ^= 1 << int(rng.integers(8))
        try:
            out = codec.decode(bytes(data))
        except BPGDecodeError:
            outcomes["error"] += 1
        else:
            assert out.shape == img.shape and torch.isfinite(out).all()
            outcomes["image"] += 1
    assert sum(outcomes.values()) == 40
    for bad in (b"", payload[:5], payload[: len(payload) // 2], b"\x00" * 8 + payload[8:],
                payload[:4] + bytes([payload[4] | 7]) + payload[5:]):
        with pytest.raises(BPGDecodeError):
            codec.decode(bad)


@pytest.mark.parametrize("chroma", ["420", "444"])
@pytest.mark.parametrize("shape", [(37, 53), (65, 97), (1, 3)])
def test_odd_sizes(shape: tuple[int, int], chroma: str) -> None:
    codec = BPGCodec(backend="heif", chroma=chroma, cache_dir=False)
    img = smooth_image(*shape, grid=(1, 3) if shape[0] < 4 else (4, 6))
    rec = codec.decode(codec.encode(img, 25).payload)
    assert rec.shape == (3, *shape)
    # 4:2:0 halves chroma resolution: a 1×3 image of three random colours keeps ~27 dB
    assert psnr(img, rec).item() > (30.0 if chroma == "444" or shape[0] > 1 else 25.0)


def test_grayscale_input(codec: BPGCodec) -> None:
    gray = smooth_image(48, 80)[0]
    for image in (gray, gray.unsqueeze(0)):
        rec = codec.decode(codec.encode(image, 22).payload)
        assert rec.shape == (3, 48, 80)
        assert psnr(gray.expand(3, -1, -1), rec).item() > 35.0


def test_disk_cache_is_reused(tmp_path: Path) -> None:
    img = smooth_image(seed=7)
    first = BPGCodec(backend="heif", cache_dir=tmp_path)
    enc = first.encode_to_budget(img, 3000)
    assert first.stats.encodes > 0
    files = list(tmp_path.rglob("*.bin"))
    assert files and not list(tmp_path.rglob(".tmp-*"))
    second = BPGCodec(backend="heif", cache_dir=tmp_path)
    again = second.encode_to_budget(img, 3000)
    assert second.stats.encodes == 0 and second.stats.disk_hits > 0
    assert again == enc


def test_unknown_backend_and_missing_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BPGError):
        BPGCodec(backend="jpeg", cache_dir=False)
    monkeypatch.delenv("SEMCOM_BPGENC", raising=False)
    monkeypatch.delenv("SEMCOM_BPGDEC", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BPGError):
        BPGCodec(backend="bpg", cache_dir=False)
    assert BPGCodec(backend="auto", cache_dir=False).backend == "heif"


_FAKE_BPGENC = """\
import sys
from PIL import Image
args = sys.argv[1:]
if "-h" in args:
    print("BPG Image Encoder version 0.9.8"); sys.exit(1)
opts = dict(zip(args[:-1:2], args[1:-1:2]))
assert opts["-f"] == "420", opts
img = Image.open(args[-1]).convert("RGB")
import io
buf = io.BytesIO(); img.save(buf, format="PNG")
open(opts["-o"], "wb").write(b"FAKEBPG" + bytes([int(opts["-q"])]) + buf.getvalue())
"""

_FAKE_BPGDEC = """\
import io, sys
from PIL import Image
args = sys.argv[1:]
out, src = args[args.index("-o") + 1], args[-1]
data = open(src, "rb").read()
if not data.startswith(b"FAKEBPG"):
    sys.stderr.write("not a BPG file"); sys.exit(1)
Image.open(io.BytesIO(data[8:])).save(out, format="PNG")
"""


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_bpg_program_backend_with_stand_in_programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bpgenc/bpgdec plumbing (arguments, temp files, errors) with stand-in programs."""
    monkeypatch.setenv("SEMCOM_BPGENC", _script(tmp_path / "bpgenc", _FAKE_BPGENC))
    monkeypatch.setenv("SEMCOM_BPGDEC", _script(tmp_path / "bpgdec", _FAKE_BPGDEC))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    codec = BPGCodec(cache_dir=tmp_path / "cache")
    assert codec.backend == "bpg"
    assert codec.info()["bpg_version"] == "0.9.8"
    img = smooth_image(32, 48)
    enc = codec.encode(img, 33)
    assert enc.payload[HEADER_BYTES : HEADER_BYTES + 8] == b"FAKEBPG" + bytes([33])
    assert torch.equal(codec.decode(enc.payload), (img * 255).round() / 255)
    bad = bytearray(enc.payload)
    bad[HEADER_BYTES] ^= 0xFF
    with pytest.raises(BPGDecodeError):
        codec.decode(bytes(bad))
    assert os.listdir(scratch) == []  # temporary folders are always removed
