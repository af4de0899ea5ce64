"""``semcom-figures``: the paper's Figs. 4–7 and Table I, computed by the simulator.

Usage::

    semcom-figures fig4|fig5|fig6|fig7|table1|all [--quick] [--out results/paper] [--config cpu]
                   [--dataset kodak | PATH] [--data-dir DIR] [--snr SPEC] [--limit N] ...
    semcom-figures fading --realizations 4     # Fig. 4 under Rayleigh fading (not part of ``all``)
    semcom-figures mcs                         # every MCS of BPG + LDPC and its envelope (not part of ``all``)
    semcom-figures claims                      # the paper's claims checked on the rows (not part of ``all``)

The figures read the same resumable result store as ``simulate``
(``<results-dir>/<dataset>/<scheme-slug>.jsonl``, default ``results/``): every figure first
runs :func:`simulator.sweep.run_sweep` for its scheme specs, which only computes the points
missing from the files.  ``--quick`` (first 2 images, SNR −3, 2, 7, 12 dB, 1 latency repeat)
writes its figures to ``<out>/quick/`` and its rows to a separate store
``<out>/quick/results/`` so that it never mixes with the full runs.

Each figure is written as PNG and PDF together with the CSV and JSON numbers it was drawn
from (see ``docs/figures.md`` for what each shows, and the decoder used per curve).  Library
functions never print; the command line (:mod:`simulator.figures_cli`) prints a short summary
and where the files went.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from simulator.checkpoints import CheckpointIntegrityError
from simulator.data import ImageItem, find_dataset, list_images
from simulator.figure_output import (FigureError, FigureReport, axes_style, errorbar, figure_paths, saved_figure,
                                     write_csv, write_json)
from simulator.figures_claims import claims_figure
from simulator.figures_extra import fig7_figure, table1_figure
from simulator.figures_fading import fading_figure
from simulator.figures_mcs import mcs_figure
from simulator.registry import available_aliases, available_schemes, canonical_spec, create_scheme
from simulator.results import SummaryRow, paired_difference, result_path, summarize
from simulator.schemes.base import Scheme
from simulator.sweep import ProgressFactory, SweepConfig, run_sweep

__all__ = [
    "FIGURES",
    "EXTRA_FIGURES",
    "FigureError",
    "FigureSettings",
    "FigureReport",
    "FigureContext",
    "make_figure",
    "scheme_spec",
]

FIGURES = ("fig4", "fig5", "fig6", "fig7", "table1")
#: figures beyond the paper's, made on request only (not by ``all``).
EXTRA_FIGURES = ("fading", "mcs", "claims")
FULL_SNRS = [float(s) for s in range(-3, 13)]
QUICK_SNRS = [-3.0, 2.0, 7.0, 12.0]

#: registry name → legend label (the paper's names).
LABELS = {
    "ours": "Ours",
    "jscc-t": "JSCC-T",
    "cddm": "CDDM",
    "bpg-ldpc-1/2": "BPG+1/2+4Q",
    "bpg-ldpc-3/4": "BPG+3/4+4Q",
    "bpg-capacity": "BPG+capacity",
}
FIG4_SCHEMES = ("ours", "jscc-t", "cddm", "bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity")
FIG4_REQUIRED = ("ours", "jscc-t")
#: Fig. 4's lower panels: Ours minus these schemes (paired); ``fig4.json`` has Ours minus every scheme.
FIG4_REFERENCE = "ours"
FIG4_DIFF_PLOTTED = ("jscc-t", "cddm")
#: (s₁ mode, scheme spec): the full method (adaptive, α = 1, finetuned decoder) with each s₁.
FIG5_VARIANTS = (("empirical", "ours"), ("0", "ours:s1=0"), ("0.5", "ours:s1=0.5"), ("1", "ours:s1=1"),
                 ("random", "ours:s1=random"))
#: Fig. 6 uses the phase-1 JSCC-T decoder for every curve and for the no-denoising baseline.
FIG6_BASELINE = "ours:steps=0:decoder=jscc"
FIG6_CURVES = (("T = 1", "ours:steps=1:decoder=jscc"), ("T = 2", "ours:steps=2:decoder=jscc"),
               ("T = 3", "ours:steps=3:decoder=jscc"), ("adaptive, m = 0 (paper's rule)", "ours:decoder=jscc:margin=0"),
               ("adaptive (calibrated margin)", "ours:decoder=jscc"))
FIG6_ADAPTIVE = "ours:decoder=jscc"



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
    :ivar latency_images: images timed for Table I (default 8; quick: all of ``limit``).
    :ivar latency_repeats: timed rounds (default 5; quick: 1); ``latency_warmup`` untimed first.
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
            self.latency_repeats = 1 if self.quick else 5
        if self.latency_images is None:
            self.latency_images = (self.limit or 2) if self.quick else 8
        for name in ("latency_repeats", "latency_images", "realizations", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
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

    def __init__(self, settings: FigureSettings, progress: ProgressFactory | None = None) -> None:
        self.settings = settings
        self.progress = progress
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
                    self._schemes[spec] = create_scheme(spec)
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
                           results_dir=s.results_dir, batch_size=s.batch_size)

    def sweep(self, spec: str, snrs: list[float], figure: str) -> list[dict[str, Any]]:
        """Rows of ``spec`` on the figure's images at ``snrs`` (computing only missing points)."""
        return run_sweep(self.require(spec, figure), spec, self.images, self.sweep_config(snrs), progress=self.progress)

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


# --- output helpers ---------------------------------------------------------------------

def _point(s: SummaryRow) -> dict[str, Any]:
    return {"snr_db": s.snr_db, "psnr": s.psnr, "psnr_ci95": s.psnr_ci95, "ms_ssim": s.ms_ssim,
            "ms_ssim_ci95": s.ms_ssim_ci95, "n_images": s.n_images, "n_rows": s.n_rows,
            "receiver_ms": s.receiver_ms, "mean_steps": s.extras.get("steps"),
            **({"delivered": s.delivered} if s.delivered is not None else {})}


#: colours and markers of the non-reference curves of a one-scheme ablation (Figs. 5 and 6).
_ABLATION_COLORS = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink")
_ABLATION_MARKERS = ("v", "D", "s", "^", "P", "*")
_ABLATION_LINESTYLES = ("--", "-.", (0, (5, 1)), ":", (0, (3, 1, 1, 1)), (0, (1, 1)))


def _ablation_styles(reference: str, others: list[str]) -> dict[str, dict[str, Any]]:
    """Styles of one scheme's variants: ``reference`` in Ours' colour with hollow markers (so
    a curve it coincides with stays visible underneath), every other key its own colour,
    marker and line style."""
    from simulator.plot import STYLES

    styles = {reference: {**STYLES["ours"], "markerfacecolor": "none", "markersize": 8, "zorder": 3}}
    for i, key in enumerate(others):
        styles[key] = {"color": _ABLATION_COLORS[i % len(_ABLATION_COLORS)],
                       "marker": _ABLATION_MARKERS[i % len(_ABLATION_MARKERS)],
                       "linestyle": _ABLATION_LINESTYLES[i % len(_ABLATION_LINESTYLES)]}
    return styles


def _sweep_curves(ctx: FigureContext, name: str, curves: list[tuple[str, str, str]], snrs: list[float],
                  required: tuple[str, ...] | None) -> tuple[list[dict[str, Any]], dict[str, str], list[dict[str, Any]],
                                                         dict[str, list[dict[str, Any]]]]:
    """Sweep ``(key, label, spec)`` curves (computing only missing points).

    :returns: ``(curves, missing, csv_rows, rows)``: per available curve its key, label, spec,
        result file and summary points; ``{spec: why}`` of the unavailable ones (an error if
        ``required`` is ``None`` or names them); flat CSV rows; the raw result rows per key.
    """
    data, missing, rows_csv, raw = [], {}, [], {}
    for key, label, spec in curves:
        scheme = ctx.scheme(spec)
        if isinstance(scheme, str):
            if required is None or key in required:
                raise FigureError(f"{name}: scheme {spec} unavailable: {scheme}")
            missing[spec] = scheme
            continue
        raw[key] = ctx.sweep(spec, snrs, name)
        points = [_point(s) for s in summarize(raw[key])]
        data.append({"key": key, "label": label, "spec": spec, "result_file": ctx.result_file(spec), "points": points})
        rows_csv += [{"curve": key, "label": label, "spec": spec, **p} for p in points]
    return data, missing, rows_csv, raw


def _metric_panel(ax: Any, data: list[dict[str, Any]], metric: str, styles: dict[str, dict[str, Any]]) -> None:
    """One panel of ``metric`` against SNR, a curve per entry of ``data``, with its legend."""
    drawn = False
    for curve in data:
        drawn |= errorbar(ax, curve["points"], metric, curve["label"], styles[curve["key"]])
    axes_style(ax, "PSNR (dB)" if metric == "psnr" else "MS-SSIM")
    if drawn:
        ax.legend(fontsize="small", loc="best")
    else:
        ax.text(0.5, 0.5, f"{metric} n/a", ha="center", va="center", transform=ax.transAxes)


def _fig4(ctx: FigureContext) -> FigureReport:
    from simulator.plot import style_for

    snrs = ctx.settings.snrs
    curves = [(name, LABELS[name], ctx.spec(name)) for name in FIG4_SCHEMES]
    data, missing, rows_csv, raw = _sweep_curves(ctx, "fig4", curves, snrs, FIG4_REQUIRED)
    styles = {n: style_for(n) for n in FIG4_SCHEMES}
    for curve in data:
        if curve["key"] != FIG4_REFERENCE:
            diffs = paired_difference(raw[FIG4_REFERENCE], raw[curve["key"]], curve["spec"])
            curve["ours_minus"] = [{"snr_db": snr, "psnr": d.psnr, "psnr_ci95": d.psnr_ci95, "ms_ssim": d.ms_ssim,
                                    "ms_ssim_ci95": d.ms_ssim_ci95, "n_images": d.n_images} for snr, d in diffs.items()]
    minus = {(c["key"], p["snr_db"]): p for c in data for p in c.get("ours_minus", [])}
    rows_csv = [r | {f"ours_minus_{k}": minus.get((r["curve"], r["snr_db"]), {}).get(k)
                     for k in ("psnr", "psnr_ci95", "ms_ssim", "ms_ssim_ci95")} for r in rows_csv]

    stem = ctx.settings.figure_dir / "fig4"
    with saved_figure(stem, 2, 2, figsize=(11.2, 7.6), constrained_layout=True,
                      gridspec_kw={"height_ratios": [3, 2]}) as (fig, axes):
        for col, (metric, name) in enumerate((("psnr", "PSNR"), ("ms_ssim", "MS-SSIM"))):
            _metric_panel(axes[0][col], data, metric, styles)
            axes[0][col].set_title(f"({'ab'[col]}) {name} versus SNR (95 % CI over images)", fontsize="medium")
            ax = axes[1][col]
            ax.axhline(0.0, color=styles[FIG4_REFERENCE]["color"], linewidth=1.0)
            for curve in data:
                if curve["key"] in FIG4_DIFF_PLOTTED:
                    errorbar(ax, curve["ours_minus"], metric, f"Ours − {curve['label']}", styles[curve["key"]])
            axes_style(ax, f"Ours − scheme, {name}" + (" (dB)" if metric == "psnr" else ""))
            ax.set_title(f"({'cd'[col]}) paired difference (same image and noise), 95 % CI", fontsize="medium")
            ax.legend(fontsize="small", loc="best")
        fig.suptitle(f"Fig. 4: reconstruction quality over AWGN — {ctx.dataset}, {len(ctx.images)} images",
                     fontsize="medium")
    caption = ("Fig. 4: (a) PSNR and (b) MS-SSIM versus SNR over AWGN, ρ = 1/16, mean over images with 95 % CI; "
               "(c, d) Ours minus JSCC-T and minus CDDM, differences paired per image under the same channel noise, "
               "mean over images with 95 % CI (fig4.json: `ours_minus` for every scheme). "
               "Ours = adaptive steps (T_max = 3), empirical s₁, α = 1 denoiser, phase-3 finetuned decoder; "
               "CDDM with its finetuned decoder when shipped (else the JSCC-T decoder, see its config); "
               "BPG+LDPC+4-QAM in the same n channel uses; BPG+capacity = BPG at the rate of an ideal code.")
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv),
                                  write_json(stem.with_suffix(".json"), ctx.meta("fig4") | {
                  "title": "Fig. 4: reconstruction quality over AWGN", "caption": caption, "snrs": snrs,
                  "reference": FIG4_REFERENCE, "curves": data, "missing": missing})]
    warnings = [f"{spec} left out: {why}" for spec, why in missing.items()]
    return FigureReport("fig4", files, f"{len(data)} curves × {len(snrs)} SNR points, {len(ctx.images)} images", warnings)


def _gain_points(rows: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PSNR(rows) − PSNR(base) on the same noise, paired per image: per SNR (ascending) a point
    ``{snr_db, gain, gain_ci95, n_images}`` with the mean and 95 % CI over images."""
    return [{"snr_db": snr, "gain": d.psnr, "gain_ci95": d.psnr_ci95, "n_images": d.n_images}
            for snr, d in paired_difference(rows, base, "base").items()]


def _fig5(ctx: FigureContext) -> FigureReport:
    snrs = ctx.settings.snrs
    reference = FIG5_VARIANTS[0][1]
    curves = [(base, f"s₁ = {mode}" + (" (eq. 1)" if mode == "empirical" else ""), ctx.spec(base))
              for mode, base in FIG5_VARIANTS]
    data, _, rows_csv, raw = _sweep_curves(ctx, "fig5", curves, snrs, None)
    styles = _ablation_styles(reference, [base for _, base in FIG5_VARIANTS[1:]])
    for curve in data:
        curve["vs_empirical"] = _gain_points(raw[curve["key"]], raw[reference])

    stem = ctx.settings.figure_dir / "fig5"
    with saved_figure(stem, 1, 2, figsize=(11.2, 4.2), constrained_layout=True) as (fig, (ax_psnr, ax_diff)):
        _metric_panel(ax_psnr, data, "psnr", styles)
        ax_psnr.set_title("(a) PSNR versus SNR (95 % CI over images)", fontsize="medium")
        ax_diff.axhline(0.0, color=styles[reference]["color"], linewidth=1.2, label="s₁ = empirical (eq. 1)")
        for curve in data[1:]:
            errorbar(ax_diff, curve["vs_empirical"], "gain", curve["label"], styles[curve["key"]])
        axes_style(ax_diff, "PSNR − PSNR(empirical s₁) (dB)")
        ax_diff.set_title("(b) difference to empirical s₁ (paired over images, 95 % CI)", fontsize="medium")
        ax_diff.legend(fontsize="small", loc="best")
        fig.suptitle(f"Fig. 5: initial similarity score s₁ — {ctx.dataset}, {len(ctx.images)} images", fontsize="medium")
    caption = ("Fig. 5: (a) PSNR versus SNR of Ours (adaptive steps, α = 1, phase-3 finetuned decoder) with the "
               "initial similarity score s₁ = empirical (eq. 1), 0, 0.5, 1, or uniform in [0, 1] (random, seeded by "
               "the channel realisation), mean over images with 95 % CI; (b) each variant's PSNR minus that of the "
               "empirical s₁, per-image paired differences under the same channel noise, mean with 95 % CI.")
    diffs = {curve["key"]: {p["snr_db"]: p["gain"] for p in curve["vs_empirical"]} for curve in data}
    rows_csv = [r | {"psnr_minus_empirical": diffs[r["curve"]].get(r["snr_db"])} for r in rows_csv]
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv),
                                  write_json(stem.with_suffix(".json"), ctx.meta("fig5") | {
                  "title": "Fig. 5: initial similarity score s₁", "caption": caption, "snrs": snrs,
                  "reference": reference, "curves": data, "missing": {}})]
    return FigureReport("fig5", files, f"{len(data)} curves × {len(snrs)} SNR points, {len(ctx.images)} images")


def _fig6(ctx: FigureContext) -> FigureReport:
    snrs = ctx.settings.snrs
    base_spec = ctx.spec(FIG6_BASELINE)
    base_rows = ctx.sweep(base_spec, snrs, "fig6")
    base_psnr = {s.snr_db: s.psnr for s in summarize(base_rows)}
    styles = _ablation_styles(FIG6_ADAPTIVE, [spec for _, spec in FIG6_CURVES if spec != FIG6_ADAPTIVE])
    data, rows_csv = [], []
    for label, base in FIG6_CURVES:
        spec = ctx.spec(base)
        rows = ctx.sweep(spec, snrs, "fig6")
        by_snr = {s.snr_db: s for s in summarize(rows)}
        points = [{"snr_db": p["snr_db"], "gain_db": p["gain"], "gain_ci95": p["gain_ci95"], "n_images": p["n_images"],
                   "psnr": by_snr[p["snr_db"]].psnr, "baseline_psnr": base_psnr.get(p["snr_db"]),
                   "mean_steps": by_snr[p["snr_db"]].extras.get("steps")} for p in _gain_points(rows, base_rows)]
        data.append({"label": label, "spec": spec, "result_file": ctx.result_file(spec), "points": points})
        rows_csv += [{"curve": label, "spec": spec, **p} for p in points]

    stem = ctx.settings.figure_dir / "fig6"
    with saved_figure(stem, 2, 1, figsize=(6.4, 5.6), sharex=True, constrained_layout=True,
                      gridspec_kw={"height_ratios": [3, 1]}) as (fig, (ax, ax_steps)):
        ax.axhline(0.0, color="black", linewidth=0.8, label="no denoising (T = 0)")
        for (label, base), curve in zip(FIG6_CURVES, data):
            pts = [{"snr_db": p["snr_db"], "gain": p["gain_db"], "gain_ci95": p["gain_ci95"]} for p in curve["points"]]
            errorbar(ax, pts, "gain", label, styles[base])
            if label.startswith("adaptive"):
                steps = [(p["snr_db"], p["mean_steps"]) for p in curve["points"] if p["mean_steps"] is not None]
                if steps:
                    ax_steps.plot(*zip(*steps), **{k: v for k, v in styles[base].items() if k != "zorder"})
                if steps and base == FIG6_ADAPTIVE:
                    for x, n in steps:
                        ax_steps.annotate(f"{n:.2f}", (x, n), textcoords="offset points",
                                          xytext=(0, -12 if n > 1.5 else 6),
                                          ha="center", fontsize=6.5, color=styles[base]["color"])
        ax.set_ylabel("PSNR gain over no denoising (dB)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
        ax.set_title(f"Fig. 6: denoising steps (T_max = 3) — {ctx.dataset}, {len(ctx.images)} images\n"
                     "decoder: phase-1 JSCC-T for all curves", fontsize="medium")
        axes_style(ax_steps, "adaptive steps")
        ax_steps.set_ylim(-0.4, 3.4)
        ax_steps.set_yticks([0, 1, 2, 3])
    caption = ("Fig. 6: PSNR gain over no denoising versus SNR for fixed T = 1, 2, 3 steps and adaptive steps "
               "(T_max = 3): the paper's rule (stop when the predicted SS decreases, margin m = 0) and the margin "
               "calibrated on validation images (stop when a step's predicted gain is below m dB). Every curve and the baseline (steps = 0) use the "
               "phase-1 JSCC-T decoder (decoder=jscc), so the baseline is exactly JSCC-T and the gain isolates the "
               "denoiser. Gains are per-image paired differences under the same channel noise, mean over images "
               "with 95 % CI; the lower panel gives the mean number of steps each adaptive rule took.")
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv),
                                  write_json(stem.with_suffix(".json"), ctx.meta("fig6") | {
                  "title": "Fig. 6: PSNR gain over no denoising", "caption": caption, "decoder": "jscc",
                  "snrs": snrs, "baseline": {"spec": base_spec, "result_file": ctx.result_file(base_spec),
                                             "psnr": [{"snr_db": k, "psnr": v} for k, v in base_psnr.items()]},
                  "curves": data, "missing": {}})]
    return FigureReport("fig6", files, f"{len(data)} curves × {len(snrs)} SNR points, {len(ctx.images)} images, decoder=jscc")


_MAKERS: dict[str, Callable[[FigureContext], FigureReport]] = {
    "fig4": _fig4, "fig5": _fig5, "fig6": _fig6, "fig7": fig7_figure, "table1": table1_figure,
    "fading": fading_figure, "mcs": mcs_figure, "claims": claims_figure,
}


def make_figure(name: str, ctx: FigureContext) -> FigureReport:
    """Compute (sweeping what is missing) and write one figure or table.

    :raises FigureError: a scheme the figure needs is unavailable, or a named image is missing.
    :raises simulator.data.DataError: an image cannot be read.
    :raises simulator.results.ResultsError: a result file is corrupt.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown figure {name!r}; accepted: {', '.join((*FIGURES, *EXTRA_FIGURES))}, all")
    return _MAKERS[name](ctx)
