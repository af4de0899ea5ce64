"""SNR-conditioned modulation of the JSCC-T features, the way SwinJSCC and WITT make a Swin JSCC
codec SNR-adaptive: after every Swin stage a small network maps (the stage's mean feature, the
SNR) to one scale per channel in (0, 2) that multiplies every token.

:class:`SNRModulation` is the identity at initialisation (its last layer is zero: scale = 2·σ(0)
= 1), so a model built from shipped JSCC-T weights (:func:`load_unmodulated`) starts exactly
where the shipped codec is and finetuning only has to learn what the SNR changes.

* :class:`SNRModulatedEncoder` / :class:`SNRModulatedDecoder`: the JSCC-T encoder/decoder with a
  modulation after each of their Swin stages; their state dicts hold every key of the plain
  encoder/decoder plus ``mods.*``.
* :class:`SNRAdaptiveCodec`: both, the ``jscc-t-sa`` codec (the transmitter conditions on the
  average SNR it is told, the receiver on the SNR it estimates).

SNRs are ``[B]`` float dB; the networks see ``snr_db / 10``.
"""

from __future__ import annotations

import torch
from torch import nn

from simulator.models.jscc import JSCCCodec, JSCCConfig, JSCCDecoder, JSCCEncoder
from simulator.models.swin import SwinStage

__all__ = ["MOD_HIDDEN", "SNRModulation", "SNRModulatedEncoder", "SNRModulatedDecoder", "SNRAdaptiveCodec",
           "load_unmodulated"]

#: hidden width of every modulation network.
MOD_HIDDEN = 64


class SNRModulation(nn.Module):
    """Channels-last features ``[B, H, W, D]`` and SNR ``[B]`` dB → same shape, each channel scaled by
    ``2·σ(MLP([mean over H, W of the features, snr_db / 10]))``."""

    def __init__(self, dim: int, hidden: int = MOD_HIDDEN) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        snr = (snr_db.to(x) / 10).reshape(-1, 1).expand(x.shape[0], 1)
        scale = 2 * torch.sigmoid(self.net(torch.cat([x.mean(dim=(1, 2)), snr], dim=1)))
        return x * scale[:, None, None, :]


def _modulated(body: nn.Sequential, mods: nn.ModuleList, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Run ``body`` on channels-last ``x``, applying ``mods[k]`` after its k-th Swin stage."""
    k = 0
    for layer in body:
        x = layer(x)
        if isinstance(layer, SwinStage):
            x = mods[k](x, snr_db)
            k += 1
    return x


class SNRModulatedEncoder(JSCCEncoder):
    """``[B, 3, H, W]`` and SNR ``[B]`` dB → latent ``[B, C, H/16, W/16]`` (not power-normalised)."""

    def __init__(self, cfg: JSCCConfig, hidden: int = MOD_HIDDEN) -> None:
        super().__init__(cfg)
        self.mods = nn.ModuleList(SNRModulation(d, hidden) for d in cfg.dims)

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.head(_modulated(self.body, self.mods, x, snr_db).permute(0, 3, 1, 2))


class SNRModulatedDecoder(JSCCDecoder):
    """Latent ``[B, C, H/16, W/16]`` and SNR ``[B]`` dB → image ``[B, 3, H, W]`` in [0, 1]."""

    def __init__(self, cfg: JSCCConfig, hidden: int = MOD_HIDDEN) -> None:
        super().__init__(cfg)
        self.mods = nn.ModuleList(SNRModulation(d, hidden) for d in reversed(cfg.dims))

    def forward(self, latent: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.sigmoid(_modulated(self.body, self.mods, self.head(latent).permute(0, 2, 3, 1), snr_db))


class SNRAdaptiveCodec(nn.Module):
    """The ``jscc-t-sa`` codec: :class:`SNRModulatedEncoder` + :class:`SNRModulatedDecoder`; its
    state dict holds every key of :class:`~simulator.models.jscc.JSCCCodec` plus the ``mods``."""

    def __init__(self, cfg: JSCCConfig, hidden: int = MOD_HIDDEN) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SNRModulatedEncoder(cfg, hidden)
        self.decoder = SNRModulatedDecoder(cfg, hidden)

    @classmethod
    def from_codec(cls, codec: JSCCCodec, hidden: int = MOD_HIDDEN) -> "SNRAdaptiveCodec":
        """The SNR-adaptive codec that computes exactly what ``codec`` does until it is trained."""
        model = cls(codec.cfg, hidden)
        load_unmodulated(model, codec.state_dict())
        return model


def load_unmodulated(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load the weights of the plain JSCC-T module into its modulated counterpart (the ``mods``
    keep their identity initialisation).

    :raises RuntimeError: ``state`` lacks or adds a key beyond the ``mods``.
    """
    missing, unexpected = model.load_state_dict(state, strict=False)
    stray = [k for k in missing if ".mods." not in f".{k}"] + list(unexpected)
    if stray:
        raise RuntimeError(f"weights do not match the modulated model: {', '.join(stray[:3])}")
