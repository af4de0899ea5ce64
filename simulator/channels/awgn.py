"""The physical channel shared by every scheme: power normalisation and complex AWGN.

SNR convention (used everywhere in semcom-sim)
----------------------------------------------
``snr_db`` is Es/N0 per *complex* channel use, in dB.  The transmitted complex
symbols ``x ∈ C^n`` have average energy Es = ||x||² / n = 1 (per image), and the
noise is ``CN(0, N0)`` per symbol, i.e. variance N0/2 on each real dimension, with
N0 = 10^(−snr_db / 10).  A learned scheme sends its 2n real latent values as n
complex symbols (real part = first n values, imaginary part = last n values); a
4-QAM scheme sends 2 coded bits per symbol.  For 4-QAM with Gray mapping,
Eb/N0 = Es/N0 − 10·log10(2·R) for code rate R.

Common random numbers
---------------------
The unit-variance noise ``w ∈ C^n`` for one (seed, image, SNR, realisation) is
drawn from a generator keyed by exactly those four values, so every scheme that
uses n channel uses on that image faces the *same* noise vector ``sqrt(N0)·w``.
"""

from __future__ import annotations

import hashlib
import math

import torch

__all__ = [
    "snr_db_to_noise_power",
    "real_to_complex",
    "complex_to_real",
    "power_normalize",
    "noise_generator",
    "unit_noise",
    "awgn",
]


def snr_db_to_noise_power(snr_db: float) -> float:
    """N0 (linear) for an Es/N0 of ``snr_db`` dB at unit symbol energy."""
    return 10.0 ** (-float(snr_db) / 10.0)


def real_to_complex(y: torch.Tensor) -> torch.Tensor:
    """Pair 2n reals into n complex symbols.

    :param y: ``[..., 2n]`` float. The first n values become the real parts, the last n
        the imaginary parts.
    :returns: ``[..., n]`` complex.
    """
    if y.shape[-1] % 2:
        raise ValueError(f"latent length {y.shape[-1]} is odd; a complex channel needs 2n reals")
    n = y.shape[-1] // 2
    return torch.complex(y[..., :n].float(), y[..., n:].float())


def complex_to_real(z: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`real_to_complex`: ``[..., n]`` complex → ``[..., 2n]`` float."""
    return torch.cat([z.real, z.imag], dim=-1)


def power_normalize(y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each item so that its complex symbols have average energy 1.

    :param y: ``[B, 2n]`` real latent (two reals per complex channel use).
    :returns: ``[B, 2n]`` with ``sum(y**2) / n == 1`` per row, i.e. Es = 1.
    """
    n = y.shape[-1] / 2
    power = y.pow(2).sum(dim=-1, keepdim=True) / n
    return y / torch.sqrt(power + eps)


def _key_to_seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def noise_generator(seed: int, image_id: str, snr_db: float, realization: int) -> torch.Generator:
    """A CPU generator keyed by (seed, image, SNR, realisation).

    The SNR is rounded to 1e-6 dB in the key, so ``2`` and ``2.0`` give the same noise.
    """
    g = torch.Generator()
    g.manual_seed(_key_to_seed(int(seed), image_id, f"{float(snr_db):.6f}", int(realization)))
    return g


def unit_noise(n: int, generator: torch.Generator) -> torch.Tensor:
    """``w ~ CN(0, I_n)``: ``[n]`` complex64 with E|w_i|² = 1."""
    re_im = torch.randn(2, n, generator=generator) * math.sqrt(0.5)
    return torch.complex(re_im[0], re_im[1])


def awgn(x: torch.Tensor, snr_db: float, w: torch.Tensor) -> torch.Tensor:
    """Pass unit-energy complex symbols through AWGN.

    :param x: ``[..., n]`` complex symbols with Es = 1.
    :param snr_db: Es/N0 in dB.
    :param w: ``[..., n]`` complex unit-variance noise (see :func:`unit_noise`).
    :returns: ``x + sqrt(N0)·w``, same shape.
    """
    if w.shape[-1] != x.shape[-1]:
        raise ValueError(f"noise has {w.shape[-1]} symbols but the signal has {x.shape[-1]}")
    return x + math.sqrt(snr_db_to_noise_power(snr_db)) * w.to(x.device)
