"""Calibrate the adaptive stop margin of a trained denoiser on validation images.

The adaptive rule keeps a step while its predicted gain in effective SNR is at least a margin
m (dB; :meth:`~simulator.models.denoiser.LatentDenoiser.run`).  m = 0 is the paper's rule.
The calibrated margin is the largest m on a grid whose adaptive PSNR stays within
``tolerance`` dB of the best fixed number of steps at every calibration SNR, i.e. the rule
that saves the most steps without costing image quality (if no m does, the m with the
smallest worst-case shortfall).  One pass suffices: an image
denoised adaptively ends at one of the fixed-T latents, so its PSNR under any margin is the
PSNR of the fixed T that margin stops at.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from simulator.link import normalize_latent, random_awgn_latent
from simulator.metrics import psnr
from simulator.models.denoiser import LatentDenoiser, initial_similarity, similarity_gain_db

__all__ = ["CALIBRATION_SNRS_DB", "MARGIN_GRID_DB", "MarginCalibration", "calibrate_margin", "pick_bands", "steps_profile"]

CALIBRATION_SNRS_DB = (-3.0, 0.0, 3.0, 6.0, 9.0, 12.0)
#: candidate margins, dB of effective latent SNR
MARGIN_GRID_DB = tuple(round(0.05 * i, 2) for i in range(61))


@dataclass
class MarginCalibration:
    """Result of :func:`calibrate_margin`.

    :ivar margin_db: the calibrated margin.
    :ivar fixed_psnr: SNR → mean PSNR (dB) for T = 0 … T_max fixed steps.
    :ivar adaptive_psnr: SNR → mean PSNR (dB) of the adaptive rule at ``margin_db``.
    :ivar adaptive_steps: SNR → mean steps kept at ``margin_db``.
    :ivar paper_steps: SNR → mean steps kept by the paper's rule (m = 0).
    """

    margin_db: float
    fixed_psnr: dict[float, list[float]]
    adaptive_psnr: dict[float, float]
    adaptive_steps: dict[float, float]
    paper_steps: dict[float, float]

    def as_card(self) -> dict[str, object]:
        return {"stop_margin_db": self.margin_db,
                "calibration": {f"{snr:g}": {"fixed_psnr": [round(v, 3) for v in self.fixed_psnr[snr]],
                                             "adaptive_psnr": round(self.adaptive_psnr[snr], 3),
                                             "adaptive_steps": round(self.adaptive_steps[snr], 3),
                                             "paper_rule_steps": round(self.paper_steps[snr], 3)}
                                for snr in self.fixed_psnr}}


def _steps_at(gains: torch.Tensor, margin_db: float) -> torch.Tensor:
    """Steps kept per image ``[V]`` from per-step predicted gains ``[V, T_max]``."""
    below = gains < margin_db
    first = torch.where(below.any(dim=1), below.float().argmax(dim=1), torch.full_like(below[:, 0], gains.shape[1], dtype=torch.long))
    return first.long()


@torch.no_grad()
def _fixed_and_gains(denoiser: LatentDenoiser, encoder: nn.Module, decoder: nn.Module, images: torch.Tensor,
                     t_max: int, snrs_db: tuple[float, ...]) -> tuple[dict[float, torch.Tensor], dict[float, torch.Tensor]]:
    """SNR → ``[V, T_max + 1]`` PSNR per image after T = 0 … T_max steps, and SNR → ``[V, T_max]``
    predicted gain (dB) of each step; noise from torch's global RNG."""
    y = normalize_latent(encoder(images))
    fixed: dict[float, torch.Tensor] = {}  # SNR → [V, T_max + 1] PSNR per image and T
    gains: dict[float, torch.Tensor] = {}  # SNR → [V, T_max] predicted gain of each step
    for snr in snrs_db:
        snrs = torch.full((images.shape[0],), snr)
        z, s = random_awgn_latent(y, snrs), initial_similarity(snrs).to(y.device)
        per_t, per_gain = [psnr(images, decoder(z))], []
        for _ in range(t_max):
            z, s_next = denoiser.step(z, s)
            per_gain.append(similarity_gain_db(s, s_next))
            per_t.append(psnr(images, decoder(z)))
            s = s_next
        fixed[snr], gains[snr] = torch.stack(per_t, dim=1), torch.stack(per_gain, dim=1)
    return fixed, gains


@torch.no_grad()
def steps_profile(denoiser: LatentDenoiser, encoder: nn.Module, decoder: nn.Module, images: torch.Tensor,
                  t_max: int, margin_db: float, snrs_db: tuple[float, ...]) -> dict[float, tuple[float, float, list[float]]]:
    """SNR → (mean adaptive PSNR, mean adaptive steps, mean PSNR after T = 0 … T_max fixed steps) at a
    given stop margin: whether the step count falls with SNR (no ripple between training SNRs)."""
    fixed, gains = _fixed_and_gains(denoiser, encoder, decoder, images, t_max, snrs_db)
    out = {}
    for snr in snrs_db:
        steps = _steps_at(gains[snr], margin_db)
        out[snr] = (fixed[snr].gather(1, steps[:, None]).mean().item(), steps.float().mean().item(),
                    fixed[snr].mean(0).tolist())
    return out


@torch.no_grad()
def calibrate_margin(denoiser: LatentDenoiser, encoder: nn.Module, decoder: nn.Module, images: torch.Tensor,
                     t_max: int, tolerance_db: float = 0.05, snrs_db: tuple[float, ...] = CALIBRATION_SNRS_DB,
                     max_margin_db: float = math.inf) -> MarginCalibration:
    """Pick the stop margin on ``images [V, 3, h, w]`` (validation crops, never test images).

    :param max_margin_db: a ceiling: a calibrated margin above it is lowered to it (e.g. the margin
        of the SNR band above; a lower margin only keeps more steps).
    The channel noise is drawn from torch's global RNG (seed it for a reproducible result).
    """
    fixed, gains = _fixed_and_gains(denoiser, encoder, decoder, images, t_max, snrs_db)

    def adaptive(snr: float, margin: float) -> tuple[float, float]:
        steps = _steps_at(gains[snr], margin)
        return fixed[snr].gather(1, steps[:, None]).mean().item(), steps.float().mean().item()

    def worst_gap(margin: float) -> float:
        return max(fixed[snr].mean(0).max().item() - adaptive(snr, margin)[0] for snr in snrs_db)

    gaps = {margin: worst_gap(margin) for margin in MARGIN_GRID_DB}
    within = [margin for margin, gap in gaps.items() if gap <= tolerance_db]
    best = min(max(within) if within else min(gaps, key=lambda m: (gaps[m], -m)), max_margin_db)
    return MarginCalibration(
        margin_db=best,
        fixed_psnr={snr: fixed[snr].mean(0).tolist() for snr in snrs_db},
        adaptive_psnr={snr: adaptive(snr, best)[0] for snr in snrs_db},
        adaptive_steps={snr: adaptive(snr, best)[1] for snr in snrs_db},
        paper_steps={snr: adaptive(snr, 0.0)[1] for snr in snrs_db},
    )


def pick_bands(psnr: list[dict[float, float]]) -> list[float | None]:
    """Split the SNR axis into contiguous bands, one per decoder in the given order (low → high SNR).

    :param psnr: per decoder, SNR (dB) → mean validation PSNR (dB); every dict has the same SNRs.
    :returns: for decoders 1 … K−1 the SNR from which each is used (``None``: no band).  Decoder 0
        is used below the first start.  The split maximises the summed PSNR over the SNRs; among
        equal splits the later decoders take the most SNRs (a tie goes to the higher band).
    """
    snrs = sorted(psnr[0])
    n, k = len(snrs), len(psnr)
    prefix = [[0.0] for _ in psnr]  # prefix[d][i]: decoder d's PSNR summed over snrs[:i]
    for d, table in enumerate(psnr):
        for snr in snrs:
            prefix[d].append(prefix[d][-1] + table[snr])

    def total(bounds: tuple[int, ...]) -> float:
        edges = (0, *bounds, n)
        return sum(prefix[d][edges[d + 1]] - prefix[d][edges[d]] for d in range(k))

    best = max(itertools.combinations_with_replacement(range(n + 1), k - 1),
               key=lambda bounds: (round(total(bounds), 9), -sum(bounds)))
    edges = (*best, n)
    return [snrs[edges[d]] if edges[d] < edges[d + 1] else None for d in range(k - 1)]
