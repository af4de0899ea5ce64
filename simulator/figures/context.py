"""What the figures of one ``semcom-figures`` run share: settings, data set, result store, schemes.

Every figure first sweeps its scheme specs through :func:`simulator.sweep.run_sweep` on the
context's images, which only computes the points missing from the result store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from simulator.checkpoints import CheckpointIntegrityError
from simulator.data import ImageItem, find_dataset, list_images
from simulator.figures.output import FigureError
from simulator.registry import (
    available_aliases,
    available_schemes,
    canonical_spec,
)
from simulator.results import result_path
from simulator.schemes.base import Scheme
from simulator.sweep import ProgressFactory, SweepConfig, build_scheme, run_sweep

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["FigureSettings", "FigureContext", "scheme_spec", "LABELS", "FULL_SNRS", "QUICK_SNRS"]

FULL_SNRS = [float(s) for s in range(-3, 13)]
QUICK_SNRS = [-3.0, 2.0, 7.0, 12.0]

#: registry name → legend label (the paper's names).
LABELS = {
    "ours": "Ours",
    "jscc-t": "JSCC-T",
    "cddm": "CDDM",
    "jscc-t-sa": "JSCC-T-SA",
    "bpg-ldpc-1/2": "BPG+1/2+4Q",
    "bpg-ldpc-3/4": "BPG+3/4+4Q",
    "bpg-capacity": "BPG+capacity",
}


@dataclass
class FigureSettings:
    """What to compute and where to put it; ``None`` fields take the full/quick defaults.

    :ivar out: root of the outputs; figures go to ``out`` (``out/quick`` with ``quick``).
    :ivar config: weights set of the learned schemes (``cpu``, ``paper``, ``tiny``), appended
        to their specs as ``:config=NAME`` unless it is the default ``cpu``.
    :ivar results_dir: the result store; default ``results`` (``out/quick/results`` with ``quick``).
    :ivar snrs: SNR points of Figs. 4–6 (default −3 … 12 dB; quick: −3, 2, 7, 12).
    :ivar limit: only the first N images (quick: 2).
    :ivar fig7_image: image id or file stem for Fig. 7 (default kodim23 if present, else the first).
    :ivar fig7_crop: ``(x, y, size)`` of the zoomed crop; default the most textured window.
    :ivar latency_images: images timed for Table I (default 4; quick: all of ``limit``).
    :ivar latency_repeats: timed rounds (default 3; quick: 1); ``latency_warmup`` untimed first.
    :ivar latency_threads: torch CPU threads while Table I times on the CPU (default 1, as the
        long run and the paper's per-image latency; ``None``: the process's setting).
    :ivar latency_budget: Table I time per (scheme, SNR) and round, as a multiple of the fastest
        scheme's round over all ``latency_images``: a slower one is timed on fewer images per round,
        taken in turn (CDDM: one or two); default 2 (quick: off); 0: off, every image every round
        (see :func:`simulator.latency.measure_receiver_latency`).
    :ivar device: torch device of the learned schemes' sweeps (``cpu``, ``cuda:0`` …; resolved).
    :ivar scheme_options: extra options per registry name (or alias), e.g.
        ``{"bpg-ldpc": {"decoder": "sionna"}}``; see :func:`scheme_spec`.
    """

    out: Path = Path("results/paper")
    quick: bool = False
    config: str = "cpu"
    dataset: str = "kodak"
    data_dir: str | None = None
    results_dir: Path | None = None
    snrs: list[float] | None = None
    limit: int | None = None
    seed: int = 0
    realizations: int = 1
    batch_size: int = 24
    fig7_image: str | None = None
    fig7_snr: float = 0.0
    fig7_crop: tuple[int, int, int] | None = None
    latency_images: int | None = None
    latency_repeats: int | None = None
    latency_warmup: int = 1
    latency_budget: float | None = None
    latency_threads: int | None = 1
    device: str = "cpu"
    scheme_options: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from simulator.models.jscc import JSCC_CONFIGS

        if self.config not in JSCC_CONFIGS:
            raise ValueError(f"bad config {self.config!r}; accepted: {', '.join(JSCC_CONFIGS)}")
        self.out = Path(self.out)
        if self.snrs is None:
            self.snrs = list(QUICK_SNRS if self.quick else FULL_SNRS)
        if self.limit is None and self.quick:
            self.limit = 2
        if self.results_dir is None:
            self.results_dir = self.figure_dir / "results" if self.quick else Path("results")
        self.results_dir = Path(self.results_dir)
        if self.latency_repeats is None:
            self.latency_repeats = 1 if self.quick else 3
        if self.latency_budget is None:
            self.latency_budget = None if self.quick else 2.0
        elif self.latency_budget <= 0:
            self.latency_budget = None
        if self.latency_images is None:
            self.latency_images = (self.limit or 2) if self.quick else 4
        for name in ("latency_repeats", "latency_images", "realizations", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.latency_threads is not None and self.latency_threads < 1:
            raise ValueError(f"latency_threads must be >= 1, got {self.latency_threads}")
        if self.latency_warmup < 0:
            raise ValueError(f"latency_warmup must be >= 0, got {self.latency_warmup}")

    @property
    def figure_dir(self) -> Path:
        return self.out / "quick" if self.quick else self.out


def scheme_spec(base: str, config: str, extra: dict[str, dict[str, str]] | None = None) -> str:
    """The spec a figure sweeps for ``base`` (e.g. ``ours:s1=0``).

    Appends the options in ``extra[name]`` (``name`` = the registry name, or ``bpg-ldpc`` for
    both LDPC rates) that ``base`` does not set itself, then ``:config=NAME`` for schemes that
    take weights, unless ``NAME`` is that scheme's default (so default specs share
    ``simulate``'s result files).
    """
    name, *opts = base.split(":")
    given = {opt.split("=", 1)[0] for opt in opts}
    added = {}
    for key in [*(alias for alias, names in available_aliases().items() if name in names), name]:
        added |= (extra or {}).get(key, {})
    spec = ":".join([base, *(f"{k}={v}" for k, v in added.items() if k not in given)])
    cls = available_schemes().get(name)
    if cls is not None and "config" in cls.options_schema and "config" not in given:
        spec += f":config={config}"
    return canonical_spec(spec)


class FigureContext:
    """The data set, the result store and the schemes shared by the figures of one run."""

    def __init__(self, settings: FigureSettings, progress: ProgressFactory | None = None,
                 executor: Client | None = None) -> None:
        self.settings = settings
        self.progress = progress
        #: where the sweeps run: ``None`` in this process, else a ``distributed.Client`` (docs/cluster.md)
        self.executor = executor
        self.folder = find_dataset(settings.dataset, settings.data_dir)
        self.images: list[ImageItem] = list_images(self.folder, settings.limit)
        self._schemes: dict[str, Scheme | str] = {}

    @property
    def dataset(self) -> str:
        return self.folder.name

    def spec(self, base: str) -> str:
        return scheme_spec(base, self.settings.config, self.settings.scheme_options)

    def scheme(self, spec: str) -> Scheme | str:
        """The scheme of a spec (created once), or why it is unavailable.

        :raises FigureError: its weights fail their SHA-256 check (never silently left out).
        """
        if spec not in self._schemes:
            name = spec.split(":", 1)[0]
            if name not in available_schemes():
                self._schemes[spec] = "not registered (its module is missing or not importable)"
            else:
                try:
                    self._schemes[spec] = build_scheme(spec, self.settings.device)
                except CheckpointIntegrityError as exc:
                    raise FigureError(f"scheme {spec}: {exc}") from exc
                except Exception as exc:  # noqa: BLE001 - any failure makes it unavailable, with the reason
                    self._schemes[spec] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return self._schemes[spec]

    def require(self, spec: str, figure: str) -> Scheme:
        scheme = self.scheme(spec)
        if isinstance(scheme, str):
            raise FigureError(f"{figure}: scheme {spec} unavailable: {scheme}")
        return scheme

    def sweep_config(self, snrs: list[float]) -> SweepConfig:
        s = self.settings
        return SweepConfig(snrs=snrs, dataset=self.dataset, realizations=s.realizations, seed=s.seed,
                           results_dir=s.results_dir, batch_size=s.batch_size, device=s.device)

    def sweep(self, spec: str, snrs: list[float], figure: str) -> list[dict[str, Any]]:
        """Rows of ``spec`` on the figure's images at ``snrs`` (computing only missing points)."""
        return run_sweep(self.require(spec, figure), spec, self.images, self.sweep_config(snrs), progress=self.progress,
                         executor=self.executor)

    def result_file(self, spec: str) -> str:
        return str(result_path(self.settings.results_dir, self.dataset, spec))

    def meta(self, figure: str) -> dict[str, Any]:
        from simulator.training.loop import git_sha

        s = self.settings
        return {"figure": figure, "quick": s.quick, "dataset": self.dataset, "dataset_path": str(self.folder),
                "images": [i.image_id for i in self.images], "n_images": len(self.images), "seed": s.seed,
                "realizations": s.realizations, "config": s.config, "results_dir": str(s.results_dir),
                "git_sha": git_sha(), "torch_threads": torch.get_num_threads(), "bandwidth_ratio": 1 / 16,
                "snr_convention": "Es/N0 per complex channel use (dB)"}
