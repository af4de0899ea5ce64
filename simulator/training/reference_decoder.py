"""The upper reference of a receiver behind a frozen encoder: the JSCC decoder finetuned on the
noisy latents themselves, no denoiser (``semcom-train decoder --snr=-3``).

A decoder finetuned at one SNR is the best any receiver built from this decoder's architecture
can be told to do there without changing the encoder: it sees exactly the channel output the
denoiser sees.  Its PSNR at that SNR (Kodak24: ``ours:steps=0:decoder=finetuned`` with this file
as the phase-3 decoder, see docs/training.md) says how much of a denoiser's target gain the codec
admits at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.channels import Channel
from simulator.metrics import psnr
from simulator.training.denoiser_task import DecoderFinetuneTask, jscc_checkpoint_path, train_channel

__all__ = ["ReferenceDecoderTask", "REFERENCE_VAL_SNRS_DB"]

#: validation SNRs (dB): the sweep's ends and the phase-3 task's points.
REFERENCE_VAL_SNRS_DB = (-3.0, 0.0, 5.0, 12.0)


class ReferenceDecoderTask(DecoderFinetuneTask):
    """Finetune only the decoder on ``encoder → channel → decoder`` (end-to-end MSE), no denoiser.

    :param val_snr_db: the SNR whose validation PSNR is ``val_psnr`` (the best-checkpoint score):
        the training SNR.
    """

    def __init__(self, jscc_path: Path, config_name: str, val_snr_db: float, channel: Channel | None = None) -> None:
        super().__init__(jscc_path, nn.Identity(), config_name, channel)
        self.val_snr_db = float(val_snr_db)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ReferenceDecoderTask":
        val_snr = sum(args.snr_range) / 2 if args.snr_range else args.snrs[0]
        return cls(jscc_checkpoint_path(args), args.config, val_snr, train_channel(args))

    def denoise_latent(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return z

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """PSNR through the channel and this decoder at :data:`REFERENCE_VAL_SNRS_DB` and the training
        SNR; ``val_psnr`` is the latter."""
        out = {}
        for snr in sorted({*REFERENCE_VAL_SNRS_DB, self.val_snr_db}):
            rec = self._reconstruct(images, torch.full((images.shape[0],), snr))
            out[f"val_psnr_{snr:g}dB"] = psnr(images, rec).mean().item()
        out["val_psnr"] = out[f"val_psnr_{self.val_snr_db:g}dB"]
        return out

    def card_extras(self) -> dict[str, Any]:
        return {"reference": "decoder finetuned on noisy latents, no denoiser", "val_snr_db": self.val_snr_db}
