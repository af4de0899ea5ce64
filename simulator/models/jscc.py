"""JSCC-T: the Swin-Transformer JSCC encoder/decoder of the paper (§II-C, Fig. 1).

Encoder: 2×2 patch embedding + N₁ Swin blocks, then M = 3 stages of patch merging +
Nᵢ Swin blocks (total stride 16), then a 3×3 convolution head with C filters.  The latent
is ``[B, C, H/16, W/16]``, i.e. 2n = C·H·W/256 reals → n complex channel uses, so the
bandwidth ratio is ρ = n / (3HW) = C / 1536: C = 2·ρ·3·256 (ρ = 1/16 ⇒ C = 96).
The decoder mirrors it with patch reverse merging and ends in a sigmoid.

Images must have H, W multiples of :data:`STRIDE`; :class:`~simulator.schemes.jscc_t`
pads others (replicate) and crops the reconstruction back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from simulator.models.card_config import CardConfig
from simulator.models.swin import PatchEmbed, PatchMerging, PatchReverseMerging, PatchUnembed, SwinStage

__all__ = ["STRIDE", "JSCCConfig", "JSCC_CONFIGS", "latent_channels", "JSCCEncoder", "JSCCDecoder", "JSCCCodec"]

STRIDE = 16


def latent_channels(bandwidth_ratio: float) -> int:
    """C such that a ``C × H/16 × W/16`` real latent is ρ·3HW complex symbols."""
    c = 2 * bandwidth_ratio * 3 * STRIDE * STRIDE
    if abs(c - round(c)) > 1e-9 or round(c) < 1:
        raise ValueError(f"bandwidth ratio {bandwidth_ratio} needs a non-integer latent width {c}; use k/1536 ratios")
    return int(round(c))


@dataclass(frozen=True)
class JSCCConfig(CardConfig):
    """Architecture of the codec (widths per stage, Swin depths/heads, window)."""

    dims: tuple[int, int, int, int] = (128, 192, 256, 320)
    depths: tuple[int, int, int, int] = (2, 2, 6, 2)
    heads: tuple[int, int, int, int] = (4, 6, 8, 10)
    window: int = 8
    mlp_ratio: float = 4.0
    bandwidth_ratio: float = 1 / 16

    @property
    def latent_channels(self) -> int:
        return latent_channels(self.bandwidth_ratio)


#: ``paper``: widths as WITT/SwinJSCC, for GPUs.  ``cpu``: narrower, sized for 2 CPU cores
#: (same depths [2, 2, 6, 2] would cost ~2× more; the cpu config keeps the 4-stage layout
#: and shifted windows but uses depths [1, 1, 2, 1] and a quarter of the widths).
#: ``mid`` and ``large`` sit between them for the CPU scaling study (docs/training.md).
JSCC_CONFIGS: dict[str, JSCCConfig] = {
    "paper": JSCCConfig(),
    "cpu": JSCCConfig(dims=(32, 48, 64, 96), depths=(1, 1, 2, 1), heads=(2, 3, 4, 4), window=8, mlp_ratio=2.0),
    "mid": JSCCConfig(dims=(64, 96, 128, 160), depths=(2, 2, 2, 2), heads=(2, 3, 4, 5), window=8),
    "large": JSCCConfig(dims=(96, 128, 192, 256), depths=(2, 2, 4, 2), heads=(3, 4, 6, 8), window=8),
    "tiny": JSCCConfig(dims=(8, 8, 16, 16), depths=(1, 1, 1, 1), heads=(1, 1, 2, 2), window=4, mlp_ratio=1.0),
}


class JSCCEncoder(nn.Module):
    """``[B, 3, H, W]`` in [0, 1] → latent ``[B, C, H/16, W/16]`` (not power-normalised)."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        d, n, h = cfg.dims, cfg.depths, cfg.heads
        layers: list[nn.Module] = [PatchEmbed(d[0]), SwinStage(d[0], n[0], h[0], cfg.window, cfg.mlp_ratio)]
        for i in range(1, 4):
            layers += [PatchMerging(d[i - 1], d[i]), SwinStage(d[i], n[i], h[i], cfg.window, cfg.mlp_ratio)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(d[3], cfg.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).permute(0, 3, 1, 2))


class JSCCDecoder(nn.Module):
    """Latent ``[B, C, H/16, W/16]`` → image ``[B, 3, H, W]`` in [0, 1]."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        d, n, h = cfg.dims, cfg.depths, cfg.heads
        self.head = nn.Conv2d(cfg.latent_channels, d[3], 3, padding=1)
        layers: list[nn.Module] = []
        for i in range(3, 0, -1):
            layers += [SwinStage(d[i], n[i], h[i], cfg.window, cfg.mlp_ratio), PatchReverseMerging(d[i], d[i - 1])]
        layers += [SwinStage(d[0], n[0], h[0], cfg.window, cfg.mlp_ratio), PatchUnembed(d[0])]
        self.body = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(self.head(latent).permute(0, 2, 3, 1)))


class JSCCCodec(nn.Module):
    """Encoder + decoder pair; the channel sits between them (see :mod:`simulator.link`)."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = JSCCEncoder(cfg)
        self.decoder = JSCCDecoder(cfg)

    @classmethod
    def from_name(cls, name: str, **overrides: object) -> "JSCCCodec":
        if name not in JSCC_CONFIGS:
            raise ValueError(f"unknown JSCC config {name!r}; accepted: {', '.join(JSCC_CONFIGS)}")
        return cls(replace(JSCC_CONFIGS[name], **overrides))
