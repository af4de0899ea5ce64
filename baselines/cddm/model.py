"""CDDM: a conditional diffusion model over the received JSCC latent (ref. [5]).

Notation (real layout of the latent, ``[B, C, h, w]``, C = 96 for ρ = 1/16): x₀ = y is the
power-normalised latent that was sent (Es = 1 per complex symbol), z = y + n the received
latent, with n ~ N(0, σ²) per real value and σ² = N0/2 = 10^(−SNR/10)/2.

Forward process (DDPM, fixed linear β schedule β₁ … β_T; α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s,
ᾱ₀ = 1)::

    q(x_t | x_{t−1}) = N(√α_t · x_{t−1}, β_t · W_n²)
    q(x_t | x₀)      = N(√ᾱ_t · W_s x₀, (1 − ᾱ_t) · W_n²)           (closed form)

For AWGN W_s = W_n = I.  CDDM's fading extension (MMSE equalisation of a Rayleigh channel)
uses per-element W_s = |h|²/(|h|² + 2σ²), W_n = |h|/(|h|² + 2σ²); the hooks are here
(``signal_scale``, ``noise_scale`` arguments, and ``CDDMConfig.state_input`` to feed the
per-element W_n map to the network), but only AWGN is trained and tested.

Training (CDDM Algorithm 1): x₀ = the encoder's power-normalised latent, t ~ U{1 … T},
ε ~ N(0, I), loss ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖² (mean over elements).

Sampling (CDDM Algorithm 2), from the received latent z at channel std σ:

1. start step  m = argmin_{t ∈ 1…T} | ln √((1−ᾱ_t)/ᾱ_t) − ln σ |   (the step whose
   noise-to-signal ratio equals the channel's; m = 0, i.e. no denoising, when σ = 0).
   √((1−ᾱ_t)/ᾱ_t) grows with t, so lower SNR ⇒ larger m ⇒ more network evaluations.
2. x_m = √ᾱ_m · z = √ᾱ_m·y + √ᾱ_m·σ·ε  (ε ~ N(0, I)), which is distributed exactly as
   q(x_m | x₀ = y) when σ² = (1−ᾱ_m)/ᾱ_m, i.e. up to the step granularity.
3. for t = m, m−1, …, 1 (ᾱ₀ = 1), with ε̂ = ε_θ(x_t, t)::

       x̂₀      = (x_t − √(1−ᾱ_t) · W_n ε̂) / √ᾱ_t
       x_{t−1} = √ᾱ_{t−1} · x̂₀ + √(1 − ᾱ_{t−1} − s_t²) · W_n ε̂ + s_t · W_n ξ,   ξ ~ N(0, I)
       s_t     = η · √((1−ᾱ_{t−1})/(1−ᾱ_t)) · √(1 − ᾱ_t/ᾱ_{t−1})

   CDDM uses the deterministic update (η = 0: no ξ term, the last step returns x̂₀); η = 1
   gives DDPM ancestral sampling with the posterior variance β̃_t (an option, not CDDM).
4. return x₀, the latent handed to the JSCC decoder.

Start rule ``official`` (the official code's sampler, ``start="official"``): m = argmin_t
|10·log10(ᾱ_t/(1−ᾱ_t)) − max(SNR, t_max)| with t_max = 10 dB, and x_m = z / √(1 + σ²).  Its
matched noise variance (1−ᾱ_m)/ᾱ_m = 10^(−SNR/10) = N0 is twice the channel's σ² = N0/2 per
real value: it starts 3 dB noisier than the channel, i.e. m equals the exact rule's m at
SNR − 3.01 dB (above the cap).  With T = 1000, β 1e-4 … 0.02 it runs 93 steps at every
SNR ≤ 10 dB and 74 at 12 dB.

The network (:class:`EpsilonUNet`) is DDPM's U-Net as CDDM's official code configures it
(channel multipliers, ResBlocks per level, self-attention levels and dropout from
:class:`CDDMConfig`; sinusoidal time embedding, fed to each ResBlock as a scale/shift).  Odd
h, w are replicate-padded to a multiple of 2^(levels−1) and cropped back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from simulator.models.card_config import CardConfig

__all__ = ["CDDMConfig", "CDDM_CONFIGS", "NoiseSchedule", "EpsilonUNet", "CDDM", "SampleResult", "channel_std",
           "START_RULES", "OFFICIAL_T_MAX_DB"]

#: start rules of :meth:`CDDM.sample`: ``matched`` (σ² = (1−ᾱ_m)/ᾱ_m exactly) or ``official``
#: (the official code's dB match with the t_max cap and the 1/√(1+σ²) scaling).
START_RULES = ("matched", "official")
#: the official sampler's ``t_max``: SNRs below it are matched as this SNR (dB; CIFAR-10 setting).
OFFICIAL_T_MAX_DB = 10.0


def channel_std(snr_db: torch.Tensor | float) -> torch.Tensor:
    """σ, the AWGN std per real latent value at Es/N0 = ``snr_db`` dB: √(N0/2), float64."""
    snr = torch.as_tensor(snr_db, dtype=torch.float64)
    return torch.sqrt(10.0 ** (-snr / 10.0) / 2.0)


@dataclass(frozen=True)
class CDDMConfig(CardConfig):
    """Schedule and network of a CDDM.

    :ivar steps: T, the number of diffusion steps.
    :ivar beta_start, beta_end: the linear β schedule β₁ … β_T.
    :ivar width, mult: U-Net channels per resolution level (``width·mult[i]``); level i runs at
        1/2^i of the latent's resolution.
    :ivar res_blocks: ResBlocks per level on the down path (``res_blocks + 1`` on the up path).
    :ivar attention_levels: levels (0-indexed) whose every ResBlock, down and up, is followed by
        a self-attention block (DDPM/CDDM official: ``(1,)``).
    :ivar mid_attention: one self-attention block between the two middle ResBlocks (lowest resolution).
    :ivar state_input: feed the per-element noise scale W_n to the network (fading; AWGN: off).
    """

    latent_channels: int = 96
    steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    width: int = 128
    mult: tuple[int, ...] = (1, 2, 2)
    res_blocks: int = 2
    attention_levels: tuple[int, ...] = (1,)
    mid_attention: bool = True
    groups: int = 32
    dropout: float = 0.1
    state_input: bool = False

    def __post_init__(self) -> None:
        bad = [lv for lv in self.attention_levels if not 0 <= lv < len(self.mult)]
        if bad:
            raise ValueError(f"attention_levels {list(self.attention_levels)} outside the {len(self.mult)} levels "
                             f"of mult {list(self.mult)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CDDMConfig":
        """Also reads cards written before ``attention_levels`` existed: their ``attention: bool``
        was the middle block alone (``mid_attention``), with no attention at any level."""
        d = dict(d)
        if "attention" in d:
            if "mid_attention" in d or "attention_levels" in d:
                raise ValueError("CDDM config has both the old 'attention' and the new attention fields")
            d["mid_attention"] = bool(d.pop("attention"))
            d["attention_levels"] = []
        return super().from_dict(d)


#: ``paper``: CDDM's official schedule (T = 1000, β linear 1e-4 … 0.02) and ε-network (DDPM
#: U-Net, 128 base channels, mult (1, 2, 2), 2 ResBlocks per level, attention at level 1 and in
#: the middle, dropout 0.1).  ``cpu``: the same schedule and structure at 32 base channels;
#: ``mid`` and ``large`` (64 and 96) sit between, one per JSCC config name.  ``tiny``: for tests.
CDDM_CONFIGS: dict[str, CDDMConfig] = {
    "paper": CDDMConfig(),
    "cpu": CDDMConfig(width=32, groups=8),
    "mid": CDDMConfig(width=64, groups=16),
    "large": CDDMConfig(width=96, groups=32),
    "tiny": CDDMConfig(steps=50, beta_start=2e-3, beta_end=0.4, width=8, mult=(1, 2), res_blocks=1,
                       attention_levels=(1,), groups=4, dropout=0.0),
}


class NoiseSchedule:
    """The fixed DDPM schedule; all tables are float64 on the CPU, indexed by t = 0 … T.

    ``betas[0] = 0`` and ``alpha_bar[0] = 1`` (t = 0 is the clean latent).
    """

    def __init__(self, steps: int, beta_start: float, beta_end: float) -> None:
        if steps < 1 or not (0 < beta_start <= beta_end < 1):
            raise ValueError(f"bad schedule: T={steps}, β from {beta_start} to {beta_end} (need 0 < β₁ ≤ β_T < 1)")
        self.steps = int(steps)
        betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        self.betas = torch.cat([torch.zeros(1, dtype=torch.float64), betas])
        self.alphas = 1.0 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, dim=0)
        #: √((1−ᾱ_t)/ᾱ_t): the noise std relative to the signal at step t (increasing in t).
        self.noise_ratio = torch.sqrt((1.0 - self.alpha_bar) / self.alpha_bar)

    def _at(self, table: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        vals = table.to(like.device)[t.long().to(like.device)].to(like.dtype)  # no host sync on CUDA
        return vals.view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                 signal_scale: torch.Tensor | None = None, noise_scale: torch.Tensor | None = None) -> torch.Tensor:
        """x_t ~ q(x_t | x₀) in closed form: ``√ᾱ_t·W_s·x₀ + √(1−ᾱ_t)·W_n·ε``; ``t`` is ``[B]``."""
        ab = self._at(self.alpha_bar, t, x0)
        signal = x0 if signal_scale is None else signal_scale * x0
        noise = noise if noise_scale is None else noise_scale * noise
        return ab.sqrt() * signal + (1.0 - ab).sqrt() * noise

    def q_step(self, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
               noise_scale: torch.Tensor | None = None) -> torch.Tensor:
        """One forward step x_t ~ q(x_t | x_{t−1}): ``√α_t·x_{t−1} + √β_t·W_n·ε``."""
        a = self._at(self.alphas, t, x_prev)
        noise = noise if noise_scale is None else noise_scale * noise
        return a.sqrt() * x_prev + (1.0 - a).sqrt() * noise

    def match_step(self, sigma: torch.Tensor | float) -> torch.Tensor:
        """Start step m for channel std ``sigma`` (per real value), ``[B]`` long.

        m = argmin_{t ∈ 1…T} |ln √((1−ᾱ_t)/ᾱ_t) − ln σ|, and m = 0 where σ = 0.
        """
        sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1)
        if (sigma < 0).any() or not torch.isfinite(sigma).all():
            raise ValueError(f"channel std must be finite and ≥ 0, got {sigma.tolist()}")
        log_r = self.noise_ratio[1:].log()
        m = (log_r[None, :] - sigma.clamp_min(1e-300).log()[:, None]).abs().argmin(dim=1) + 1
        return torch.where(sigma > 0, m, torch.zeros_like(m))

    def match_step_db(self, snr_db: torch.Tensor | float) -> torch.Tensor:
        """The official code's match: m = argmin_{t ∈ 1…T} |10·log10(ᾱ_t/(1−ᾱ_t)) − SNR|, ``[B]`` long.

        :param snr_db: the SNR to match in dB, scalar or ``[B]`` (finite).
        """
        snr = torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1)
        if not torch.isfinite(snr).all():
            raise ValueError(f"SNR must be finite, got {snr.tolist()}")
        step_snr = -20.0 * self.noise_ratio[1:].log10()
        return (step_snr[None, :] - snr[:, None]).abs().argmin(dim=1) + 1


# --- the ε-network ---------------------------------------------------------------------------


def timestep_embedding(t: torch.Tensor, dim: int, steps: int) -> torch.Tensor:
    """Sinusoidal features of t (rescaled to the 0 … 1000 range DDPM uses), ``[B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * (1000.0 / steps))[:, None] * freqs[None]
    emb = torch.cat([args.sin(), args.cos()], dim=1)
    return F.pad(emb, (0, dim % 2)) if dim % 2 else emb


class ResBlock(nn.Module):
    """GN → SiLU → conv, time-embedding scale/shift, GN → SiLU → dropout → conv (zero init), + skip."""

    def __init__(self, cin: int, cout: int, temb: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(temb, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.drop(F.silu(h)))


class SelfAttention(nn.Module):
    """Single-head self-attention over positions, residual, output projection zero-initialised."""

    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # [B, hw, c] each
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(1, 2).reshape(b, c, h, w))


class EpsilonUNet(nn.Module):
    """ε_θ(x_t, t [, W_n]): ``[B, C, h, w]`` → ``[B, C, h, w]``, any h, w ≥ 1.

    DDPM's U-Net: per level ``res_blocks`` ResBlocks down (``res_blocks + 1`` up, each taking a
    skip), a self-attention block after every ResBlock of the levels in ``cfg.attention_levels``,
    stride-2 conv down / nearest ×2 + conv up between levels, ResBlock → attention → ResBlock in
    the middle.  The modules of ``down``/``up`` are listed in execution order, so a config with
    no attention levels has the parameter names of the cards written before they existed.
    """

    def __init__(self, cfg: CDDMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, g, d = cfg.width, cfg.groups, cfg.dropout
        temb = 4 * w
        self.temb = nn.Sequential(nn.Linear(w, temb), nn.SiLU(), nn.Linear(temb, temb))
        cin = cfg.latent_channels * (2 if cfg.state_input else 1)
        self.inp = nn.Conv2d(cin, w, 3, padding=1)
        chans = [w]
        ch = w
        self.down = nn.ModuleList()
        for i, m in enumerate(cfg.mult):
            for _ in range(cfg.res_blocks):
                self.down.append(ResBlock(ch, w * m, temb, g, d))
                ch = w * m
                if i in cfg.attention_levels:
                    self.down.append(SelfAttention(ch, g))
                chans.append(ch)
            if i < len(cfg.mult) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                chans.append(ch)
        self.mid1 = ResBlock(ch, ch, temb, g, d)
        self.attn = SelfAttention(ch, g) if cfg.mid_attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, temb, g, d)
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(cfg.mult))):
            for _ in range(cfg.res_blocks + 1):
                self.up.append(ResBlock(ch + chans.pop(), w * m, temb, g, d))
                ch = w * m
                if i in cfg.attention_levels:
                    self.up.append(SelfAttention(ch, g))
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
        self.out = nn.Sequential(nn.GroupNorm(g, ch), nn.SiLU(), nn.Conv2d(ch, cfg.latent_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """:param x: ``[B, C, h, w]`` x_t; :param t: ``[B]`` steps in 1 … T;
        :param state: ``[B, C, h, w]`` W_n map (only if ``cfg.state_input``)."""
        if self.cfg.state_input:
            if state is None:
                raise ValueError("this CDDM was built with state_input=True: pass the W_n map as state")
            x = torch.cat([x, state.expand_as(x)], dim=1)
        h0, w0 = x.shape[-2:]
        k = 2 ** (len(self.cfg.mult) - 1)
        ph, pw = (-h0) % k, (-w0) % k
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        emb = self.temb(timestep_embedding(t, self.cfg.width, self.cfg.steps))
        h = self.inp(x)
        skips = [h]
        for layer in self.down:
            if isinstance(layer, SelfAttention):  # refines the skip its ResBlock just pushed
                h = skips[-1] = layer(h)
            else:
                h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
                skips.append(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(layer, ResBlock) else layer(h)
        return self.out(h)[..., :h0, :w0]


# --- the model -------------------------------------------------------------------------------


@dataclass
class SampleResult:
    """Output of :meth:`CDDM.sample`: the denoised latent ``[B, C, h, w]`` and the reverse
    steps (network evaluations) run per item, ``[B]`` long (= the start step m)."""

    latent: torch.Tensor
    steps: torch.Tensor


class CDDM(nn.Module):
    """Schedule + ε-network; :meth:`loss` is CDDM's Algorithm 1, :meth:`sample` Algorithm 2."""

    def __init__(self, cfg: CDDMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.schedule = NoiseSchedule(cfg.steps, cfg.beta_start, cfg.beta_end)
        self.net = EpsilonUNet(cfg)

    def loss(self, x0: torch.Tensor, t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             t_max: int | None = None, signal_scale: torch.Tensor | None = None,
             noise_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Noise-prediction loss ``mean‖ε − ε_θ(x_t, t)‖²`` with t ~ U{1 … t_max} (default T).

        :param x0: ``[B, C, h, w]`` power-normalised latents.
        """
        b = x0.shape[0]
        t_max = self.cfg.steps if t_max is None else min(int(t_max), self.cfg.steps)
        if t is None:
            t = torch.randint(1, t_max + 1, (b,), device=x0.device)
        if noise is None:
            noise = torch.randn_like(x0)
        xt = self.schedule.q_sample(x0, t, noise, signal_scale, noise_scale)
        pred = self.net(xt, t, noise_scale)
        return (pred - noise).pow(2).mean()

    def start_step(self, snr_db: torch.Tensor | float, snr_floor_db: float | None = None,
                   start: str = "matched") -> torch.Tensor:
        """m per item for Es/N0 ``snr_db`` (dB, scalar or ``[B]``), ``[B]`` long; see the module docstring.

        :param snr_floor_db: match at max(SNR, floor) instead (caps the steps at low SNR, as the
            official CDDM code's ``t_max`` does); ``None``: no floor for ``matched``,
            :data:`OFFICIAL_T_MAX_DB` for ``official``.
        :param start: ``matched`` (σ² = (1−ᾱ_m)/ᾱ_m) or ``official`` (dB match of ᾱ/(1−ᾱ) to the SNR).
        """
        if start not in START_RULES:
            raise ValueError(f"bad CDDM start rule {start!r}; accepted: {', '.join(START_RULES)}")
        snr = torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1)
        if start == "official" and snr_floor_db is None:
            snr_floor_db = OFFICIAL_T_MAX_DB
        if snr_floor_db is not None:
            snr = snr.clamp_min(float(snr_floor_db))
        if start == "official":
            return self.schedule.match_step_db(snr)
        return self.schedule.match_step(channel_std(snr))

    @torch.no_grad()
    def sample(self, z: torch.Tensor, snr_db: torch.Tensor | float, *, eta: float = 0.0,
               generator: torch.Generator | Sequence[torch.Generator] | None = None,
               snr_floor_db: float | None = None, start: str = "matched",
               noise_scale: torch.Tensor | None = None) -> SampleResult:
        """Denoise received latents ``z [B, C, h, w]`` at Es/N0 ``snr_db`` (scalar or ``[B]``).

        Items with fewer steps than the batch's most join the loop at their own start step, so
        every item's result is the one it gets alone (up to floating-point rounding).

        :param eta: 0 = CDDM's deterministic update; > 0 adds ``s_t·ξ`` with ξ drawn on the CPU
            from ``generator``: one generator, one full-batch draw per step (results depend only
            on it); or one generator per item, a ``[1, C, h, w]`` draw at each of its own steps
            (an item's draws are then those it makes alone in a batch of one).
        :param start: the start rule (:meth:`start_step`); ``matched`` scales z by √ᾱ_m,
            ``official`` by 1/√(1 + σ²) with the channel's σ² = N0/2.
        """
        b = z.shape[0]
        m = self.start_step(snr_db, snr_floor_db, start).expand(b).clone()
        ab = self.schedule.alpha_bar
        if start == "official":
            scale = (1.0 + channel_std(snr_db).reshape(-1) ** 2).rsqrt().expand(b)
        else:
            scale = ab[m].sqrt()
        x = z * scale.to(z).view(b, 1, 1, 1)
        per_item = generator is not None and not isinstance(generator, torch.Generator)
        if per_item and len(generator) != b:
            raise ValueError(f"{len(generator)} generators for {b} items")
        for t in range(int(m.max()), 0, -1):
            active = (m >= t).nonzero(as_tuple=True)[0]
            full = len(active) == b
            idx = active.to(z.device)
            xa = x if full else x[idx]
            ns = None if noise_scale is None else noise_scale.expand_as(x)[idx]
            eps = self.net(xa, torch.full((len(idx),), t, device=z.device, dtype=torch.long), ns)
            if ns is not None:
                eps = eps * ns
            ab_t, ab_prev = float(ab[t]), float(ab[t - 1])
            x0_hat = (xa - math.sqrt(1.0 - ab_t) * eps) / math.sqrt(ab_t)
            s = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * math.sqrt(1.0 - ab_t / ab_prev) if t > 1 else 0.0
            xa = math.sqrt(ab_prev) * x0_hat + math.sqrt(max(1.0 - ab_prev - s * s, 0.0)) * eps
            if s > 0:
                if per_item:
                    xi = torch.cat([torch.randn((1, *x.shape[1:]), generator=generator[i]) for i in active.tolist()]).to(x)
                else:
                    xi = torch.randn(x.shape, generator=generator).to(x)[idx]
                xa = xa + s * (xi if ns is None else ns * xi)
            if full:
                x = xa
            else:
                x[idx] = xa
        return SampleResult(x, m.to(z.device))
