"""The training channel (``semcom-train … --train-channel``): the sweep's channel models on a batch
of latents, with fresh random draws and the receivers' perfect-CSI processing.

AWGN is exactly :func:`simulator.link.random_awgn_latent` (the same random draws as before, so
AWGN training is unchanged).  Under fading each item draws its gains from the channel model
(:meth:`simulator.channels.Channel.gains`, one h per image for ``rayleigh-block`` without a
coherence, per use for ``rayleigh-fast``) and CN(0, N0) noise, from torch's global CPU RNG; the
receiver sees the MMSE-equalised latent y·h*/(|h|² + N0) and the effective SNR
Ā/(1 − Ā) (:mod:`simulator.channels.csi`), as in the sweep.  Gradients flow through the latent only.
"""

from __future__ import annotations

import torch

from simulator.channels import Channel, complex_to_real, real_to_complex, unit_noise
from simulator.link import random_awgn_latent

__all__ = ["random_channel_latent"]


def random_channel_latent(latent: torch.Tensor, snr_db: torch.Tensor | float, channel: Channel
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """One training pass of ``latent`` through ``channel``.

    :param latent: ``[B, C, h, w]`` power-normalised latents (2n = C·h·w reals per item).
    :param snr_db: average Es/N0 in dB, scalar or ``[B]``.
    :returns: ``(z, snr_eff_db)``: the receiver's latent ``[B, C, h, w]`` (the noisy latent over
        AWGN, the MMSE-equalised one under fading) and the SNR its denoiser is conditioned on,
        ``[B]`` float32 dB on the latent's device (the SNR itself over AWGN).
    """
    b = latent.shape[0]
    snr = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(b).to(latent.device)
    n = latent[0].numel() // 2
    h = [channel.gains(n, torch.default_generator) for _ in range(b)]
    if h[0] is None:
        return random_awgn_latent(latent, snr), snr
    gains = torch.stack(h).to(latent.device)  # [B, n] complex64
    noise = torch.stack([unit_noise(n, torch.default_generator) for _ in range(b)]).to(latent.device)
    n0 = (10.0 ** (-snr.float() / 10.0)).view(b, 1)
    y = gains * real_to_complex(latent.flatten(1)) + n0.sqrt() * noise
    g2 = gains.abs().square()
    z = complex_to_real(y * gains.conj() / (g2 + n0)).view_as(latent).to(latent.dtype)
    mean_a = (g2 / (g2 + n0)).mean(dim=1).clamp(1e-15, 1 - 1e-7)
    return z, 10.0 * torch.log10(mean_a / (1 - mean_a))
