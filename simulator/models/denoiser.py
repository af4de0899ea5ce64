"""The SS-conditioned residual latent denoiser (paper §III, Figs. 2–3).

Iteration, for t = 1 … T::

    z_{t+1} = g_r(z_t, s_t) + z_t          (residual predictor, a U-Net)
    s_{t+1} = g_s(s_t, z_t, z_{t+1})       (similarity predictor, 1×1 convolutions)

with s₁ = 1/√(1 + 1/η) (η the linear SNR) by default.  ``z`` is the received latent in
its real layout ``[B, C, h, w]`` (C = 96 for ρ = 1/16, h = H/16, w = W/16), ``s`` is
``[B]``, an estimate of the cosine similarity between the sent latent y and z_t.

s and the latent's effective SNR are one quantity: a latent z = y + e with independent
error e of relative power 1/η has cos(y, z) → s(η) = 1/√(1 + 1/η) (eq. 1), so
η(s) = s²/(1 − s²) (:func:`similarity_to_snr_db`).  g_s predicts the *gain* of a step in
that effective SNR, in dB, and s_{t+1} = s(η(s_t)·10^(gain/10)).  It is trained on the true
gain 10·log10(η(cos(y, z_{t+1})) / η(cos(y, z_t))), so the rule below compares the same
estimator at both ends of a step (an error in s_t does not pass for a step's effect).

Conditioning: s_t is embedded (sinusoidal features → MLP) and modulates every CGR block of
the U-Net's up-sampling path by FiLM (channel-wise scale ``1 + γ(s)`` and shift ``β(s)``).

Adaptive inference (T_max = 3): iterate while each step's predicted gain is at least a
margin m (dB of effective SNR).  m = 0 is the paper's rule exactly (iterate while the
predicted sequence s₁ ≤ s₂ ≤ … is non-decreasing, s being monotone in η); a calibrated
m > 0 also stops steps that help the latent too little to help the image.  At the first step
whose gain falls below m, that step is judged not worth it and discarded: the output is z_t
and the image counts t − 1 steps.  Otherwise the output is z_{T_max+1} (T_max steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simulator.models.card_config import CardConfig

__all__ = ["DenoiserConfig", "DENOISER_CONFIGS", "S1_MODES", "initial_similarity", "similarity_to_snr_db",
           "similarity_gain_db", "cosine_similarity",
           "ResidualPredictor", "SimilarityPredictor", "LatentDenoiser", "DenoiseResult"]

S1_MODES = ("empirical", "0", "0.5", "1", "random")


def initial_similarity(snr_db: torch.Tensor, mode: str = "empirical", generator: torch.Generator | None = None) -> torch.Tensor:
    """s₁ per item, ``[B]``, from the SNR in dB ``[B]``.

    ``empirical``: 1/√(1 + 1/η), η = 10^(snr_db/10) (paper eq. 1); ``0``, ``0.5``, ``1``:
    constants; ``random``: U[0, 1].
    """
    snr_db = torch.as_tensor(snr_db, dtype=torch.float32)
    if mode == "empirical":
        eta = 10.0 ** (snr_db / 10.0)
        return 1.0 / torch.sqrt(1.0 + 1.0 / eta)
    if mode == "random":
        return torch.rand(snr_db.shape, generator=generator)
    if mode in ("0", "0.5", "1"):
        return torch.full_like(snr_db, float(mode))
    raise ValueError(f"unknown s1 mode {mode!r}; accepted: {', '.join(S1_MODES)}")


def similarity_to_snr_db(s: torch.Tensor) -> torch.Tensor:
    """The effective SNR (dB) whose eq.-(1) similarity is ``s``: 10·log10(s²/(1 − s²)), ``[B]``.

    ``s`` is clamped to [1e-4, 1 − 1e-7] (−80 … +67 dB).
    """
    s = s.clamp(1e-4, 1 - 1e-7)
    return 10.0 * torch.log10(s.square() / (1 - s.square()))


def similarity_gain_db(s_before: torch.Tensor, s_after: torch.Tensor) -> torch.Tensor:
    """Gain in effective SNR (dB) from similarity ``s_before`` to ``s_after`` (both ``[B]``)."""
    return similarity_to_snr_db(s_after) - similarity_to_snr_db(s_before)


def cosine_similarity(y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Per-item cosine similarity of ``[B, ...]`` tensors, ``[B]``."""
    return F.cosine_similarity(y.flatten(1), z.flatten(1), dim=1, eps=1e-12)


@dataclass(frozen=True)
class DenoiserConfig(CardConfig):
    """Widths of the residual U-Net (``width`` at full latent resolution, 2× at the bottom)."""

    latent_channels: int = 96
    width: int = 128
    groups: int = 8
    embed: int = 64
    sim_hidden: int = 64


#: One per JSCC config name (``semcom-train denoiser --config NAME``); ``mid`` and ``large``
#: sit between ``cpu`` and ``paper`` as their codecs do.
DENOISER_CONFIGS = {"cpu": DenoiserConfig(), "paper": DenoiserConfig(width=256, embed=128, sim_hidden=128),
                    "mid": DenoiserConfig(width=160, embed=80, sim_hidden=80),
                    "large": DenoiserConfig(width=192, embed=96, sim_hidden=96),
                    "tiny": DenoiserConfig(width=16, groups=4, embed=8, sim_hidden=8)}


class CGR(nn.Sequential):
    """3×3 convolution + GroupNorm + ReLU."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.ReLU(inplace=True))


class SimilarityEmbedding(nn.Module):
    """s ``[B]`` → ``[B, dim]``: sinusoidal features of s at 8 frequencies, then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(8, dtype=torch.float32), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(17, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        angles = s[:, None] * self.freqs
        return self.mlp(torch.cat([s[:, None], angles.sin(), angles.cos()], dim=1))


class FiLMCGR(nn.Module):
    """CGR whose normalised features are modulated by the s-embedding: ``(1+γ)·h + β``."""

    def __init__(self, cin: int, cout: int, groups: int, embed: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(groups, cout)
        self.film = nn.Linear(embed, 2 * cout)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        return F.relu(self.norm(self.conv(x)) * (1 + gamma) + beta)


class ResidualPredictor(nn.Module):
    """g_r: U-Net ``(z [B, C, h, w], s [B]) → r [B, C, h, w]`` with one 2× down-sampling stage.

    Odd h or w are replicate-padded for the down/up path and cropped back.  The last layer
    starts at zero, so an untrained predictor is the identity mapping (r = 0).
    """

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        c, w, g = cfg.latent_channels, cfg.width, cfg.groups
        self.embed = SimilarityEmbedding(cfg.embed)
        self.enc = nn.Sequential(CGR(c, w, g), CGR(w, w, g))
        self.down = nn.Sequential(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GroupNorm(g, 2 * w), nn.ReLU(inplace=True),
                                  CGR(2 * w, 2 * w, g), CGR(2 * w, 2 * w, g))
        self.up = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = FiLMCGR(2 * w, w, g, cfg.embed)
        self.dec2 = FiLMCGR(w, w, g, cfg.embed)
        self.out = nn.Conv2d(w, c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h, w = z.shape[-2:]
        x = F.pad(z, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else z
        emb = self.embed(s)
        e1 = self.enc(x)
        u = self.up(self.down(e1))
        u = self.dec2(self.dec1(torch.cat([u, e1], dim=1), emb), emb)
        return self.out(u)[..., :h, :w]


class SimilarityPredictor(nn.Module):
    """g_s: ``(s_t [B], z_t, z_{t+1} [B, C, h, w]) → s_{t+1} [B]`` in (0, 1).

    1×1 convolutions over the joint input [s_t map, z_t, z_{t+1}] (2C + 1 channels), averaged
    over positions to one value per image: the step's predicted gain in effective SNR (dB,
    :meth:`gain_db`); s_{t+1} is s_t moved by that gain (module docstring).
    """

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        c, hdim = cfg.latent_channels, cfg.sim_hidden
        self.net = nn.Sequential(nn.Conv2d(2 * c + 1, hdim, 1), nn.ReLU(inplace=True), nn.Conv2d(hdim, hdim, 1),
                                 nn.ReLU(inplace=True), nn.Conv2d(hdim, 1, 1))

    def gain_db(self, s: torch.Tensor, z_prev: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        """Predicted gain of the step z_t → z_{t+1} in effective SNR, dB, ``[B]``."""
        s_map = s[:, None, None, None].expand(-1, 1, *z_prev.shape[-2:])
        return self.net(torch.cat([s_map, z_prev, z_next], dim=1)).mean(dim=(1, 2, 3))

    def forward(self, s: torch.Tensor, z_prev: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        return initial_similarity(similarity_to_snr_db(s) + self.gain_db(s, z_prev, z_next))


@dataclass
class DenoiseResult:
    """Output of :meth:`LatentDenoiser.run`.

    :ivar latent: ``[B, C, h, w]`` the denoised latent ŷ.
    :ivar steps: ``[B]`` int, denoising steps kept per item.
    :ivar similarities: ``[B, T+1]`` the s sequence computed (s₁ first).
    """

    latent: torch.Tensor
    steps: torch.Tensor
    similarities: torch.Tensor


class LatentDenoiser(nn.Module):
    """g_d = (g_r, g_s) iterated; see the module docstring."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.residual = ResidualPredictor(cfg)
        self.similarity = SimilarityPredictor(cfg)

    def step(self, z: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration: ``(z_t, s_t) → (z_{t+1}, s_{t+1})``."""
        z_next = self.residual(z, s) + z
        return z_next, self.similarity(s, z, z_next)

    def run(self, z1: torch.Tensor, s1: torch.Tensor, steps: int | None = None, t_max: int = 3,
            margin_db: float | torch.Tensor = 0.0) -> DenoiseResult:
        """Denoise ``z1 [B, C, h, w]`` from ``s1 [B]``.

        :param steps: fixed number of iterations (0 … t_max), or ``None`` for adaptive.
        :param margin_db: adaptive only: the least predicted gain (dB of effective SNR) for
            which a step is kept; 0 = the paper's rule (stop when s decreases); a ``[B]`` tensor
            (on ``z1``'s device) gives each item its own margin.
        """
        fixed = steps is not None
        n_iter = steps if fixed else t_max
        z, s = z1, s1
        out, kept = z1.clone(), torch.zeros(z1.shape[0], dtype=torch.long, device=z1.device)
        active = torch.ones(z1.shape[0], dtype=torch.bool, device=z1.device)
        history = [s1]
        for t in range(1, n_iter + 1):
            if not active.any():
                break
            z_next, s_next = self.step(z, s)
            history.append(s_next)
            accept = active if fixed else active & (similarity_gain_db(s, s_next) >= margin_db)
            out = torch.where(accept[:, None, None, None], z_next, out)
            kept = kept + accept.long()
            active = accept
            z, s = z_next, s_next
        sims = torch.stack(history, dim=1)
        return DenoiseResult(out, kept, sims)
