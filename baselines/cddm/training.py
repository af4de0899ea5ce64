"""Training phases of the CDDM baseline (``semcom-train cddm`` and ``semcom-train cddm-finetune``).

CDDM is trained in three phases (ref. [5], §IV): (1) the JSCC codec (shared with JSCC-T:
``checkpoints/jscc-t-{config}.safetensors``), (2) the CDDM behind the frozen encoder, (3) the
JSCC decoder finetuned behind the frozen encoder + CDDM.

Phase 2 (:class:`CDDMTask`, CDDM Algorithm 1): x₀ = the encoder's power-normalised latent
(Es = 1), t ~ U{1 … t_max}, ε ~ N(0, I), loss = mean ‖ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, t)‖².
For AWGN the loss does not involve the channel SNR (the training loop's SNR draws are
unused); t_max = T by default (as CDDM), or m(``min_snr_db``), the start step of the lowest
SNR the sweep will use, to spend a short CPU budget only on the steps sampling visits.

Phase 3 (:class:`CDDMFinetuneTask`): encoder → AWGN (per-sample SNR from the training
SNRs) → CDDM sampling (the full deterministic rule of :meth:`~baselines.cddm.model.CDDM.sample`,
no gradient) → decoder; only the decoder trains, on the end-to-end MSE (eq. 4).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from baselines.cddm.model import CDDM, CDDM_CONFIGS, CDDMConfig
from simulator.checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, require_same_codec
from simulator.link import normalize_latent, random_awgn_latent
from simulator.metrics import psnr
from simulator.schemes.latent import load_jscc
from simulator.training.denoiser_task import DecoderFinetuneTask, freeze, jscc_checkpoint_path
from simulator.training.loop import Task

__all__ = ["CDDMTask", "CDDMFinetuneTask", "load_cddm", "VAL_SNRS_DB"]

VAL_SNRS_DB = (-3.0, 0.0, 5.0)


def load_cddm(path: Path) -> tuple[CDDM, dict[str, Any]]:
    """A CDDM from its safetensors checkpoint (card ``kind: cddm``); the card's config builds it.

    :raises CheckpointError: missing/invalid file, wrong kind, or weights not matching the config.
    """
    tensors, card = load_checkpoint(path, kind="cddm")
    model = CDDM(CDDMConfig.from_dict(card["config"]))
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # shape mismatches raise even when strict=False
        raise CheckpointError(f"{path}: weights do not match the card's config: {str(exc).splitlines()[0]}") from exc
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the card's config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval(), card


class CDDMTask(Task):
    """Phase 2: the CDDM's noise-prediction loss behind the frozen JSCC encoder.

    :param min_snr_db: if given, train only t ≤ m(min_snr_db) (see the module docstring).
    """

    kind = "cddm"

    def __init__(self, jscc_path: Path, cfg: CDDMConfig, config_name: str, min_snr_db: float | None = None) -> None:
        super().__init__()
        codec, jscc_card = load_jscc(jscc_path)
        if codec.cfg.latent_channels != cfg.latent_channels:
            raise ValueError(f"CDDM config {config_name!r} has {cfg.latent_channels} latent channels, the JSCC "
                             f"weights {codec.cfg.latent_channels}")
        self.modules["encoder"] = freeze(codec.encoder)
        self.modules["decoder"] = freeze(codec.decoder)  # validation PSNR only
        self.modules["cddm"] = CDDM(cfg)
        self.cfg, self.config_name, self.min_snr_db = cfg, config_name, min_snr_db
        self.t_max = cfg.steps if min_snr_db is None else int(self.cddm.start_step(min_snr_db)[0])
        self.jscc_sha = jscc_card["sha256"]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "CDDMTask":
        return cls(jscc_checkpoint_path(args), CDDM_CONFIGS[args.config], args.config, getattr(args, "cddm_min_snr", None))

    @property
    def cddm(self) -> CDDM:
        return self.modules["cddm"]  # type: ignore[return-value]

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.cddm.parameters())

    def _latents(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.modules["encoder"].eval()
            return normalize_latent(self.modules["encoder"](images))

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = self.cddm.loss(self._latents(images), t_max=self.t_max)
        return loss, {"loss": loss.detach()}

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """Latent MSE before/after sampling and PSNR through the (phase-1) JSCC decoder."""
        self.modules["decoder"].eval()
        y = self._latents(images)
        out: dict[str, float] = {}
        for snr in VAL_SNRS_DB:
            z = random_awgn_latent(y, snr)
            res = self.cddm.sample(z, snr)
            out[f"val_mse_in_{snr:g}dB"] = (z - y).pow(2).mean().item()
            out[f"val_mse_{snr:g}dB"] = (res.latent - y).pow(2).mean().item()
            out[f"val_psnr_{snr:g}dB"] = psnr(images, self.modules["decoder"](res.latent)).mean().item()
        out["val_psnr"] = out["val_psnr_0dB"]
        return out

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return dict(self.cddm.state_dict()), {
            "config_name": self.config_name, "config": self.cfg.to_dict(), "train_t_max": self.t_max,
            "train_min_snr_db": self.min_snr_db, "jscc_sha256": self.jscc_sha}


class CDDMFinetuneTask(DecoderFinetuneTask):
    """Phase 3: finetune only the JSCC decoder behind the frozen encoder and CDDM.

    :param eta: sampler η (0 = CDDM's deterministic rule).
    :param snr_floor_db: the sampler's optional start-step floor (``None``: exact matching).
    :param start: the sampler's start rule, ``matched`` or ``official`` (see :meth:`CDDM.sample`).
    """

    def __init__(self, jscc_path: Path, cddm_path: Path, config_name: str, eta: float = 0.0,
                 snr_floor_db: float | None = None, start: str = "matched") -> None:
        cddm, self.cddm_card = load_cddm(cddm_path)
        super().__init__(jscc_path, cddm, config_name)
        require_same_codec(self.cddm_card, cddm_path, self.jscc_card["sha256"])
        self.eta, self.snr_floor_db, self.start = eta, snr_floor_db, start

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "CDDMFinetuneTask":
        cddm = getattr(args, "cddm", None) or CHECKPOINT_DIR / f"cddm-{args.config}.safetensors"
        return cls(jscc_checkpoint_path(args), cddm, args.config)

    def denoise_latent(self, z: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(int(torch.randint(1 << 62, ()).item())) if self.eta > 0 else None
        return self.modules["denoiser"].sample(z, snr_db.cpu(), eta=self.eta, generator=generator,
                                               snr_floor_db=self.snr_floor_db, start=self.start).latent

    def card_extras(self) -> dict[str, Any]:
        return {"cddm_sha256": self.cddm_card["sha256"],
                "sampler": {"eta": self.eta, "snr_floor_db": self.snr_floor_db, "start": self.start}}
