"""Training tasks of the SNR-conditioned models (:mod:`simulator.models.snr_adaptive`).

* :class:`SNRFinetuneTask` (``semcom-train finetune-snr``): phase 3 of ``ours`` with a decoder
  that is told the SNR the receiver knows — the phase-1 decoder plus an SNR modulation after each
  Swin stage (identity at the start), trained behind the frozen encoder and denoiser over the
  whole sweep range, so that it need not trade high-SNR quality for low-SNR quality as one
  unconditioned decoder trained at 0–10 dB does.
* :class:`JSCCSATask` (``semcom-train jscc-sa``): ``jscc-t-sa``, the shipped JSCC-T made
  SNR-adaptive (modulation at encoder and decoder, SwinJSCC/WITT style), finetuned end to end
  from the shipped weights over the sweep's SNR range.

Both validate at :data:`WIDE_VAL_SNRS_DB` (the sweep's ends and middle); ``val_psnr`` is the mean
over them, so ``--keep-best`` keeps the weights best over the whole range.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from simulator.channels import AWGNChannel, Channel
from simulator.checkpoints import CHECKPOINT_DIR
from simulator.link import normalize_latent
from simulator.metrics import psnr
from simulator.models.jscc import JSCCConfig
from simulator.models.snr_adaptive import MOD_HIDDEN, SNRAdaptiveCodec, SNRModulatedDecoder, load_unmodulated
from simulator.schemes.latent import load_jscc
from simulator.training.channel import random_channel_latent
from simulator.training.denoiser_task import FinetuneTask, jscc_checkpoint_path, train_channel
from simulator.training.jscc_task import train_channel_card
from simulator.training.loop import Task

__all__ = ["WIDE_VAL_SNRS_DB", "SNRFinetuneTask", "JSCCSATask"]

#: validation SNRs (dB) of the SNR-conditioned models.
WIDE_VAL_SNRS_DB = (-3.0, 2.0, 7.0, 12.0)


def _wide_validation(images: torch.Tensor, reconstruct: Any) -> dict[str, float]:
    """``val_psnr_<snr>dB`` at :data:`WIDE_VAL_SNRS_DB` and ``val_psnr``, their mean."""
    out = {f"val_psnr_{snr:g}dB": psnr(images, reconstruct(images, torch.full((images.shape[0],), snr))).mean().item()
           for snr in WIDE_VAL_SNRS_DB}
    return out | {"val_psnr": sum(out.values()) / len(out)}


class SNRFinetuneTask(FinetuneTask):
    """Phase 3 with an SNR-conditioned decoder (:class:`SNRModulatedDecoder` from the phase-1 decoder)."""

    kind = "jscc-decoder-snr"

    def __init__(self, jscc_path: Path, denoiser_path: Path, config_name: str, channel: Channel | None = None,
                 hidden: int = MOD_HIDDEN) -> None:
        super().__init__(jscc_path, denoiser_path, config_name, channel)
        decoder = SNRModulatedDecoder(JSCCConfig.from_dict(self.jscc_card["config"]), hidden)
        load_unmodulated(decoder, self.modules["decoder"].state_dict())
        self.modules["decoder"] = decoder
        self.hidden = hidden

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "SNRFinetuneTask":
        den = args.denoiser or CHECKPOINT_DIR / f"denoiser-{args.config}-alpha{args.alpha:g}.safetensors"
        return cls(jscc_checkpoint_path(args), den, args.config, train_channel(args))

    def _reconstruct(self, images: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.modules["encoder"].eval()
            self.modules["denoiser"].eval()
            y = normalize_latent(self.modules["encoder"](images))
            z, snr_eff = random_channel_latent(y, snr_db, self.channel)
            y_hat = self.denoise_latent(z, snr_eff)
        return self.modules["decoder"](y_hat, snr_eff)

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """PSNR at :data:`WIDE_VAL_SNRS_DB` (``val_psnr``: their mean); no margin recalibration:
        the denoiser runs with its own stop margin."""
        return _wide_validation(images, self._reconstruct)

    def card_extras(self) -> dict[str, Any]:
        return {"denoiser_sha256": self.den_card["sha256"], "stop_margin_db": self.margin_db,
                "mod_hidden": self.hidden}


class JSCCSATask(Task):
    """``jscc-t-sa``: encoder(x, SNR) → power normalisation → channel → decoder(z, effective SNR),
    pixel MSE, every weight trained, starting from the shipped JSCC-T (modulations at identity)."""

    kind = "jscc-t-sa"

    def __init__(self, jscc_path: Path, config_name: str, channel: Channel | None = None,
                 hidden: int = MOD_HIDDEN) -> None:
        super().__init__()
        codec, card = load_jscc(jscc_path)
        self.channel = channel or AWGNChannel()
        self.modules["codec"] = SNRAdaptiveCodec.from_codec(codec, hidden)
        self.config_name, self.hidden, self.init_sha, self.cfg = config_name, hidden, card["sha256"], codec.cfg

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "JSCCSATask":
        return cls(jscc_checkpoint_path(args), args.config, train_channel(args))

    @property
    def codec(self) -> SNRAdaptiveCodec:
        return self.modules["codec"]  # type: ignore[return-value]

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.codec.parameters())

    def _reconstruct(self, images: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        latent = normalize_latent(self.codec.encoder(images, snr_db).float())
        z, snr_eff = random_channel_latent(latent, snr_db, self.channel)
        return self.codec.decoder(z, snr_eff).float()

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mse = (self._reconstruct(images, snr_db) - images).pow(2).mean()
        return mse, {"mse": mse.detach(), "psnr": (10 * torch.log10(1 / mse)).detach()}

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        return _wide_validation(images, self._reconstruct)

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return dict(self.codec.state_dict()), {
            "config_name": self.config_name, "config": self.cfg.to_dict(), "mod_hidden": self.hidden,
            "init_jscc_sha256": self.init_sha, **train_channel_card(self.channel)}

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        self.codec.load_state_dict(tensors)
