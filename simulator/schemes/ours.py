"""Scheme ``ours``: JSCC-T + the SS-conditioned residual latent denoiser (the paper's method).

Variants are chosen with scheme options, no code needed::

    ours                          adaptive steps (T_max = 3), empirical s₁, α = 1, finetuned decoder
    ours:steps=2                  fixed T = 2 (0 … 3; 0 = no denoising)
    ours:s1=0.5                   s₁ ∈ {empirical, 0, 0.5, 1, random}
    ours:alpha=0                  the denoiser trained without the SS loss
    ours:decoder=jscc             the phase-1 JSCC-T decoder instead of the phase-3 one

``decoder=auto`` (default) uses the phase-3 decoder finetuned behind the α = 1 denoiser
when ``alpha=1`` and the JSCC-T decoder otherwise.
"""

from __future__ import annotations

from typing import Any

import torch

from simulator.checkpoints import checkpoint_dir, load_checkpoint
from simulator.models.denoiser import S1_MODES, initial_similarity
from simulator.registry import register_scheme
from simulator.schemes.latent import LatentScheme
from simulator.training.denoiser_task import load_denoiser

__all__ = ["OursScheme"]

STEP_CHOICES = ("adaptive", "0", "1", "2", "3")


@register_scheme("ours")
class OursScheme(LatentScheme):
    """Paper §III: iterative residual latent denoising conditioned on the similarity score."""

    description = "JSCC-T + SS-conditioned residual latent denoiser (adaptive steps, T_max=3)"
    options_help = LatentScheme.options_help | {
        "steps": ("adaptive", f"denoising steps: {', '.join(STEP_CHOICES)}"),
        "s1": ("empirical", f"initial similarity score: {', '.join(S1_MODES)}"),
        "alpha": ("1", "SS-loss weight of the denoiser weights to load: 1 or 0"),
        "decoder": ("auto", "decoder weights: auto, finetuned (phase 3) or jscc (phase 1)"),
    }

    def __init__(self, options: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        o = self.options
        for key, accepted in (("steps", STEP_CHOICES), ("s1", S1_MODES), ("alpha", ("1", "0")),
                              ("decoder", ("auto", "finetuned", "jscc"))):
            if o[key] not in accepted:
                raise ValueError(f"ours: bad {key}={o[key]!r}; accepted: {', '.join(accepted)}")
        self.steps = None if o["steps"] == "adaptive" else int(o["steps"])
        den_path = checkpoint_dir() / f"denoiser-{self.config_name}-alpha{o['alpha']}.safetensors"
        self.denoiser, self.denoiser_card = load_denoiser(den_path)
        self.weight_hashes.append(self.denoiser_card["sha256"])
        use_finetuned = o["decoder"] == "finetuned" or (o["decoder"] == "auto" and o["alpha"] == "1")
        if use_finetuned:
            dec_path = checkpoint_dir() / f"ours-decoder-{self.config_name}.safetensors"
            tensors, card = load_checkpoint(dec_path, kind="jscc-decoder")
            self.decoder.load_state_dict(tensors)
            self.weight_hashes.append(card["sha256"])
        self.t_max = int(self.denoiser_card.get("t_max", 3))

    def config(self) -> dict[str, Any]:
        return super().config() | {"t_max": self.t_max, "denoiser_config": self.denoiser_card["config"]}

    @property
    def uses_randomness(self) -> bool:  # type: ignore[override]
        return self.options["s1"] == "random"

    def denoise(self, z: torch.Tensor, snr_db: float, generator: torch.Generator | None
                ) -> tuple[torch.Tensor, dict[str, Any]]:
        snr = torch.full((z.shape[0],), float(snr_db))
        s1 = initial_similarity(snr, self.options["s1"], generator).to(z.device)
        result = self.denoiser.run(z, s1, steps=self.steps, t_max=self.t_max)
        sims = [round(v, 5) for v in result.similarities[0].tolist()]
        return result.latent, {"steps": int(result.steps[0]), "similarities": sims}
