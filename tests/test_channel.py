"""The shared AWGN channel: SNR convention, 4-QAM BER, power normalisation, noise keys."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm

from simulator.channels import (
    awgn,
    complex_to_real,
    noise_generator,
    power_normalize,
    real_to_complex,
    snr_db_to_noise_power,
    unit_noise,
)


def _qpsk(n: int, generator: torch.Generator) -> torch.Tensor:
    bits = torch.randint(0, 2, (2, n), generator=generator).float()
    return torch.complex(1 - 2 * bits[0], 1 - 2 * bits[1]) / math.sqrt(2.0)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.5, 20.0])
def test_measured_snr_matches_target(snr_db: float) -> None:
    g = torch.Generator().manual_seed(1)
    x = _qpsk(10**6, g)
    w = unit_noise(10**6, noise_generator(0, "img", snr_db, 0))
    y = awgn(x, snr_db, w)
    es = x.abs().pow(2).mean().item()
    n0 = (y - x).abs().pow(2).mean().item()
    assert es == pytest.approx(1.0, abs=1e-6)
    assert 10 * math.log10(es / n0) == pytest.approx(snr_db, abs=0.05)


def test_noise_is_circular_with_unit_variance() -> None:
    w = unit_noise(10**6, noise_generator(3, "a", 1.0, 0))
    assert w.dtype == torch.complex64
    assert w.real.var().item() == pytest.approx(0.5, rel=0.01)
    assert w.imag.var().item() == pytest.approx(0.5, rel=0.01)
    assert abs(torch.mean(w.real * w.imag).item()) < 0.005


def test_uncoded_4qam_ber_matches_q_function() -> None:
    """Es/N0 = SNR per complex use → Eb/N0 = SNR/2 → BER = Q(sqrt(2·Eb/N0)) = Q(sqrt(SNR))."""
    from sionna.phy.mapping import Demapper, Mapper

    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2, hard_out=True)
    n_sym = 200_000
    for i, snr_db in enumerate([0.0, 4.0, 8.0]):
        g = torch.Generator().manual_seed(10 + i)
        bits = torch.randint(0, 2, (2 * n_sym,), generator=g).float()
        x = mapper(bits)
        assert x.abs().pow(2).mean().item() == pytest.approx(1.0, abs=1e-5)
        y = awgn(x, snr_db, unit_noise(n_sym, noise_generator(0, "ber", snr_db, 0)))
        hard = demapper(y, torch.tensor(snr_db_to_noise_power(snr_db)))
        ber = (hard != bits).float().mean().item()
        p = float(norm.sf(math.sqrt(10 ** (snr_db / 10))))
        sigma = math.sqrt(p * (1 - p) / bits.numel())
        assert abs(ber - p) < 4 * sigma, (snr_db, ber, p)


def test_power_normalize_gives_unit_symbol_energy() -> None:
    y = torch.randn(4, 2 * 1000) * torch.tensor([[0.1], [1.0], [7.0], [300.0]])
    z = power_normalize(y)
    es = real_to_complex(z).abs().pow(2).mean(dim=-1)
    assert torch.allclose(es, torch.ones(4), atol=1e-5)
    assert torch.equal(complex_to_real(real_to_complex(z)), z)


def test_noise_determinism() -> None:
    a = unit_noise(1000, noise_generator(0, "kodim01.png", 2.0, 0))
    b = unit_noise(1000, noise_generator(0, "kodim01.png", 2, 0))
    assert torch.equal(a, b)  # same key (2 and 2.0 are the same SNR)
    for other in (
        noise_generator(0, "kodim01.png", 2.0, 1),  # another realisation
        noise_generator(1, "kodim01.png", 2.0, 0),  # another seed
        noise_generator(0, "kodim02.png", 2.0, 0),  # another image
        noise_generator(0, "kodim01.png", 3.0, 0),  # another SNR
    ):
        assert not torch.equal(a, unit_noise(1000, other))


def test_awgn_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError):
        awgn(torch.zeros(10, dtype=torch.complex64), 0.0, torch.zeros(9, dtype=torch.complex64))


def test_capacity_formula() -> None:
    from baselines.bpg_ldpc import BpgCapacity

    n = 73_728
    assert BpgCapacity.budget_bits(n, 0.0) == n  # log2(1 + 1) = 1 bit per use
    for snr_db in (-3.0, 2.0, 7.0, 12.0):
        expected = math.floor(n * math.log2(1 + 10 ** (snr_db / 10)))
        assert BpgCapacity.budget_bits(n, snr_db) == expected
    # at the LDPC waterfalls the channel can carry more than the codes' 2R bits per use
    assert math.log2(1 + 10 ** (1.2 / 10)) > 2 * 0.5
    assert math.log2(1 + 10 ** (4.3 / 10)) > 2 * 0.75
