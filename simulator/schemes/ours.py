"""Scheme ``ours``: JSCC-T + the SS-conditioned residual latent denoiser (the paper's method).

Variants are chosen with scheme options, no code needed::

    ours                          adaptive steps (T_max = 3), empirical s₁, α = 1, finetuned decoder
    ours:steps=2                  fixed T = 2 (0 … 3; 0 = no denoising)
    ours:s1=0.5                   s₁ ∈ {empirical, 0, 0.5, 1, random}
    ours:alpha=0                  the denoiser trained without the SS loss
    ours:decoder=jscc             the phase-1 JSCC-T decoder instead of the phase-3 one
    ours:decoder=snr              the SNR-conditioned phase-3 decoder (semcom-train finetune-snr)
    ours:margin=0                 adaptive stop margin in dB (0 = the paper's rule "stop when s
                                  decreases"; default auto = the margin calibrated on validation
                                  images through the decoder in use: the phase-3 decoder's card,
                                  else the denoiser's)

``decoder=auto`` (default) uses the phase-3 decoder finetuned behind the α = 1 denoiser
when ``alpha=1`` and the JSCC-T decoder otherwise.  A phase-3 decoder whose card names a
``switch_snr_db`` (one finetuned on a low-SNR band, ``scripts/decoder_switch.py``) is used below
that effective SNR only: at and above it the receiver, which knows the SNR, decodes with the
phase-1 decoder and stops denoising at ``switch_stop_margin_db`` (calibrated through the phase-1
decoder on those SNRs; else the denoiser's own margin), so the band's gain costs nothing at high SNR.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from simulator.checkpoints import checkpoint_dir, load_checkpoint, require_same_codec
from simulator.models.denoiser import S1_MODES, initial_similarity
from simulator.models.snr_adaptive import SNRModulatedDecoder
from simulator.options import Option
from simulator.registry import register_scheme
from simulator.schemes.latent import LatentScheme
from simulator.training.denoiser_task import load_denoiser

__all__ = ["OursScheme"]

STEP_CHOICES = ("adaptive", "0", "1", "2", "3")


@register_scheme("ours")
class OursScheme(LatentScheme):
    """Paper §III: iterative residual latent denoising conditioned on the similarity score."""

    description = "JSCC-T + SS-conditioned residual latent denoiser (adaptive steps, T_max=3)"
    options_schema = {
        "steps": Option("adaptive", "denoising steps (adaptive: stop when g_s predicts no gain, T_max)",
                        choices=STEP_CHOICES),
        "s1": Option("empirical", "initial similarity score", choices=S1_MODES),
        "alpha": Option("1", "SS-loss weight of the denoiser weights to load", choices=("1", "0")),
        "decoder": Option("auto", "decoder weights: auto, finetuned (phase 3), jscc (phase 1) or snr (phase 3, "
                                  "SNR-conditioned)", choices=("auto", "finetuned", "jscc", "snr")),
        "margin": Option("auto", "adaptive stop margin, dB of effective latent SNR (auto: calibrated through "
                                 "the decoder in use, from its card; 0: the paper's rule)", kind="float", choices=("auto",), minimum=0),
    } | LatentScheme.options_schema  # config last: the order of canonical specs
    #: 2: g_s predicts each step's gain in dB and the adaptive rule has a stop margin.
    implementation_version = 2

    def __init__(self, options: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        o = self.options
        self.steps = None if o["steps"] == "adaptive" else int(o["steps"])
        den_path = checkpoint_dir() / f"denoiser-{self.config_name}-alpha{o['alpha']}.safetensors"
        self.denoiser, self.denoiser_card = load_denoiser(den_path)
        require_same_codec(self.denoiser_card, den_path, self.jscc_card["sha256"])
        self.weight_hashes.append(self.denoiser_card["sha256"])
        use_finetuned = o["decoder"] == "finetuned" or (o["decoder"] == "auto" and o["alpha"] == "1")
        margin_card = self.denoiser_card  # the stop margin calibrated through the decoder in use
        #: effective SNR (dB) from which the phase-1 decoder takes over (None: never).
        self.switch_db: float | None = None
        if use_finetuned:
            dec_path = checkpoint_dir() / f"ours-decoder-{self.config_name}.safetensors"
            tensors, card = load_checkpoint(dec_path, kind="jscc-decoder")
            require_same_codec(card, dec_path, self.jscc_card["sha256"])
            if card.get("switch_snr_db") is not None:
                self.switch_db = float(card["switch_snr_db"])
                self.high_snr_decoder = copy.deepcopy(self.decoder)  # phase 1, before phase 3 loads
                high_margin = card.get("switch_stop_margin_db")
                self.high_snr_margin_db = float(self.denoiser_card["stop_margin_db"] if high_margin is None else high_margin)
            self.decoder.load_state_dict(tensors)
            self.weight_hashes.append(card["sha256"])
            if "stop_margin_db" in card:
                margin_card = card
        self.snr_decoder = o["decoder"] == "snr"
        if self.snr_decoder:
            dec_path = checkpoint_dir() / f"ours-decoder-snr-{self.config_name}.safetensors"
            tensors, card = load_checkpoint(dec_path, kind="jscc-decoder-snr")
            require_same_codec(card, dec_path, self.jscc_card["sha256"])
            self.decoder = SNRModulatedDecoder(self.codec.cfg, int(card["mod_hidden"]))
            self.decoder.load_state_dict(tensors)
            self.decoder.eval()
            self.weight_hashes.append(card["sha256"])
            margin_card = card
        self.t_max = int(self.denoiser_card.get("t_max", 3))
        margin = self.values["margin"]
        self.margin_db = float(margin_card["stop_margin_db"]) if margin == "auto" else float(margin)

    def config(self) -> dict[str, Any]:
        switch = {} if self.switch_db is None else {"switch_snr_db": self.switch_db,
                                                     "high_snr_stop_margin_db": self.high_snr_margin_db}
        return super().config() | {"t_max": self.t_max, "denoiser_config": self.denoiser_card["config"],
                                   "stop_margin_db": self.margin_db} | switch

    def _high_snr(self, snr_db: torch.Tensor | float, n: int) -> torch.Tensor:
        """``[n]`` bool (CPU): the items the phase-1 decoder renders (effective SNR ≥ the switch)."""
        snr = torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1).expand(n)
        return snr >= self.switch_db if self.switch_db is not None else torch.zeros(n, dtype=torch.bool)

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor | float) -> torch.Tensor:
        if self.snr_decoder:
            snr = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(latent.shape[0])
            return self.decoder(latent, snr.to(latent.device))
        high = self._high_snr(snr_db, latent.shape[0]).to(latent.device)
        if not high.any():
            return self.decoder(latent)
        if high.all():
            return self.high_snr_decoder(latent)
        low_images, high_images = self.decoder(latent[~high]), self.high_snr_decoder(latent[high])
        out = low_images.new_empty((latent.shape[0], *low_images.shape[1:]))
        out[~high], out[high] = low_images, high_images
        return out

    @property
    def uses_randomness(self) -> bool:  # type: ignore[override]
        return self.options["s1"] == "random"

    def denoise(self, z: torch.Tensor, snr_db: torch.Tensor, generators: list[torch.Generator] | None
                ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Items that stop early stay in the batch, masked (:meth:`LatentDenoiser.run`); each item's
        ``similarities`` are the s it computed alone: s₁ … up to its first rejected step."""
        snr = snr_db.float()
        if generators is None:
            s1 = initial_similarity(snr, self.options["s1"])
        else:
            s1 = torch.cat([initial_similarity(snr[i:i + 1], self.options["s1"], g) for i, g in enumerate(generators)])
        margin: float | torch.Tensor = self.margin_db
        high = self._high_snr(snr, z.shape[0])
        if high.any():
            margin = torch.where(high, self.high_snr_margin_db, self.margin_db).to(z.device, torch.float32)
        result = self.denoiser.run(z, s1.to(z.device), steps=self.steps, t_max=self.t_max, margin_db=margin)
        steps = result.steps.tolist()
        sims = result.similarities.tolist()
        extras = []
        for kept, seq in zip(steps, sims):
            computed = kept if self.steps is not None else min(kept + 1, self.t_max)
            extras.append({"steps": int(kept), "similarities": [round(v, 5) for v in seq[: computed + 1]]})
        return result.latent, extras
