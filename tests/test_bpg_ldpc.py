"""The classical link: segmentation, delivery/fallback, LDPC waterfalls, capacity bound."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simulator.channel import snr_db_to_noise_power
from simulator.channels import AWGNChannel
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
    from baselines.bpg_ldpc import segment

    half = create_scheme("bpg-ldpc-1/2").segmentation(512, 768)
    assert (half.n_symbols, half.num_blocks, half.k, half.n_cb, half.pad_symbols) == (73_728, 9, 8192, 16_384, 0)
    tq = create_scheme("bpg-ldpc-3/4").segmentation(768, 512)
    assert (tq.num_blocks, tq.k, tq.n_cb, tq.pad_symbols, tq.info_bits) == (14, 7899, 10_532, 4, 110_586)
    for n in (500, 2304, 4321, 73_728, 100_003):
        for rate in (0.5, 0.75):
            seg = segment(n, rate)
            assert seg.k <= 8448 and seg.n_cb % 2 == 0 and seg.k / seg.n_cb <= rate
            assert seg.coded_bits <= 2 * n and 0 <= seg.pad_symbols < seg.num_blocks
            assert 2 * n * rate - seg.info_bits <= 2 * seg.num_blocks + 1


def test_config_and_versions() -> None:
    scheme = create_scheme("bpg-ldpc-3/4:iters=12:compile=off")
    cfg = scheme.config()
    assert cfg["rate"] == 0.75 and cfg["decoder_iterations"] == 12 and cfg["cn_update"] == "boxplus-phi"
    assert "0.5" in cfg["fallback"]
    v = scheme.versions()
    assert v["sionna"] and v["backend"] in ("pillow-heif", "bpg")


@pytest.mark.parametrize("name", ["bpg-ldpc-1/2", "bpg-ldpc-3/4"])
def test_high_snr_delivers_bpg_image(name: str) -> None:
    scheme = create_scheme(f"{name}:compile=off")
    image = smooth_image()
    items = _items(scheme, image, 12.0, count=2)
    tx = items[0].encoded
    assert tx.symbols.shape == (scheme.channel_uses(H, W),)
    assert tx.symbols.abs().pow(2).mean().item() == pytest.approx(1.0, abs=1e-5)  # Es = 1
    assert 0 < tx.encoded.bits <= tx.seg.info_bits
    bpg_only = scheme.codec.decode(tx.encoded.payload)
    for rec in scheme.transmit_batch(items):
        assert rec.extras["delivered"] is True and rec.extras["block_errors"] == 0
        assert rec.extras["payload_bits"] == tx.encoded.bits and rec.extras["qp"] == tx.encoded.qp
        assert torch.equal(rec.image, bpg_only)
        assert psnr(image, rec.image).item() == pytest.approx(psnr(image, bpg_only).item())
        assert rec.receiver_s > 0


def test_low_snr_loses_image_and_shows_fallback() -> None:
    scheme = create_scheme("bpg-ldpc-1/2:compile=off:iters=6")
    image = smooth_image(1)
    rec = scheme.transmit(_items(scheme, image, -3.0)[0])
    assert rec.extras["delivered"] is False and rec.extras["block_errors"] >= 1
    assert torch.equal(rec.image, torch.full_like(image, 0.5))


def test_batch_matches_single_transmissions() -> None:
    scheme = create_scheme("bpg-ldpc-3/4:compile=off")
    items = _items(scheme, smooth_image(2), 5.5, count=2, image_id="a") + _items(scheme, smooth_image(3), 5.5, image_id="b")
    batch = scheme.transmit_batch(items)
    single = [scheme.transmit(item) for item in items]
    for b, s in zip(batch, single):
        assert b.extras == s.extras and torch.equal(b.image, s.image)


def test_empty_encoding_is_not_sent() -> None:
    scheme = create_scheme("bpg-ldpc-1/2:compile=off")
    tiny = torch.rand(3, 32, 48)  # n = 288 channel uses: 288 bits < any HEVC payload (~700 bits)
    rec = scheme.transmit_batch(_items(scheme, tiny, 20.0))[0]
    assert rec.extras["delivered"] is False and rec.extras["payload_bits"] == 0
    assert rec.extras["block_errors"] == rec.extras["code_blocks"] == 1
    assert torch.equal(rec.image, torch.full_like(tiny, 0.5))


def test_corrupted_bitstream_gives_fallback_not_crash() -> None:
    scheme = create_scheme("bpg-ldpc-1/2:compile=off")
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
    ldpc = create_scheme("bpg-ldpc-1/2:compile=off").encode(image).encoded
    assert psnr(image, high.image).item() > psnr(image, scheme.codec.decode(ldpc.payload)).item()


def test_decoder_state_resume_is_exact() -> None:
    """Chunked flooding BP (state carried over) equals one uninterrupted run."""
    from baselines.bpg_ldpc import LdpcLink

    link = LdpcLink(500, 1000, num_iter=4, chunk=0)
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


def _bler(k: int, n: int, snr_db: float, blocks: int, seed: int, chunk: int = 2) -> float:
    from baselines.bpg_ldpc import LdpcLink

    link = LdpcLink(k, n, chunk=chunk)
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, k), generator=g).float()
    with torch.no_grad():
        x = link.modulate(link.encode(u))
        no = snr_db_to_noise_power(snr_db)
        w = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(0.5)
        llr = link.demodulate(x + math.sqrt(no) * w, no)
    return float((~link.decode(llr, u).ok).float().mean())


@pytest.mark.parametrize("rate,threshold_db", [(0.5, 1.2), (0.75, 4.3)])
def test_bler_waterfall(rate: float, threshold_db: float) -> None:
    """n = 7680 coded bits: the waterfall sits near 1.2 dB (R = 1/2) and 4.3 dB (R = 3/4)."""
    k, n = int(7680 * rate), 7680
    assert _bler(k, n, threshold_db - 1.0, blocks=8, seed=1) > 0.5
    assert _bler(k, n, threshold_db + 1.0, blocks=16, seed=2) < 0.1
