"""The one contract every transmission scheme implements.

A scheme turns an image into ``n`` complex channel uses (``n = ρ·H·W·3``), and a noisy
copy of them back into an image.  The sweep engine owns the noise: for each
(image, SNR, realisation) it hands the scheme a unit-variance complex noise vector
``w ∈ C^n`` (see :mod:`simulator.channel`), so all schemes face the same channel.

Lifecycle used by the sweep engine::

    scheme = create_scheme("jscc-t")          # registry
    tx = scheme.encode(image)                 # once per image, SNR independent
    out = scheme.transmit_batch([Transmission(tx, image, w)], snr_db)   # per SNR point
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch


@dataclass
class Transmission:
    """One channel use of a scheme on one image.

    :ivar encoded: what :meth:`Scheme.encode` returned for this image.
    :ivar image: ``[3, H, W]`` float in [0, 1], the source (for fallbacks and shapes only:
        receivers must not look at it).
    :ivar noise: ``[n]`` complex unit-variance noise for this (image, SNR, realisation).
    """

    encoded: Any
    image: torch.Tensor
    noise: torch.Tensor


@dataclass
class Reception:
    """What the receiver made of one transmission.

    :ivar image: ``[3, H, W]`` float in [0, 1], the reconstruction.
    :ivar receiver_s: receiver processing time in seconds (channel output → image).
    :ivar extras: scheme-specific per-image facts (e.g. ``delivered``, ``steps``).
    """

    image: torch.Tensor
    receiver_s: float
    extras: dict[str, Any] = field(default_factory=dict)


class Scheme(abc.ABC):
    """Base class of all schemes.  Subclasses are registered with
    :func:`simulator.registry.register_scheme`.

    :param options: string options parsed from the CLI (``name:key=value:key=value``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: option name → (default, help); unknown options are rejected by :meth:`__init__`.
    options_help: ClassVar[dict[str, tuple[str, str]]] = {}
    #: The scheme's code version: bump it in the same change that alters what the scheme
    #: outputs for the same config and weights.  Recorded in every result row; stored rows of
    #: another version are never reused (see ``docs/results-format.md``).  Rows written
    #: before the field existed count as version 1.
    implementation_version: ClassVar[int] = 1
    #: Options added after result rows were stored: left out of :meth:`config` while at their
    #: default, so those rows keep their config hash (the default must be the old behaviour).
    late_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options_help))
        if unknown:
            accepted = ", ".join(self.options_help) or "none"
            raise ValueError(f"scheme {self.name!r}: unknown option(s) {unknown}; accepted: {accepted}")
        self.options = {k: v[0] for k, v in self.options_help.items()} | options
        self.bandwidth_ratio = float(bandwidth_ratio)

    # --- description -------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that defines this scheme's behaviour (recorded in every result row)."""
        options = {k: v for k, v in self.options.items()
                   if not (k in self.late_options and v == self.options_help[k][0])}
        return {"name": self.name, "bandwidth_ratio": self.bandwidth_ratio, "options": options}

    def checkpoint_hash(self) -> str | None:
        """SHA-256 of the weights used, or ``None`` for schemes without weights."""
        return None

    def versions(self) -> dict[str, str]:
        """Versions of the external codecs/libraries this scheme relies on."""
        return {}

    def channel_uses(self, height: int, width: int) -> int:
        """n, the complex channel uses for one ``H×W`` RGB image: ``round(ρ·H·W·3)``."""
        return int(round(self.bandwidth_ratio * height * width * 3))

    # --- the link -----------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, image: torch.Tensor) -> Any:
        """Transmitter side that does not depend on the SNR (cached per image).

        :param image: ``[3, H, W]`` float in [0, 1].
        """

    @abc.abstractmethod
    def transmit(self, tx: Transmission, snr_db: float) -> Reception:
        """Send one encoded image over AWGN at ``snr_db`` (Es/N0, dB) and reconstruct it."""

    def transmit_batch(self, items: list[Transmission], snr_db: float) -> list[Reception]:
        """Send many images at one SNR.  Override to batch work (e.g. one LDPC decoder call)."""
        return [self.transmit(item, snr_db) for item in items]


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds`` — wall time of a block."""

    def __enter__(self) -> "Stopwatch":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
