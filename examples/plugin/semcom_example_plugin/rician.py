"""``rician-block``: Rician block fading with K factor, a line-of-sight path plus scatter.

Per coherence block of L channel uses (default: one block per image)::

    h = sqrt(K/(K+1))·e^{jφ} + sqrt(1/(K+1))·g,    φ ~ U[0, 2π),  g ~ CN(0, 1)

so E|h|² = 1 (the SNR stays the average Es/N0, as for every channel of the simulator).
K = 0 is Rayleigh block fading; K → ∞ is AWGN with a random phase.  The gains come from the
generator the simulator hands to :meth:`gains` (keyed by seed, image and realisation, not the
SNR), so every scheme faces the same h.

``--channel rician-block:k=10 --coherence 4096`` sets K = 10 and L = 4096 (options go to the
constructor as strings).
"""

from __future__ import annotations

import math
from typing import Any

import torch

import simulator as sim

__all__ = ["RicianBlockChannel"]


class RicianBlockChannel(sim.Channel):
    """Rician block fading, see the module docstring.

    :param k: the Rician K factor (line-of-sight to scatter power), a number >= 0.
    :param coherence: L >= 1 channel uses per block, or ``None`` for one block per image.
    :raises ValueError: one line naming the bad value and what is accepted.
    """

    name = "rician-block"
    description = "Rician block fading, K factor k (default 4), h per block of L uses (default one per image)"

    def __init__(self, k: float | str = 4.0, coherence: int | str | None = None) -> None:
        try:
            self.k = float(k)
        except (TypeError, ValueError):
            self.k = math.nan
        if not (math.isfinite(self.k) and self.k >= 0):
            raise ValueError(f"rician-block: bad k={k!r}; accepted: a Rician K factor >= 0")
        if coherence is not None:
            try:
                value = int(coherence)
            except (TypeError, ValueError):
                value = 0
            if value < 1 or str(value) != str(coherence).strip():
                raise ValueError(f"rician-block: bad coherence={coherence!r}; accepted: a whole number of channel uses >= 1")
            coherence = value
        self.coherence: int | None = coherence

    def gains(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``[n]`` complex64 gains, one value per block of L uses (E|h|² = 1)."""
        length = n if self.coherence is None else self.coherence
        blocks = max(1, math.ceil(n / length))
        scatter = sim.unit_noise(blocks, generator)
        phase = 2 * math.pi * torch.rand(blocks, generator=generator)
        los = torch.polar(torch.ones(blocks), phase).to(torch.complex64)
        h = math.sqrt(self.k / (self.k + 1)) * los + math.sqrt(1 / (self.k + 1)) * scatter
        return h.repeat_interleave(length)[:n]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "coherence": self.coherence}

    @property
    def tag(self) -> str:
        """Result folder: ``rician-block-K4`` (``-L<coherence>`` with a coherence)."""
        tag = f"{self.name}-K{self.k:g}"
        return tag if self.coherence is None else f"{tag}-L{self.coherence}"
