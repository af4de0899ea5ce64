"""Scheme ``jscc-t``: the Swin JSCC codec alone (no latent denoiser)."""

from __future__ import annotations

from simulator.registry import register_scheme
from simulator.schemes.latent import LatentScheme

__all__ = ["JSCCTScheme"]


@register_scheme("jscc-t")
class JSCCTScheme(LatentScheme):
    """Swin-Transformer JSCC encoder → power normalisation → AWGN → decoder (paper's JSCC-T)."""

    description = "Swin-Transformer deep JSCC codec (shipped weights), no denoiser"
