"""The one contract every transmission scheme implements.

A scheme's transmitter turns an image into ``n`` complex channel symbols (``n = ρ·H·W·3``,
Es = 1); its receiver turns the channel output back into an image.  The scheme never touches
the channel: the sweep engine draws the realisation (gains h and noise w) for each
(image, SNR, realisation) from a :class:`simulator.channels.Channel`, the channel module
applies it to the symbols, and the receiver gets the output with what a receiver knows
(h and N0, a :class:`simulator.channels.ChannelOutput`).  So all schemes face the same
channel, and a new channel needs no scheme change.

Lifecycle used by the sweep engine::

    scheme = create_scheme("jscc-t")          # registry
    enc = scheme.encode(image)                # once per image, SNR independent
    real = channel.realise(n, seed, image_id, snr_db, r)               # per SNR point
    out = scheme.transmit_batch([Transmission(enc, image, real)])
    #   = scheme.receive_batch([(tx, real.apply(scheme.symbols(enc)))])
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from simulator.channels import ChannelOutput, Realisation
from simulator.devices import synchronize
from simulator.options import Option, parse_options


@dataclass
class Transmission:
    """One channel use of a scheme on one image.

    :ivar encoded: what :meth:`Scheme.encode` returned for this image.
    :ivar image: ``[3, H, W]`` float in [0, 1], the source (for fallbacks and shapes only:
        receivers must not look at it).
    :ivar channel: the channel realisation (h, w, SNR) for this (image, SNR, realisation).
    """

    encoded: Any
    image: torch.Tensor
    channel: Realisation


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

    :param options: string options from the CLI spec (``name:key=value:key=value``), checked
        against :attr:`options_schema`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: option name → its typed declaration (:class:`simulator.options.Option`); parsed once
    #: by :meth:`__init__` (unknown options and bad values are one-line ``ValueError``\ s).
    options_schema: ClassVar[dict[str, Option]] = {}
    #: The scheme's code version: bump it in the same change that alters what the scheme
    #: outputs for the same config and weights.  Recorded in every result row; stored rows of
    #: another version are never reused (see ``docs/results-format.md``).  Rows written
    #: before the field existed count as version 1.
    implementation_version: ClassVar[int] = 1
    #: Options added after result rows were stored: left out of :meth:`config` while at their
    #: default, so those rows keep their config hash (the default must be the old behaviour).
    late_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        #: canonical text of every option (defaults included): what :meth:`config` records.
        self.options: dict[str, str]
        #: the typed value of every option, same keys.
        self.values: dict[str, Any]
        self.options, self.values = parse_options(self.name, self.options_schema, dict(options or {}))
        self.bandwidth_ratio = float(bandwidth_ratio)

    @classmethod
    def named_variant(cls, options: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        """Another registered scheme that *is* this one with these (canonical) options, and the
        options left for it — e.g. ``bpg-ldpc:rate=1/2:qam=4`` is ``bpg-ldpc-1/2`` — so that one
        configuration has one spec and one result file; ``None`` when there is none."""
        return None

    # --- description -------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that defines this scheme's behaviour (recorded in every result row)."""
        options = {k: v for k, v in self.options.items()
                   if not (k in self.late_options and v == self.options_schema[k].default)}
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
    def symbols(self, encoded: Any) -> torch.Tensor:
        """The transmitter's channel input for one encoded image: ``[n]`` complex64, Es = 1,
        or ``[0]`` when nothing is sent (the receiver then gets only the CSI)."""

    @abc.abstractmethod
    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        """The receiver: channel output ``rx`` (y, h, N0) → image.  ``tx`` is for
        ``tx.encoded``'s side information (shapes, a genie CRC) only, never ``tx.channel``."""

    def receive_batch(self, items: list[tuple[Transmission, ChannelOutput]]) -> list[Reception]:
        """Receive many transmissions.  Override to batch work (e.g. one LDPC decoder call)."""
        return [self.receive(tx, rx) for tx, rx in items]

    def transmit_batch(self, items: list[Transmission]) -> list[Reception]:
        """The link for many images: transmitter, channel (:meth:`Realisation.apply`), receiver."""
        return self.receive_batch([(tx, tx.channel.apply(self.symbols(tx.encoded))) for tx in items])

    def transmit(self, tx: Transmission) -> Reception:
        """The link for one image (see :meth:`transmit_batch`)."""
        return self.transmit_batch([tx])[0]


class Stopwatch:
    """``with Stopwatch(device) as sw: ...; sw.seconds`` — wall time of a block, with ``device``
    synchronised at both ends (on CUDA, kernel launches return before the work is done; on the
    CPU, the default, nothing to wait for)."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    def __enter__(self) -> "Stopwatch":
        synchronize(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._t0
