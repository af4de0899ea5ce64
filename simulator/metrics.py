"""Image-quality metrics on what a receiver would display: 8-bit-quantised images.

Both metrics take ``[B, 3, H, W]`` (or ``[3, H, W]``) float tensors in [0, 1]; the
reconstruction is clamped and rounded to 8 bits first, the reference is assumed 8-bit.
"""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim as _ms_ssim

__all__ = ["quantize_8bit", "psnr", "ms_ssim", "mean_and_ci95"]


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the 256 levels of an 8-bit display."""
    return x.clamp(0.0, 1.0).mul(255.0).round().div(255.0)


def _batched(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0) if x.dim() == 3 else x


def psnr(reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image, peak 1.0: ``10·log10(1 / MSE)``; ``[B]`` (inf if identical)."""
    ref, rec = _batched(reference).float(), quantize_8bit(_batched(reconstruction).float())
    mse = (ref - rec).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(1.0 / mse)


def ms_ssim(reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """MS-SSIM (5 scales, Gaussian window 11, data range 1) per image; ``[B]``.

    Images need min(H, W) > 160 (the 5-scale pyramid); smaller ones raise ``ValueError``.
    """
    ref, rec = _batched(reference).float(), quantize_8bit(_batched(reconstruction).float())
    if min(ref.shape[-2:]) <= 160:
        raise ValueError(f"MS-SSIM needs images larger than 160 px per side, got {tuple(ref.shape[-2:])}")
    return _ms_ssim(ref, rec, data_range=1.0, size_average=False)


def mean_and_ci95(values: list[float]) -> tuple[float, float]:
    """Sample mean and the half-width of its 95 % confidence interval (Student t)."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, float(t.ppf(0.975, n - 1) * math.sqrt(var / n))
