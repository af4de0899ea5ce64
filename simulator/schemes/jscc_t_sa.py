"""Scheme ``jscc-t-sa``: the shipped JSCC-T made SNR-adaptive, as SwinJSCC and WITT do it.

After every Swin stage of encoder and decoder an SNR modulation scales each channel
(:mod:`simulator.models.snr_adaptive`); the weights (``checkpoints/jscc-t-sa-<config>``, trained
by ``semcom-train jscc-sa`` from the shipped JSCC-T over the sweep's SNR range) hold the whole
codec.  The transmitter is told the average SNR of the link (the encoder runs per SNR point, so
:meth:`encode` only pads the image); the receiver conditions its decoder on the effective SNR
(the SNR itself over AWGN), as every receiver here does.  No denoiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from simulator.checkpoints import CheckpointError, checkpoint_dir, load_checkpoint
from simulator.data import pad_to_multiple
from simulator.link import normalize_latent, sent_mask
from simulator.models.jscc import STRIDE, JSCCConfig
from simulator.models.snr_adaptive import SNRAdaptiveCodec
from simulator.registry import register_scheme
from simulator.schemes.base import Reception, Transmission
from simulator.schemes.latent import EncodedLatent, LatentScheme

__all__ = ["JSCCTSAScheme", "load_jscc_sa"]


def load_jscc_sa(path: Path) -> tuple[SNRAdaptiveCodec, dict[str, Any]]:
    """The ``jscc-t-sa`` codec from its safetensors checkpoint (the card's config and ``mod_hidden``
    build the model).

    :raises CheckpointError: not safetensors, wrong kind, or tensors that do not fit the card.
    """
    tensors, card = load_checkpoint(path, kind="jscc-t-sa")
    model = SNRAdaptiveCodec(JSCCConfig.from_dict(card["config"]), int(card["mod_hidden"]))
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the card's config") from exc
    return model.eval(), card


@dataclass
class PaddedImage:
    """What :meth:`JSCCTSAScheme.encode` keeps per image: the padded ``[1, 3, H', W']`` image, the
    original size and the mask of the sent latent reals (``None``: all)."""

    image: torch.Tensor
    height: int
    width: int
    mask: torch.Tensor | None


@register_scheme("jscc-t-sa")
class JSCCTSAScheme(LatentScheme):
    """JSCC-T with SNR-conditioned modulation at encoder and decoder (no denoiser)."""

    description = "JSCC-T made SNR-adaptive (SNR modulation at encoder and decoder, SwinJSCC/WITT style)"

    def __init__(self, options: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.sa, self.sa_card = load_jscc_sa(checkpoint_dir() / f"jscc-t-sa-{self.config_name}.safetensors")
        if self.sa.cfg.bandwidth_ratio != self.codec.cfg.bandwidth_ratio:
            raise ValueError(f"jscc-t-sa weights are for ρ = {self.sa.cfg.bandwidth_ratio}, not {self.bandwidth_ratio}")
        self.codec, self.decoder = self.sa, self.sa.decoder  # type: ignore[assignment]
        self.weight_hashes = [self.sa_card["sha256"]]

    def config(self) -> dict[str, Any]:
        return super().config() | {"mod_hidden": int(self.sa_card["mod_hidden"])}

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> PaddedImage:  # type: ignore[override]
        self._place()
        height, width = image.shape[-2:]
        padded = pad_to_multiple(image.to(self.device), STRIDE).unsqueeze(0)
        shape = (self.sa.cfg.latent_channels, padded.shape[-2] // STRIDE, padded.shape[-1] // STRIDE)
        mask = sent_mask(shape, height, width, self.channel_uses(height, width), STRIDE)
        return PaddedImage(padded, height, width, None if mask is None else mask.to(self.device))

    @torch.no_grad()
    def encode_at(self, padded: PaddedImage, snr_db: float) -> EncodedLatent:
        """The transmitter at average SNR ``snr_db``: the power-normalised latent to send."""
        latent = self.sa.encoder(padded.image, torch.tensor([float(snr_db)], device=padded.image.device))
        return EncodedLatent(normalize_latent(latent, padded.mask)[0], padded.height, padded.width, padded.mask)

    def transmit_batch(self, items: list[Transmission]) -> list[Reception]:
        sent = [Transmission(self.encode_at(tx.encoded, tx.channel.snr_db), tx.image, tx.channel) for tx in items]
        return self.receive_batch([(tx, tx.channel.apply(self.symbols(tx.encoded))) for tx in sent])

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return self.sa.decoder(latent, snr_db.to(device=latent.device, dtype=torch.float32))
