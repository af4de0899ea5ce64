"""The channel models every scheme is sent through: AWGN, block and fast Rayleigh fading.

Contract (see ``docs/channel.md``)
----------------------------------
A scheme's transmitter turns an image into ``x ∈ C^n`` (Es = 1); the sweep draws one
:class:`Realisation` per (seed, image, SNR, realisation) from a :class:`Channel`, and
:meth:`Realisation.apply` returns the :class:`ChannelOutput` the receiver gets: the channel
output ``y = h ⊙ x + sqrt(N0)·w`` together with what a receiver knows (perfect CSI: the gains
``h`` and N0).  A new channel is one :class:`Channel` subclass (its :meth:`Channel.gains`) and
one entry in :data:`simulator.channels.registry.CHANNELS`; no scheme changes.

Common random numbers
---------------------
The unit noise ``w`` is exactly the AWGN noise of :mod:`simulator.channels.awgn`
(``unit_noise(n, noise_generator(seed, image_id, snr_db, realization))``), for every channel.
The gains come from a second generator keyed by (seed, image, realisation) and the channel
(:func:`gain_generator`), **not** by the SNR: an image keeps its fade across the SNR points (so
its delivery is monotone in SNR and the curves are smooth), and every scheme on that image
faces the same ``h`` and ``w``.

SNR
---
``snr_db`` stays the *average* Es/N0: E|h|² = 1, so the mean received symbol energy is 1 and
the instantaneous per-symbol SNR is ``|h_i|²·SNR``.
"""

from __future__ import annotations

import abc
import hashlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from simulator.channels.awgn import _key_to_seed, awgn, noise_generator, snr_db_to_noise_power, unit_noise

__all__ = [
    "ChannelOutput",
    "Realisation",
    "Channel",
    "AWGNChannel",
    "RayleighBlockChannel",
    "RayleighFastChannel",
    "gain_generator",
]


@dataclass(frozen=True)
class ChannelOutput:
    """What a receiver gets for one transmission.

    :ivar y: ``[n]`` complex64 channel output (``[0]`` when the scheme sent nothing, e.g. a bound
        that only needs the CSI).
    :ivar h: ``[n]`` complex64 channel gains (perfect CSI), or ``None`` for a channel without
        fading (AWGN: h = 1 for every symbol).
    :ivar n0: noise power N0 per complex symbol (linear), ``10^(−snr_db/10)``.
    :ivar snr_db: the average Es/N0 in dB.
    :ivar n: the channel uses n of the image.
    :ivar key: a 63-bit seed for the receiver's own random draws (``ours:s1=random``,
        ``cddm:eta>0``), a hash of the realisation: the draws repeat for the same
        (seed, image, SNR, realisation) and differ between realisations.  No information on
        the noise.
    """

    y: torch.Tensor
    h: torch.Tensor | None
    n0: float
    snr_db: float
    n: int
    key: int

    @property
    def fading(self) -> bool:
        """Whether the channel has gains to equalise (``h`` is given)."""
        return self.h is not None


@dataclass(frozen=True)
class Realisation:
    """The channel for one (seed, image, SNR, realisation).

    :ivar w: ``[n]`` complex64 unit noise, E|w_i|² = 1.
    :ivar h: ``[n]`` complex64 gains, or ``None`` (no fading).
    :ivar snr_db: average Es/N0 in dB.
    """

    w: torch.Tensor
    h: torch.Tensor | None
    snr_db: float

    def __post_init__(self) -> None:
        if self.h is not None and self.h.shape != self.w.shape:
            raise ValueError(f"gains have shape {tuple(self.h.shape)} but the noise {tuple(self.w.shape)}")

    @property
    def n(self) -> int:
        """Channel uses n."""
        return int(self.w.shape[-1])

    @property
    def n0(self) -> float:
        """N0 (linear) per complex symbol."""
        return snr_db_to_noise_power(self.snr_db)

    def receiver_key(self) -> int:
        """The seed of :attr:`ChannelOutput.key`: SHA-256 of ``w``'s bytes (and of ``h``'s, if any)."""
        digest = hashlib.sha256(self.w.detach().cpu().contiguous().numpy().tobytes())
        if self.h is not None:
            digest.update(self.h.detach().cpu().contiguous().numpy().tobytes())
        return int.from_bytes(digest.digest()[:8], "little") >> 1

    def apply(self, x: torch.Tensor) -> ChannelOutput:
        """Send ``x`` through this realisation: ``y = h ⊙ x + sqrt(N0)·w``.

        :param x: ``[n]`` complex symbols with Es = 1, or ``[0]`` when the scheme sends nothing
            (it then gets only the CSI).
        :raises ValueError: when x has neither n nor 0 symbols.
        """
        if x.shape[-1] == 0:
            y = torch.zeros(0, dtype=torch.complex64)
        elif x.shape[-1] != self.n or x.dim() != 1:
            raise ValueError(f"the scheme sent {tuple(x.shape)} symbols; this channel has n = {self.n} uses")
        else:
            y = awgn(x if self.h is None else self.h.to(x.device) * x, self.snr_db, self.w)
        return ChannelOutput(y, self.h, self.n0, float(self.snr_db), self.n, self.receiver_key())


def gain_generator(seed: int, image_id: str, realization: int, channel: str) -> torch.Generator:
    """The CPU generator of the fading gains for (seed, image, realisation, channel name);
    independent of the SNR and of the noise generator."""
    g = torch.Generator()
    g.manual_seed(_key_to_seed(int(seed), image_id, int(realization), "gain", channel))
    return g


class Channel(abc.ABC):
    """A channel model: draws :class:`Realisation` s; subclasses define :meth:`gains`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def gains(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """``[n]`` complex64 gains with E|h|² = 1 drawn from ``generator``, or ``None`` (no fading)."""

    def config(self) -> dict[str, Any]:
        """What defines this channel (recorded in the rows and the config hash of non-AWGN sweeps)."""
        return {"name": self.name}

    @property
    def tag(self) -> str:
        """Folder name of this channel's result files (``""`` for AWGN: the files stay as they are)."""
        return self.name

    def realise(self, n: int, seed: int, image_id: str, snr_db: float, realization: int) -> Realisation:
        """The realisation for (seed, image, SNR, realisation): the same for every scheme with n uses."""
        w = unit_noise(n, noise_generator(seed, image_id, snr_db, realization))
        return Realisation(w, self.gains(n, gain_generator(seed, image_id, realization, self.tag)), float(snr_db))


class AWGNChannel(Channel):
    """``y = x + sqrt(N0)·w``: no fading (h = 1)."""

    name = "awgn"
    description = "additive white Gaussian noise, no fading (default)"

    def gains(self, n: int, generator: torch.Generator) -> None:
        return None

    @property
    def tag(self) -> str:
        return ""


class RayleighBlockChannel(Channel):
    """Block (quasi-static) Rayleigh fading: one h ~ CN(0, 1) per block of L consecutive
    channel uses; ``coherence=None``: one block per image (the case where outage appears).

    :param coherence: L ≥ 1, or ``None`` for n (one block per image).
    """

    name = "rayleigh-block"
    description = "Rayleigh block fading, h ~ CN(0,1) per coherence block of L uses (default: one per image)"

    def __init__(self, coherence: int | None = None) -> None:
        if coherence is not None and (isinstance(coherence, bool) or int(coherence) != coherence or coherence < 1):
            raise ValueError(f"bad coherence {coherence!r}; accepted: a whole number of channel uses >= 1")
        self.coherence = None if coherence is None else int(coherence)

    def gains(self, n: int, generator: torch.Generator) -> torch.Tensor:
        length = n if self.coherence is None else self.coherence
        blocks = max(1, math.ceil(n / length))
        return unit_noise(blocks, generator).repeat_interleave(length)[:n]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "coherence": self.coherence}

    @property
    def tag(self) -> str:
        return self.name if self.coherence is None else f"{self.name}-L{self.coherence}"


class RayleighFastChannel(Channel):
    """Fast Rayleigh fading: an independent h ~ CN(0, 1) for every channel use."""

    name = "rayleigh-fast"
    description = "Rayleigh fast fading, independent h ~ CN(0,1) per channel use"

    def gains(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return unit_noise(n, generator)
