"""The classical link: segmentation, delivery/fallback, LDPC waterfalls, capacity bound."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simulator.channels import AWGNChannel, Realisation, snr_db_to_noise_power, unit_noise
from simulator.metrics import psnr
from simulator.registry import available_schemes, create_scheme, parse_scheme_list
from simulator.schemes.base import Transmission

H, W = 96, 128  # n = 2304 channel uses at ρ = 1/16 → one code block per image


def smooth_image(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(H, W), mode="bicubic", align_corners=False)
    return x[0].clamp(0, 1)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path_factory.getbasetemp() / "semcom-cache"))


def _items(scheme, image: torch.Tensor, snr_db: float, count: int = 1, image_id: str = "img") -> list[Transmission]:
    tx = scheme.encode(image)
    n = scheme.channel_uses(*image.shape[-2:])
    return [Transmission(tx, image, AWGNChannel().realise(n, 0, image_id, snr_db, r)) for r in range(count)]


def test_schemes_registered() -> None:
    schemes = available_schemes()
    for name in ("bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity"):
        assert name in schemes and schemes[name].name == name
    assert parse_scheme_list("bpg-ldpc") == ["bpg-ldpc-1/2", "bpg-ldpc-3/4"]
    with pytest.raises(ValueError):
        create_scheme("bpg-ldpc-1/2:nonsense=1")
    with pytest.raises(ValueError):
        create_scheme("bpg-ldpc-1/2:cn=sumproduct")


def test_segmentation_kodak_numbers() -> None:
    from baselines.ldpc_tb import segment

    half = create_scheme("bpg-ldpc-1/2").segmentation(512, 768)
    assert (half.n_symbols, half.num_blocks, half.k, half.n_cb, half.pad_symbols) == (73_728, 9, 8192, 16_384, 0)
    assert (half.cb_crc_bits, half.tb_crc_bits, half.payload_bits) == (24, 24, 73_728 - 9 * 24 - 24)
    tq = create_scheme("bpg-ldpc-3/4").segmentation(768, 512)
    assert (tq.num_blocks, tq.k, tq.n_cb, tq.pad_symbols, tq.info_bits) == (14, 7899, 10_532, 4, 110_586)
    assert tq.payload_bits == 110_586 - 14 * 24 - 24
    for n in (500, 2304, 4321, 73_728, 100_003):
        for rate in (0.5, 0.75):
            seg = segment(n, rate)
            assert seg.k <= 8448 and seg.n_cb % 2 == 0 and seg.k / seg.n_cb <= rate
            assert seg.coded_bits <= 2 * n and 0 <= seg.pad_symbols < seg.num_blocks
            assert 2 * n * rate - seg.info_bits <= 2 * seg.num_blocks + 1
            crc = seg.num_blocks * (24 if seg.num_blocks > 1 else 0) + (16 if seg.payload_bits <= 3824 else 24)
            assert seg.payload_bits == seg.info_bits - crc


def test_transport_block_crcs_and_payload_blocks() -> None:
    from sionna.phy.fec.crc import CRCDecoder, CRCEncoder

    from baselines.ldpc_tb import payload_from_blocks, segment, tb_bits

    seg = segment(9000, 0.5)  # 9000 info bits → 2 blocks, CB CRC24B + TB CRC24A
    assert (seg.num_blocks, seg.cb_crc_bits, seg.tb_crc_bits) == (2, 24, 24)
    payload = bytes(range(256)) * 2  # 4096 bits: all in block 0 (block_data_bits = 4476)
    blocks = tb_bits(payload, seg)
    assert blocks.shape == (2, seg.k)
    _, cb_ok = CRCDecoder(CRCEncoder("CRC24B"))(blocks)
    assert bool(cb_ok.all())
    tb = blocks[:, : seg.block_data_bits].reshape(1, -1)
    _, tb_ok = CRCDecoder(CRCEncoder("CRC24A"))(tb)
    assert bool(tb_ok.all())
    assert payload_from_blocks(blocks, seg)[: len(payload)] == payload
    assert seg.payload_blocks(len(payload) * 8).tolist() == [True, False]
    assert seg.payload_blocks(seg.block_data_bits + 1).tolist() == [True, True]
    small = segment(1000, 0.5)  # one block: no CB CRC, CRC16 on a short TB
    assert (small.num_blocks, small.cb_crc_bits, small.tb_crc_bits, small.payload_bits) == (1, 0, 16, 1000 - 16)
    with pytest.raises(ValueError, match="exceed"):
        tb_bits(bytes(200), small)


def test_config_and_versions() -> None:
    scheme = create_scheme("bpg-ldpc-3/4:iters=12")
    cfg = scheme.config()
    assert cfg["rate"] == 0.75 and cfg["decoder_iterations"] == 12 and cfg["decoder"] == "flooding"
    assert cfg["chroma"] == "420" and "0.5" in cfg["fallback"]
    assert create_scheme("bpg-ldpc-1/2").num_iter == 50
    v = scheme.versions()
    assert v["sionna"] and v["numba"] and v["backend"] in ("pillow-heif", "bpg")
    for bad, accepted in (("decoder=fast", "flooding, layered, sionna"), ("iters=0", ">= 1"),
                          ("cn=minsum", "decoder=sionna"), ("early_stop=maybe", "on or off"),
                          ("chroma=411", "420, 422, 444")):
        with pytest.raises(ValueError, match=accepted):
            create_scheme(f"bpg-ldpc-1/2:{bad}")


@pytest.mark.parametrize("name", ["bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-ldpc-1/2:decoder=layered",
                                  "bpg-ldpc-3/4:decoder=sionna"])
def test_high_snr_delivers_bpg_image(name: str) -> None:
    scheme = create_scheme(name)
    image = smooth_image()
    items = _items(scheme, image, 12.0, count=2)
    tx = items[0].encoded
    assert tx.symbols.shape == (scheme.channel_uses(H, W),)
    assert tx.symbols.abs().pow(2).mean().item() == pytest.approx(1.0, abs=1e-5)  # Es = 1
    assert 0 < tx.encoded.bits <= tx.seg.payload_bits < tx.seg.info_bits
    bpg_only = scheme.codec.decode(tx.encoded.payload)
    for rec in scheme.transmit_batch(items):
        assert rec.extras["delivered"] is True and rec.extras["block_errors"] == 0
        assert rec.extras["payload_bits"] == tx.encoded.bits and rec.extras["qp"] == tx.encoded.qp
        assert torch.equal(rec.image, bpg_only)
        assert psnr(image, rec.image).item() == pytest.approx(psnr(image, bpg_only).item())
        assert rec.receiver_s > 0


def test_low_snr_loses_image_and_shows_fallback() -> None:
    scheme = create_scheme("bpg-ldpc-1/2:iters=6")
    image = smooth_image(1)
    rec = scheme.transmit(_items(scheme, image, -3.0)[0])
    assert rec.extras["delivered"] is False and rec.extras["block_errors"] >= 1
    assert torch.equal(rec.image, torch.full_like(image, 0.5))


def test_batch_matches_single_transmissions() -> None:
    scheme = create_scheme("bpg-ldpc-3/4")
    items = _items(scheme, smooth_image(2), 5.5, count=2, image_id="a") + _items(scheme, smooth_image(3), 5.5, image_id="b")
    batch = scheme.transmit_batch(items)
    single = [scheme.transmit(item) for item in items]
    for b, s in zip(batch, single):
        assert b.extras == s.extras and torch.equal(b.image, s.image)


def test_empty_encoding_is_not_sent() -> None:
    scheme = create_scheme("bpg-ldpc-1/2")
    tiny = torch.rand(3, 32, 48)  # n = 288 channel uses: 288 bits < any HEVC payload (~700 bits)
    rec = scheme.transmit_batch(_items(scheme, tiny, 20.0))[0]
    assert rec.extras["delivered"] is False and rec.extras["payload_bits"] == 0
    assert rec.extras["block_errors"] == rec.extras["code_blocks"] == 1
    assert torch.equal(rec.image, torch.full_like(tiny, 0.5))


def test_corrupted_bitstream_gives_fallback_not_crash() -> None:
    scheme = create_scheme("bpg-ldpc-1/2")
    payload = bytearray(scheme.encode(smooth_image()).encoded.payload)
    payload[20] ^= 0xFF
    payload[3] ^= 0x40
    image, error = scheme._decode_or_fallback(bytes(payload), H, W)
    assert error is not None and torch.equal(image, torch.full((3, H, W), 0.5))


def test_capacity_scheme() -> None:
    scheme = create_scheme("bpg-capacity")
    image = smooth_image()
    n = scheme.channel_uses(H, W)
    high = scheme.transmit(_items(scheme, image, 12.0)[0])
    assert high.extras["delivered"] and high.extras["budget_bits"] == math.floor(n * math.log2(1 + 10 ** 1.2))
    assert 0 < high.extras["payload_bits"] <= high.extras["budget_bits"]
    low = scheme.transmit(_items(scheme, image, -8.0)[0])
    assert not low.extras["delivered"] and torch.equal(low.image, torch.full_like(image, 0.5))
    # the capacity budget at 12 dB beats the rate-1/2 LDPC link's fixed budget
    ldpc = create_scheme("bpg-ldpc-1/2").encode(image).encoded
    assert psnr(image, high.image).item() > psnr(image, scheme.codec.decode(ldpc.payload)).item()


def test_sionna_decoder_state_resume_is_exact() -> None:
    """Chunked flooding BP (state carried over) equals one uninterrupted run."""
    from baselines.ldpc_link import LdpcLink

    link = LdpcLink(500, 1000, decoder="sionna", num_iter=4, early_stop=False)
    g = torch.Generator().manual_seed(0)
    u = torch.randint(0, 2, (6, 500), generator=g).float()
    x = link.modulate(link.encode(u))
    no = snr_db_to_noise_power(0.5)
    w = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(0.5)
    llr = link.demodulate(x + math.sqrt(no) * w, no)
    full, _ = link.decoder(llr, num_iter=4)
    half, state = link.decoder(llr, num_iter=2)
    resumed, _ = link.decoder(llr, num_iter=2, msg_v2c=state)
    assert torch.equal(full, resumed)


def test_padding_block_failure_does_not_lose_image() -> None:
    """Only the blocks that carry payload must decode: a lost padding-only block is harmless."""
    from baselines.bpg_ldpc import LdpcTransmission
    from baselines.ldpc_tb import tb_bits

    scheme = create_scheme("bpg-ldpc-1/2")
    image = torch.full((3, 192, 256), 0.4)  # n = 9216 channel uses → 2 code blocks
    seg = scheme.segmentation(192, 256)
    enc = scheme.codec.encode(image, qp=51)  # a few hundred bits: block 0 only
    assert seg.num_blocks == 2 and seg.payload_blocks(enc.bits).tolist() == [True, False]
    link = scheme.link(seg)
    info = tb_bits(enc.payload, seg)
    tx = LdpcTransmission(enc, seg, info, link.modulate(link.encode(info).reshape(-1)).to(torch.complex64))
    half = seg.n_cb // 2  # symbols per block
    for hit, delivered in ((1, True), (0, False)):
        noise = torch.zeros(seg.n_symbols, dtype=torch.complex64)
        noise[hit * half:(hit + 1) * half] = 10 * unit_noise(half, torch.Generator().manual_seed(hit))  # -8 dB there
        rec = scheme.transmit(Transmission(tx, image, Realisation(noise, None, 12.0)))
        assert rec.extras["block_errors"] == 1 and rec.extras["delivered"] is delivered
        assert rec.extras["payload_block_errors"] == int(not delivered)
        expected = scheme.codec.decode(enc.payload) if delivered else torch.full_like(image, 0.5)
        assert torch.equal(rec.image, expected)


def test_decoder_kernels_are_ready_before_the_first_row() -> None:
    """Building the scheme compiles (or loads) the numba kernels, so a fresh process's first
    row does not time their compilation (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = ("from baselines import ldpc_decoder as d\n"
            "assert not d._decode_serial.signatures and not d._decode_parallel.signatures\n"
            "from simulator.registry import create_scheme\n"
            "create_scheme('bpg-ldpc-1/2')\n"
            "print(len(d._decode_serial.signatures), len(d._decode_parallel.signatures))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert out.stdout.split() == ["1", "1"]
