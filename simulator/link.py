"""The learned link in tensors: latent ↔ channel symbols, used by training and by schemes.

A latent ``[B, C, h, w]`` is flattened to 2n reals per image, power-normalised so that its
n complex symbols have Es = 1 (:func:`simulator.channels.power_normalize`), sent over AWGN,
and reshaped back.  The receiver sees the *normalised* latent plus noise, so every
learned receiver (decoder, denoiser) is trained on that scale.

Exact channel uses: an image whose sides are not multiples of the codec's stride is padded
before encoding, so its latent holds more than the 2n = 2·round(ρ·3·H·W) reals the link may
send.  :func:`sent_mask` then picks the 2n reals that are sent — the latent positions most
covered by real pixels first — and the rest are never transmitted: the transmitter
normalises Es = 1 over the sent reals only (:func:`normalize_latent` with ``mask``), and the
receiver puts zeros (the latent's prior mean under the power constraint) in the dropped
places (:meth:`simulator.schemes.latent.LatentScheme.receive`).  When the latent holds
exactly 2n reals (sides multiples of the stride) the mask is ``None`` and nothing changes.
"""

from __future__ import annotations

import torch

from simulator.channels import complex_to_real, power_normalize, real_to_complex

__all__ = ["sent_mask", "normalize_latent", "awgn_latent", "random_awgn_latent"]


def sent_mask(latent_shape: tuple[int, int, int], height: int, width: int, n: int, stride: int) -> torch.Tensor | None:
    """Which reals of a ``[C, h, w]`` latent of an ``height × width`` image are sent in n complex symbols.

    Latent position (i, j) stands for the ``stride × stride`` pixel block at (i·stride, j·stride);
    positions are ranked by how many real (unpadded) pixels their block holds, most first, ties
    in raster order, and their reals are taken in channel order until 2n are chosen.

    :param latent_shape: ``(C, h, w)`` with h = ⌈height/stride⌉, w = ⌈width/stride⌉.
    :param n: complex channel uses, at most C·h·w/2.
    :returns: ``[C, h, w]`` bool with exactly 2n ``True``, or ``None`` if every real is sent.
    :raises ValueError: if 2n exceeds C·h·w.
    """
    c, h, w = latent_shape
    if 2 * n > c * h * w:
        raise ValueError(f"n = {n} channel uses need {2 * n} reals, the latent {tuple(latent_shape)} has {c * h * w}")
    if 2 * n == c * h * w:
        return None
    rows = (height - stride * torch.arange(h)).clamp(0, stride)
    cols = (width - stride * torch.arange(w)).clamp(0, stride)
    order = torch.argsort((rows[:, None] * cols[None, :]).flatten(), descending=True, stable=True)
    full, extra = divmod(2 * n, c)
    mask = torch.zeros(c, h * w, dtype=torch.bool)
    mask[:, order[:full]] = True
    if extra:
        mask[:extra, order[full]] = True
    return mask.view(c, h, w)


def normalize_latent(latent: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, C, h, w]`` → same shape, each item scaled to unit average symbol energy.

    :param mask: ``[C, h, w]`` bool of the sent reals (:func:`sent_mask`): Es = 1 over those, and
        the others are set to 0.  ``None``: all reals are sent.
    """
    if mask is None:
        return power_normalize(latent.flatten(1)).view_as(latent)
    keep = mask.flatten().to(latent.device)
    out = torch.zeros_like(latent.flatten(1))
    out[:, keep] = power_normalize(latent.flatten(1)[:, keep])
    return out.view_as(latent)


def awgn_latent(latent: torch.Tensor, snr_db: torch.Tensor | float, noise: torch.Tensor) -> torch.Tensor:
    """Received latent ``z₁ = y + sqrt(N0)·w`` in the real layout of ``latent`` (AWGN, every real sent).

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

