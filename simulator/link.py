"""The learned link in tensors: latent ↔ channel symbols, used by training and by schemes.

A latent ``[B, C, h, w]`` is flattened to 2n reals per image, power-normalised so that its
n complex symbols have Es = 1 (:func:`simulator.channel.power_normalize`), sent over AWGN,
and reshaped back.  The receiver sees the *normalised* latent plus noise, so every
learned receiver (decoder, denoiser) is trained on that scale.
"""

from __future__ import annotations

import torch

from simulator.channel import complex_to_real, power_normalize, real_to_complex

__all__ = ["normalize_latent", "awgn_latent", "random_awgn_latent"]


def normalize_latent(latent: torch.Tensor) -> torch.Tensor:
    """``[B, C, h, w]`` → same shape, each item scaled to unit average symbol energy."""
    return power_normalize(latent.flatten(1)).view_as(latent)


def awgn_latent(latent: torch.Tensor, snr_db: torch.Tensor | float, noise: torch.Tensor) -> torch.Tensor:
    """Received latent ``z₁ = y + sqrt(N0)·w`` in the real layout of ``latent``.

    :param latent: ``[B, C, h, w]`` power-normalised latent (2n = C·h·w reals per item).
    :param snr_db: Es/N0 in dB, scalar or ``[B]``.
    :param noise: ``[B, n]`` complex unit-variance noise (the sweep's common noise).
    """
    b = latent.shape[0]
    snr = torch.as_tensor(snr_db, dtype=torch.float32, device=latent.device).reshape(-1)
    sigma = torch.sqrt(10.0 ** (-snr / 10.0)).expand(b).view(b, 1)
    z = real_to_complex(latent.flatten(1)) + sigma * noise.to(latent.device)
    return complex_to_real(z).view_as(latent)


def random_awgn_latent(latent: torch.Tensor, snr_db: torch.Tensor | float) -> torch.Tensor:
    """Training channel: :func:`awgn_latent` with fresh noise from torch's global RNG.

    In the real layout each of the 2n values gets variance N0/2.
    """
    b = latent.shape[0]
    snr = torch.as_tensor(snr_db, dtype=latent.dtype, device=latent.device).reshape(-1).expand(b)
    sigma = torch.sqrt(10.0 ** (-snr / 10.0) / 2.0).view(b, *([1] * (latent.dim() - 1)))
    return latent + sigma * torch.randn_like(latent)

