"""The channel models against closed forms: gains, common random numbers, 4-QAM BER under fast
fading, exact LLRs, and the statistics of the MMSE-equalised latent."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch
from scipy.special import exp1
from scipy.stats import kstest

from simulator.channels import (
    AWGNChannel,
    RayleighBlockChannel,
    RayleighFastChannel,
    Realisation,
    awgn,
    capacity_bits,
    demapper_input,
    effective_snr_db,
    make_channel,
    mmse_equalize,
    mmse_gain,
    noise_generator,
    unit_noise,
)


def _unit_gaussian_symbols(n: int, seed: int) -> torch.Tensor:
    """``[n]`` complex64 with Es = 1 exactly (a stand-in for a power-normalised latent)."""
    x = unit_noise(n, torch.Generator().manual_seed(seed))
    return x / x.abs().square().mean().sqrt()


def test_awgn_realisation_is_the_old_awgn_noise() -> None:
    real = AWGNChannel().realise(1000, 3, "kodim01.png", 2.0, 1)
    w = unit_noise(1000, noise_generator(3, "kodim01.png", 2.0, 1))
    assert real.h is None and torch.equal(real.w, w)
    x = _unit_gaussian_symbols(1000, 0)
    out = real.apply(x)
    assert torch.equal(out.y, awgn(x, 2.0, w)) and out.h is None and not out.fading
    old_key = int.from_bytes(hashlib.sha256(w.numpy().tobytes()).digest()[:8], "little") >> 1
    assert out.key == old_key  # ours:s1=random and cddm:eta>0 keep their AWGN draws
    assert torch.equal(mmse_equalize(out), out.y) and effective_snr_db(out) == 2.0
    y, no = demapper_input(out)
    assert torch.equal(y, out.y) and no == pytest.approx(10**-0.2)
    assert capacity_bits(out) == pytest.approx(1000 * math.log2(1 + 10**0.2))


@pytest.mark.parametrize("channel", [RayleighBlockChannel(), RayleighBlockChannel(64), RayleighFastChannel()])
def test_fading_common_random_numbers(channel) -> None:  # noqa: ANN001
    a = channel.realise(1000, 0, "img", 3.0, 0)
    assert a.h is not None and a.h.dtype == torch.complex64 and a.h.shape == (1000,)
    b = channel.realise(1000, 0, "img", 3.0, 0)
    assert torch.equal(a.h, b.h) and torch.equal(a.w, b.w)  # every scheme: the same h and w
    assert torch.equal(channel.realise(1000, 0, "img", 9.0, 0).h, a.h)  # the fade does not depend on the SNR
    assert torch.equal(a.w, AWGNChannel().realise(1000, 0, "img", 3.0, 0).w)  # the AWGN noise
    for other in (channel.realise(1000, 0, "img", 3.0, 1), channel.realise(1000, 1, "img", 3.0, 0),
                  channel.realise(1000, 0, "img2", 3.0, 0)):
        assert not torch.equal(other.h, a.h)
    x = _unit_gaussian_symbols(1000, 1)
    out = a.apply(x)
    torch.testing.assert_close(out.y, a.h * x + math.sqrt(10**-0.3) * a.w)
    assert out.fading and out.key != AWGNChannel().realise(1000, 0, "img", 3.0, 0).apply(x).key


def test_block_structure() -> None:
    h = RayleighBlockChannel().realise(777, 0, "img", 0.0, 0).h
    assert torch.all(h == h[0])  # one block per image
    h = RayleighBlockChannel(100).realise(777, 0, "img", 0.0, 0).h
    blocks = [h[i:i + 100] for i in range(0, 777, 100)]
    assert len(blocks) == 8 and all(torch.all(b == b[0]) for b in blocks)
    assert len({complex(b[0]) for b in blocks}) == 8
    # h ~ CN(0, 1): |h|² ~ Exp(1) over images
    g2 = torch.stack([RayleighBlockChannel().realise(10, 0, f"i{k}", 0.0, 0).h[0] for k in range(2000)]).abs().square()
    assert kstest(g2.numpy(), "expon").pvalue > 1e-3


def test_fast_gains_are_iid_cn01() -> None:
    h = RayleighFastChannel().realise(200_000, 0, "img", 0.0, 0).h
    g2 = h.abs().square()
    assert g2.mean().item() == pytest.approx(1.0, abs=0.01)
    assert kstest(g2[:20_000].numpy(), "expon").pvalue > 1e-3
    assert abs(torch.mean(h[1:] * h[:-1].conj()).abs().item()) < 0.01  # independent per use
    assert abs(torch.mean(h.real * h.imag).item()) < 0.005  # circular


def test_bad_channels_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown channel 'rician'; accepted: awgn, rayleigh-block, rayleigh-fast"):
        make_channel("rician")
    with pytest.raises(ValueError, match="rayleigh-block only"):
        make_channel("awgn", 16)
    with pytest.raises(ValueError, match="bad coherence 0"):
        make_channel("rayleigh-block", 0)
    real = make_channel("rayleigh-fast").realise(10, 0, "img", 0.0, 0)
    with pytest.raises(ValueError, match="n = 10 uses"):
        real.apply(torch.zeros(9, dtype=torch.complex64))
    assert real.apply(torch.zeros(0, dtype=torch.complex64)).y.numel() == 0  # a bound sends nothing
    with pytest.raises(ValueError, match="gains have shape"):
        Realisation(torch.zeros(4, dtype=torch.complex64), torch.zeros(3, dtype=torch.complex64), 0.0)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_uncoded_4qam_ber_under_fast_fading(snr_db: float) -> None:
    """Gray 4-QAM = two BPSK bits at γ_b = Es/N0 / 2 each: BER = ½(1 − √(γ_b/(1 + γ_b)))."""
    from sionna.phy.mapping import Demapper, Mapper

    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2, hard_out=True)
    n_sym = 200_000
    bits = torch.randint(0, 2, (2 * n_sym,), generator=torch.Generator().manual_seed(5)).float()
    out = RayleighFastChannel().realise(n_sym, 0, "ber", snr_db, 0).apply(mapper(bits))
    y, no = demapper_input(out)
    ber = (demapper(y, no) != bits).float().mean().item()
    gamma_b = 10 ** (snr_db / 10) / 2
    p = 0.5 * (1 - math.sqrt(gamma_b / (1 + gamma_b)))
    sigma = math.sqrt(p * (1 - p) / bits.numel())
    assert abs(ber - p) < 4 * sigma, (snr_db, ber, p)


def test_llrs_are_the_exact_fading_llrs() -> None:
    """Demapping y/h with N0/|h|² gives the LLRs of y itself: ±2√2·Re(h*y)/N0 and ±2√2·Im(h*y)/N0."""
    from sionna.phy.mapping import Demapper, Mapper

    bits = torch.randint(0, 2, (2 * 5000,), generator=torch.Generator().manual_seed(6)).float()
    out = RayleighFastChannel().realise(5000, 0, "llr", 3.0, 0).apply(Mapper("qam", 2)(bits))
    y, no = demapper_input(out)
    llr = Demapper("app", "qam", 2)(y, no).view(-1, 2)
    matched = (out.h.conj() * out.y).to(torch.complex128)
    expected = torch.stack([matched.real, matched.imag], dim=1).abs() * 2 * math.sqrt(2) / out.n0
    torch.testing.assert_close(llr.abs().double(), expected, rtol=2e-3, atol=2e-3)


def test_equalised_latent_under_block_fading() -> None:
    """One block: ẑ = a·x + ñ with a = γ/(1+γ), cos(x, ẑ) = √a, and the effective SNR is γ = |h|²·SNR."""
    n, snr_db = 200_000, 5.0
    x = _unit_gaussian_symbols(n, 2)
    for r in range(3):
        real = RayleighBlockChannel().realise(n, 0, "lat", snr_db, r)
        out = real.apply(x)
        gamma = float(real.h[0].abs().square()) * 10 ** (snr_db / 10)
        assert effective_snr_db(out) == pytest.approx(10 * math.log10(gamma), abs=1e-6)
        z = mmse_equalize(out)
        a = gamma / (1 + gamma)
        cos = (torch.vdot(x, z).real / (x.norm() * z.norm())).item()
        assert cos == pytest.approx(math.sqrt(a), abs=3e-3)
        noise = z - a * x
        assert noise.abs().square().mean().item() == pytest.approx(a * (1 - a), rel=0.02)
        assert capacity_bits(out) == pytest.approx(n * math.log2(1 + gamma), rel=1e-6)


@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_equalised_latent_under_fast_fading(snr_db: float) -> None:
    """Fast fading, γ ~ Exp(mean S): Ā = E[γ/(1+γ)] = 1 − e^{1/S}·E₁(1/S)/S, cos(x, ẑ) = √Ā,
    the per-symbol SNR after the equaliser is |h|²·S, and E[log2(1+γ)] = e^{1/S}·E₁(1/S)/ln 2."""
    n = 400_000
    s = 10 ** (snr_db / 10)
    x = _unit_gaussian_symbols(n, 3)
    out = RayleighFastChannel().realise(n, 0, "lat", snr_db, 0).apply(x)
    mean_a = 1 - math.exp(1 / s) * exp1(1 / s) / s
    a = mmse_gain(out)
    assert a.mean().item() == pytest.approx(mean_a, rel=0.01)
    assert effective_snr_db(out) == pytest.approx(10 * math.log10(mean_a / (1 - mean_a)), abs=0.1)
    z = mmse_equalize(out)
    cos = (torch.vdot(x, z).real / (x.norm() * z.norm())).item()
    assert cos == pytest.approx(math.sqrt(mean_a), abs=0.01)
    noise = (z - a * x).abs().square()
    assert (noise / (a * (1 - a))).mean().item() == pytest.approx(1.0, abs=0.02)  # E|ñ|² = a(1−a) per symbol
    ergodic = math.exp(1 / s) * exp1(1 / s) / math.log(2)
    assert capacity_bits(out) / n == pytest.approx(ergodic, rel=0.01)
