"""Training phase 1: the JSCC codec end to end over AWGN (or ``--train-channel``) with MSE (paper eq. 4)."""

from __future__ import annotations

from typing import Any

import torch

from simulator.channels import AWGNChannel, Channel
from simulator.link import normalize_latent
from simulator.metrics import psnr
from simulator.models.jscc import JSCCCodec, JSCCConfig
from simulator.training.channel import random_channel_latent
from simulator.training.loop import Task

__all__ = ["JSCCTask", "train_channel_card"]


class JSCCTask(Task):
    """Encoder → power normalisation → channel (per-sample SNR) → decoder, loss = pixel MSE.

    :param channel: the training (and validation) channel, default AWGN; under fading the
        decoder gets the MMSE-equalised latent (:func:`random_channel_latent`).
    """

    kind = "jscc-t"

    def __init__(self, cfg: JSCCConfig, config_name: str, val_snr_db: float = 13.0,
                 channel: Channel | None = None) -> None:
        super().__init__()
        self.cfg, self.config_name, self.val_snr_db = cfg, config_name, val_snr_db
        self.channel = channel or AWGNChannel()
        self.modules["codec"] = JSCCCodec(cfg)

    @property
    def codec(self) -> JSCCCodec:
        return self.modules["codec"]  # type: ignore[return-value]

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.codec.parameters())

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # .float(): under autocast the power normalisation, channel noise and loss stay float32
        z, _ = random_channel_latent(normalize_latent(self.codec.encoder(images).float()), snr_db, self.channel)
        mse = (self.codec.decoder(z).float() - images).pow(2).mean()
        return mse, {"mse": mse.detach(), "psnr": (10 * torch.log10(1 / mse)).detach()}

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        z, _ = random_channel_latent(normalize_latent(self.codec.encoder(images)), self.val_snr_db, self.channel)
        return {"val_psnr": psnr(images, self.codec.decoder(z)).mean().item(), "val_snr_db": self.val_snr_db}

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return dict(self.codec.state_dict()), {"config_name": self.config_name, "config": self.cfg.to_dict(),
                                               **train_channel_card(self.channel)}

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        self.codec.load_state_dict(tensors)


def train_channel_card(channel: Channel) -> dict[str, object]:
    """The model-card entry of a training channel: ``{}`` for AWGN (cards as before), else
    ``{"train_channel": channel.config()}``."""
    return {"train_channel": channel.config()} if channel.tag else {}
