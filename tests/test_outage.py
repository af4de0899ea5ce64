"""Outage of BPG + LDPC under block fading (one block per image) against the closed form.

With one fading block per image the link delivers iff the per-image SNR |h|²·S clears the
code's AWGN waterfall T, so P(outage) = P(|h|²·S < T) = 1 − exp(−T/S) (|h|² ~ Exp(1)).  The
waterfall is not a step: it is measured here on the same code (AWGN BLER on a grid), T is its
50 % point, and the 90 % and 10 % BLER points bound what its width can explain.  The empirical
outage must lie within 3 binomial standard deviations plus that width band of 1 − exp(−T/S).

Numbers measured when this test was written (96×128 image, n = 2304, one rate-1/2 block of
k = 2304, n_cb = 4608, the default decoder: 50 flooding BP iterations with syndrome stop, 24
AWGN blocks per grid point, 240 fading realisations per SNR): waterfall T50 = 0.64 dB, BLER
90 % at 0.37 dB and 10 % at 0.90 dB; outage 0.300 at 5 dB (closed form 0.307, width band
±0.016, 3σ = 0.089) and 0.071 at 12 dB (closed form 0.071, band ±0.004, 3σ = 0.050); see
docs/channel.md.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simulator.channels import AWGNChannel, Channel, RayleighBlockChannel
from simulator.registry import create_scheme
from simulator.schemes.base import Transmission

H, W = 96, 128  # n = 2304 channel uses at ρ = 1/16: one rate-1/2 code block per image
GRID_DB = [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path_factory.getbasetemp() / "semcom-cache"))


def _loss_rate(scheme, encoded, image: torch.Tensor, channel: Channel, snr_db: float, count: int) -> float:  # noqa: ANN001
    n = scheme.channel_uses(H, W)
    items = [Transmission(encoded, image, channel.realise(n, 0, "outage", snr_db, r)) for r in range(count)]
    return sum(not rec.extras["delivered"] for rec in scheme.transmit_batch(items)) / count


def _crossing(snrs: list[float], bler: list[float], level: float) -> float:
    """SNR (dB) where the (made monotone) BLER curve falls through ``level``, linearly interpolated."""
    mono = [min(bler[: i + 1]) for i in range(len(bler))]
    for (s0, b0), (s1, b1) in zip(zip(snrs, mono), zip(snrs[1:], mono[1:])):
        if b0 >= level >= b1 and b0 > b1:
            return s0 + (b0 - level) / (b0 - b1) * (s1 - s0)
    raise AssertionError(f"BLER {mono} never crosses {level} on {snrs}")


def test_block_fading_outage_follows_closed_form() -> None:
    scheme = create_scheme("bpg-ldpc-1/2")
    g = torch.Generator().manual_seed(0)
    image = F.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(H, W), mode="bicubic", align_corners=False)[0]
    image = image.clamp(0, 1)
    encoded = scheme.encode(image)
    assert encoded.seg.num_blocks == 1 and not encoded.encoded.empty

    bler = [_loss_rate(scheme, encoded, image, AWGNChannel(), s, 24) for s in GRID_DB]
    t50, t_lo, t_hi = (_crossing(GRID_DB, bler, level) for level in (0.5, 0.9, 0.1))

    def outage(threshold_db: float, snr_db: float) -> float:
        return 1.0 - math.exp(-(10 ** (threshold_db / 10)) / 10 ** (snr_db / 10))

    for snr_db, count in ((5.0, 240), (12.0, 240)):
        measured = _loss_rate(scheme, encoded, image, RayleighBlockChannel(), snr_db, count)
        predicted = outage(t50, snr_db)
        width = max(abs(outage(t_lo, snr_db) - predicted), abs(outage(t_hi, snr_db) - predicted))
        mc = 3 * math.sqrt(predicted * (1 - predicted) / count)
        assert abs(measured - predicted) <= mc + width, (snr_db, measured, predicted, mc, width, t50, t_lo, t_hi)
