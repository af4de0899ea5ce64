"""What a sweep is asked to do: :class:`SweepConfig`, the SNR spec parser and the progress
callback the engine reports to."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from simulator.channels import AWGNChannel, Channel
from simulator.data import ImageItem
from simulator.schemes.base import Scheme
from simulator.sweep.store import result_path

__all__ = ["SweepConfig", "ProgressBar", "ProgressFactory", "parse_snr_spec", "scheme_config", "dataset_label", "SNR_FORMS"]

SNR_FORMS = "START:STOP (inclusive, step 1), START:STOP:STEP, a comma list A,B,C, or a single value, in dB"


class ProgressBar(Protocol):
    """What the engine needs of a progress bar (``tqdm`` fits)."""

    def update(self, n: int) -> Any: ...

    def close(self) -> Any: ...


#: ``factory(total_items, description) -> ProgressBar``
ProgressFactory = Callable[[int, str], ProgressBar]


@dataclass
class SweepConfig:
    """What to sweep, for every scheme alike.

    :ivar snrs: SNR points, Es/N0 in dB (see :func:`parse_snr_spec`).
    :ivar dataset: data-set label used in the rows and the results path; ``None``:
        :func:`~simulator.sweep.run_sweeps` uses the name of the images' folder (:func:`dataset_label`).
    :ivar realizations: noise realisations per (image, SNR).
    :ivar seed: master seed of the channel noise (common random numbers).
    :ivar results_dir: root of the result files (``<results_dir>/<dataset>/<slug>.jsonl``);
        ``None``: no store — nothing is read or written, every requested point is computed.
    :ivar force: recompute the requested points even if the file already has them.
    :ivar batch_size: at most this many transmissions per ``transmit_batch`` call; images
        are encoded in groups of ``max(1, batch_size // realizations)``.
    :ivar channel: the channel model (default AWGN).  Other channels' rows go to
        ``<results_dir>/<dataset>/<channel tag>/<slug>.jsonl``, carry a ``channel`` field, and
        the channel is part of their ``config`` (and config hash); AWGN rows are unchanged.
    :ivar device: torch device of the learned schemes (``"cpu"``, ``"cuda"``, ``"cuda:1"``); not part
        of the config hash.  With a Dask executor and a device other than CPU, tasks of schemes with
        weights ask their worker for one ``GPU`` resource (see ``docs/cluster.md``).
    """

    snrs: list[float]
    dataset: str | None = None
    realizations: int = 1
    seed: int = 0
    results_dir: Path | None = Path("results")
    force: bool = False
    batch_size: int = 24
    channel: Channel = field(default_factory=AWGNChannel)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.snrs:
            raise ValueError("no SNR point given")
        if self.realizations < 1:
            raise ValueError(f"realizations must be >= 1, got {self.realizations}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        self.snrs = [round(float(s), 6) for s in self.snrs]
        self.results_dir = None if self.results_dir is None else Path(self.results_dir)

    def result_file(self, spec: str) -> Path:
        """The result file of ``spec`` on this data set and channel.

        :raises ValueError: the sweep has no store (``results_dir=None``).
        """
        if self.results_dir is None:
            raise ValueError("this sweep keeps its rows in memory (results_dir=None): it has no result file")
        if self.dataset is None:
            raise ValueError("the sweep's data-set label is not set (dataset=None): see dataset_label")
        folder = Path(self.dataset) / self.channel.tag if self.channel.tag else self.dataset
        return result_path(self.results_dir, str(folder), spec)

    def scheme_config(self, scheme: Scheme) -> dict[str, Any]:
        """``scheme.config()``, plus the channel's config for channels other than AWGN."""
        return scheme_config(scheme, self.channel)


def dataset_label(images: list[ImageItem]) -> str:
    """The name of the folder the images were listed from (``image_id`` is a path relative to it).

    :raises ValueError: no images, or images from folders of different names.
    """
    names = {item.path.parents[len(Path(item.image_id).parts) - 1].name for item in images}
    if len(names) != 1:
        raise ValueError(f"cannot name the data set of images from folders {sorted(names)}; set SweepConfig.dataset")
    return names.pop()


def scheme_config(scheme: Scheme, channel: Channel) -> dict[str, Any]:
    """What a row records as ``config`` (and hashes): ``scheme.config()``, plus the channel's
    config for channels other than AWGN (AWGN rows keep the hashes they always had)."""
    cfg = scheme.config()
    return cfg | {"channel": channel.config()} if channel.tag else cfg


def parse_snr_spec(text: str) -> list[float]:
    """Parse an SNR spec into a list of points in dB (rounded to 1e-6 dB, duplicates dropped).

    ``-3:12`` → -3, -2, …, 12; ``-3:12:0.5`` → -3, -2.5, …, 12; ``0,5,10``; ``7``.

    :raises ValueError: one line naming the accepted forms.
    """

    def bad(reason: str) -> ValueError:
        return ValueError(f"bad SNR spec {text!r}: {reason}; accepted: {SNR_FORMS}")

    def number(part: str) -> float:
        try:
            value = float(part)
        except ValueError:
            raise bad(f"{part.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise bad(f"{part.strip()!r} is not finite")
        return value

    spec = str(text).strip()
    if not spec:
        raise bad("empty")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise bad("a range has 2 or 3 fields")
        start, stop = number(parts[0]), number(parts[1])
        step = number(parts[2]) if len(parts) == 3 else 1.0
        if step <= 0:
            raise bad("the step must be positive")
        if stop < start:
            raise bad("STOP is below START")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 10_000:
            raise bad(f"{count} points is too many")
        values = [start + i * step for i in range(count)]
    else:
        values = [number(part) for part in spec.split(",")]
    return list(dict.fromkeys(round(v, 6) + 0.0 for v in values))
