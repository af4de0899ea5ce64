"""Training phases 2 and 3 of the paper (§III-C).

Phase 2 (:class:`DenoiserTask`): JSCC encoder frozen; the denoiser unrolled from z₁ = y + n
with s₁ from eq. (1).  g_r minimises Σ_t [L_MSE + α·L_SS] over the denoised latents
z₂ … z_{T_max+1} (eq. 2).  g_s is trained on the gain of every step in effective SNR
(:mod:`simulator.models.denoiser`), the squared error of its predicted gain against the true
10·log10(η(cos(y, z_{t+1})) / η(cos(y, z_t))) — eq. (3) with the like-for-like target the
adaptive rule compares — over ``gs_extra_steps`` more steps than T_max, which g_r was not
trained for, so g_s also sees steps that help little or hurt.  The two losses reach only
their own network: g_r sees s_t detached, g_s sees detached latents and a detached target.

Phase 3 (:class:`FinetuneTask`): the whole link assembled (encoder → AWGN → denoiser in
adaptive mode → decoder); only the decoder is trained, with end-to-end MSE (eq. 4).

Both take a training ``channel`` (``--train-channel``, default AWGN): under fading z₁ is the
MMSE-equalised latent and s₁ comes from its effective SNR, as in the sweep
(:func:`simulator.training.channel.random_channel_latent`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from simulator.channels import AWGNChannel, Channel, make_channel
from simulator.checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, require_same_codec
from simulator.link import normalize_latent
from simulator.metrics import psnr
from simulator.models.denoiser import (
    DENOISER_CONFIGS,
    DenoiserConfig,
    LatentDenoiser,
    cosine_similarity,
    initial_similarity,
    similarity_gain_db,
    similarity_to_snr_db,
)
from simulator.schemes.latent import load_jscc
from simulator.training.calibrate import MarginCalibration, calibrate_margin
from simulator.training.channel import random_channel_latent
from simulator.training.jscc_task import train_channel_card
from simulator.training.loop import Task

__all__ = ["DenoiserTask", "DecoderFinetuneTask", "FinetuneTask", "load_denoiser"]

VAL_SNRS_DB = (-3.0, 0.0, 5.0)


def load_denoiser(path: Path) -> tuple[LatentDenoiser, dict[str, Any]]:
    """A denoiser from its safetensors checkpoint; the card's config builds the model."""
    tensors, card = load_checkpoint(path, kind="denoiser")
    if "stop_margin_db" not in card:
        raise CheckpointError(f"{path}: a denoiser trained before g_s predicted the step gain in dB "
                              "(no stop_margin_db in its card); retrain it with `semcom-train denoiser`")
    model = LatentDenoiser(DenoiserConfig.from_dict(card["config"]))
    model.load_state_dict(tensors)
    return model.eval(), card


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def jscc_checkpoint_path(args: argparse.Namespace) -> Path:
    return getattr(args, "jscc", None) or CHECKPOINT_DIR / f"jscc-t-{args.config}.safetensors"


def train_channel(args: argparse.Namespace) -> Channel:
    """The ``--train-channel`` / ``--train-coherence`` of a command (AWGN when absent)."""
    return make_channel(getattr(args, "train_channel", "awgn"), getattr(args, "train_coherence", None))


class DenoiserTask(Task):
    """Phase 2: train g_r (eq. 2) and g_s (eq. 3) behind the frozen encoder."""

    kind = "denoiser"

    def __init__(self, jscc_path: Path, cfg: DenoiserConfig, config_name: str, alpha: float = 1.0, t_max: int = 3,
                 gs_extra_steps: int = 2, channel: Channel | None = None) -> None:
        super().__init__()
        self.channel = channel or AWGNChannel()
        codec, jscc_card = load_jscc(jscc_path)
        self.modules["encoder"] = freeze(codec.encoder)
        self.modules["decoder"] = freeze(codec.decoder)  # validation PSNR only
        self.modules["denoiser"] = LatentDenoiser(cfg)
        self.cfg, self.config_name, self.alpha, self.t_max = cfg, config_name, alpha, t_max
        self.gs_extra_steps = gs_extra_steps
        self.calibration: MarginCalibration | None = None  # set by validate()
        self.jscc_sha = jscc_card["sha256"]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "DenoiserTask":
        return cls(jscc_checkpoint_path(args), DENOISER_CONFIGS[args.config], args.config, args.alpha, args.tmax,
                   args.gs_extra_steps, train_channel(args))

    @property
    def denoiser(self) -> LatentDenoiser:
        return self.modules["denoiser"]  # type: ignore[return-value]

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.denoiser.parameters())

    def _latents(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(y, z₁, effective SNR [B] dB)`` for a batch."""
        with torch.no_grad():
            self.modules["encoder"].eval()
            y = normalize_latent(self.modules["encoder"](images))
        return y, *random_channel_latent(y, snr_db, self.channel)

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        y, z, snr_eff = self._latents(images, snr_db)
        s = initial_similarity(snr_eff)
        cos_prev = cosine_similarity(y, z)
        loss_r = loss_s = torch.zeros((), device=z.device)
        mse_last: torch.Tensor | float = 0.0
        cos_last: torch.Tensor | float = 0.0
        for t in range(self.t_max + self.gs_extra_steps):
            trained_step = t < self.t_max
            with torch.set_grad_enabled(trained_step and torch.is_grad_enabled()):
                z_next = self.denoiser.residual(z, s.detach()) + z
            cos = cosine_similarity(y, z_next)
            if trained_step:
                mse = (y - z_next).pow(2).flatten(1).mean(dim=1)
                loss_r = loss_r + (mse + self.alpha * (1 - cos)).mean()
                mse_last, cos_last = mse.mean().detach(), cos.mean().detach()
            gain = self.denoiser.similarity.gain_db(s.detach(), z.detach(), z_next.detach())
            loss_s = loss_s + (gain - similarity_gain_db(cos_prev, cos).detach()).pow(2).mean()
            s = initial_similarity(similarity_to_snr_db(s.detach()) + gain.detach())
            z, cos_prev = z_next.detach() if not trained_step else z_next, cos.detach()
        return loss_r + loss_s, {"loss_r": loss_r.detach(), "loss_s": loss_s.detach(), "mse": mse_last, "cos": cos_last}

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """Calibrate the stop margin (:func:`~simulator.training.calibrate.calibrate_margin`),
        then cosine similarity to y before/after adaptive denoising at that margin, steps kept
        and PSNR through the phase-1 decoder."""
        self.calibration = calibrate_margin(self.denoiser, self.modules["encoder"], self.modules["decoder"], images,
                                            self.t_max)
        out: dict[str, float] = {"val_stop_margin_db": self.calibration.margin_db}
        for snr in VAL_SNRS_DB:
            snrs = torch.full((images.shape[0],), snr)
            y, z, snr_eff = self._latents(images, snrs)
            res = self.denoiser.run(z, initial_similarity(snr_eff.cpu()).to(z.device), t_max=self.t_max,
                                    margin_db=self.calibration.margin_db)
            out[f"val_cos_in_{snr:g}dB"] = cosine_similarity(y, z).mean().item()
            out[f"val_cos_{snr:g}dB"] = cosine_similarity(y, res.latent).mean().item()
            out[f"val_steps_{snr:g}dB"] = res.steps.float().mean().item()
            out[f"val_psnr_{snr:g}dB"] = psnr(images, self.modules["decoder"](res.latent)).mean().item()
        out["val_psnr"] = out["val_psnr_0dB"]
        return out

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return dict(self.denoiser.state_dict()), {
            "config_name": self.config_name, "config": self.cfg.to_dict(), "alpha": self.alpha,
            "t_max": self.t_max, "gs_extra_steps": self.gs_extra_steps, "jscc_sha256": self.jscc_sha,
            **(self.calibration.as_card() if self.calibration else {}), **train_channel_card(self.channel)}

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        """Continue from exported weights (``--init``: a run's next session, from its snapshot)."""
        self.denoiser.load_state_dict(tensors)


class DecoderFinetuneTask(Task):
    """Phase 3 of any latent denoiser: finetune only the decoder behind the frozen encoder
    and the frozen denoiser ``modules["denoiser"]``, with end-to-end MSE (eq. 4).
    Subclasses implement :meth:`denoise_latent` and say what else the card records."""

    kind = "jscc-decoder"

    def __init__(self, jscc_path: Path, denoiser: torch.nn.Module, config_name: str,
                 channel: Channel | None = None) -> None:
        super().__init__()
        self.channel = channel or AWGNChannel()
        codec, self.jscc_card = load_jscc(jscc_path)
        self.modules["encoder"] = freeze(codec.encoder)
        self.modules["denoiser"] = freeze(denoiser)
        self.modules["decoder"] = codec.decoder
        self.config_name = config_name

    def denoise_latent(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """The frozen receiver's latent processing: ``[B, C, h, w]`` → same (no grad)."""
        raise NotImplementedError

    def card_extras(self) -> dict[str, Any]:
        return {}

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.modules["decoder"].parameters())

    def _reconstruct(self, images: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.modules["encoder"].eval()
            self.modules["denoiser"].eval()
            y = normalize_latent(self.modules["encoder"](images))
            y_hat = self.denoise_latent(*random_channel_latent(y, snr_db, self.channel))
        return self.modules["decoder"](y_hat)

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mse = (self._reconstruct(images, snr_db) - images).pow(2).mean()
        return mse, {"mse": mse.detach(), "psnr": (10 * torch.log10(1 / mse)).detach()}

    #: validation SNRs (dB); ``val_psnr`` is the one at 0 dB.
    val_snrs_db: tuple[float, ...] = VAL_SNRS_DB

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        out = {}
        for snr in self.val_snrs_db:
            rec = self._reconstruct(images, torch.full((images.shape[0],), snr))
            out[f"val_psnr_{snr:g}dB"] = psnr(images, rec).mean().item()
        out["val_psnr"] = out["val_psnr_0dB"]
        return out

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        """Continue from exported decoder weights (``--init``)."""
        self.modules["decoder"].load_state_dict(tensors)

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return dict(self.modules["decoder"].state_dict()), {
            "config_name": self.config_name, "config": self.jscc_card["config"],
            "jscc_sha256": self.jscc_card["sha256"], **self.card_extras(), **train_channel_card(self.channel)}


class FinetuneTask(DecoderFinetuneTask):
    """Phase 3 of ours: the decoder behind the frozen encoder and denoiser (adaptive steps)."""

    #: 12 dB too: the phase-3 decoder must not cost PSNR at the top of the sweep.
    val_snrs_db = VAL_SNRS_DB + (12.0,)

    def __init__(self, jscc_path: Path, denoiser_path: Path, config_name: str, channel: Channel | None = None) -> None:
        denoiser, self.den_card = load_denoiser(denoiser_path)
        super().__init__(jscc_path, denoiser, config_name, channel)
        require_same_codec(self.den_card, denoiser_path, self.jscc_card["sha256"])
        self.t_max = int(self.den_card.get("t_max", 3))
        self.margin_db = float(self.den_card["stop_margin_db"])
        self.calibration: MarginCalibration | None = None  # set by validate()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "FinetuneTask":
        den = args.denoiser or CHECKPOINT_DIR / f"denoiser-{args.config}-alpha{args.alpha:g}.safetensors"
        return cls(jscc_checkpoint_path(args), den, args.config, train_channel(args))

    def denoise_latent(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        s1 = initial_similarity(snr_db)
        return self.modules["denoiser"].run(z, s1, t_max=self.t_max, margin_db=self.margin_db).latent

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """Validation PSNR (trained with the denoiser's stop margin), then the stop margin
        calibrated again through this decoder (:func:`~simulator.training.calibrate.calibrate_margin`):
        which steps pay depends on the decoder that renders them, and ``ours`` runs with this one."""
        out = super().validate(images)
        self.calibration = calibrate_margin(self.modules["denoiser"], self.modules["encoder"], self.modules["decoder"],
                                            images, self.t_max)
        return out | {"val_stop_margin_db": self.calibration.margin_db}

    def card_extras(self) -> dict[str, Any]:
        return {"denoiser_sha256": self.den_card["sha256"], "training_stop_margin_db": self.margin_db,
                **(self.calibration.as_card() if self.calibration else {})}
