"""Batched learned receivers (jscc-t, ours, cddm) give the rows of unbatched ones.

On the shipped ``cpu`` weights (the schemes' defaults) and tiny generated images: several SNR
points, realisations, image sizes and fading in one ``receive_batch`` call, against each item
received alone.  Same PSNR to 1e-4 dB, same extras (ours' steps and similarity sequence,
CDDM's step counts, η > 0 and s₁ = random draws keyed per item).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from simulator.channels import AWGNChannel, RayleighBlockChannel
from simulator.metrics import psnr
from simulator.registry import create_scheme
from simulator.schemes.base import Transmission


def _image(seed: int, height: int, width: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(1, 3, 5, 7, generator=g), size=(height, width), mode="bicubic", align_corners=False)
    return x[0].clamp(0, 1)


SIZES = [(64, 96), (50, 70), (64, 96)]  # 50×70: a masked latent


def _items(scheme, channel, snrs: list[float], images: int = 3, reals: tuple[int, ...] = (0, 1)) -> list[Transmission]:
    """The first ``images`` of :data:`SIZES`, each at every SNR and realisation."""
    out = []
    for k, (h, w) in enumerate(SIZES[:images]):
        image = _image(k, h, w)
        enc = scheme.encode(image)
        n = scheme.channel_uses(h, w)
        out += [Transmission(enc, image, channel.realise(n, 0, f"img{k}", snr, r)) for snr in snrs for r in reals]
    return out


@pytest.mark.parametrize("spec, snrs, channel, images, reals", [
    ("jscc-t", [0.0, 8.0], AWGNChannel(), 3, (0, 1)),
    ("ours", [-2.0, 4.0, 10.0], AWGNChannel(), 3, (0, 1)),
    ("ours:s1=random", [2.0], AWGNChannel(), 3, (0, 1)),
    ("ours:steps=2", [2.0], RayleighBlockChannel(), 3, (0, 1)),
    ("cddm", [8.0, 14.0], AWGNChannel(), 2, (0,)),         # CDDM: 40 … 100 ε-network steps per item
    ("cddm:eta=1", [12.0], RayleighBlockChannel(), 2, (0, 1)),
])
def test_batched_rows_equal_unbatched(spec: str, snrs: list[float], channel, images: int,
                                      reals: tuple[int, ...]) -> None:
    scheme = create_scheme(spec)
    items = _items(scheme, channel, snrs, images, reals)
    scheme.max_batch = 1
    alone = scheme.transmit_batch(items)
    scheme.max_batch = 64
    together = scheme.transmit_batch(items)
    assert len(together) == len(items)
    for tx, a, b in zip(items, alone, together):
        assert b.image.shape == tx.image.shape
        pa, pb = float(psnr(tx.image, a.image)), float(psnr(tx.image, b.image))
        assert pb == pytest.approx(pa, abs=1e-4)
        assert a.extras.keys() == b.extras.keys()
        for key in a.extras:
            if key == "similarities":
                assert b.extras[key] == pytest.approx(a.extras[key], abs=2e-5)
            elif key == "effective_snr_db":
                assert b.extras[key] == a.extras[key]
            else:
                assert b.extras[key] == a.extras[key], key


def test_cddm_batch_mixes_step_counts() -> None:
    """Per-item start steps: a low-SNR item runs more ε-network steps than a high-SNR one."""
    scheme = create_scheme("cddm")
    scheme.max_batch = 64
    items = _items(scheme, AWGNChannel(), [10.0, 16.0], images=1, reals=(0,))
    steps = [r.extras["steps"] for r in scheme.transmit_batch(items)]
    assert steps[0] > steps[1] > 0


def test_ours_adaptive_stop_is_per_item() -> None:
    """One batch holds items that stop after different numbers of steps, each with the
    similarity sequence it computes alone (one more s than kept steps unless it ran T_max)."""
    scheme = create_scheme("ours")
    scheme.max_batch = 64
    out = scheme.transmit_batch(_items(scheme, AWGNChannel(), [-4.0, 0.0, 6.0, 14.0]))
    for r in out:
        kept = r.extras["steps"]
        assert len(r.extras["similarities"]) == (kept + 2 if kept < scheme.t_max else kept + 1)
