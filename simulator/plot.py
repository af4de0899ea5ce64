"""PSNR-vs-SNR and MS-SSIM-vs-SNR curves, drawn from result files only.

Usage::

    python -m simulator.plot results/kodak/*.jsonl -o results/kodak/psnr_msssim.png

writes the PNG and a PDF beside it.  Each scheme keeps one style in every figure
(:data:`STYLES`); error bars are the 95 % confidence intervals over images.  Only the
rows of the configuration written last for each scheme are drawn
(:func:`simulator.results.latest_config_rows`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from simulator.results import ResultsError, SummaryRow, dedupe_rows, latest_config_rows, read_rows, summarize  # noqa: E402

__all__ = ["STYLES", "style_for", "collect_result_files", "plot_summary", "plot_results", "main"]

#: scheme name → matplotlib line style keywords.  One style per scheme, in every figure.
STYLES: dict[str, dict[str, Any]] = {
    "ours": {"color": "tab:red", "linestyle": "-", "marker": "o"},
    "jscc-t": {"color": "tab:blue", "linestyle": "-", "marker": "s"},
    "cddm": {"color": "tab:green", "linestyle": "-", "marker": "^"},
    "jscc-t-sa": {"color": "tab:purple", "linestyle": "-", "marker": "D"},
    "bpg-ldpc-1/2": {"color": "black", "linestyle": "--", "marker": "x"},
    "bpg-ldpc-3/4": {"color": "gray", "linestyle": "--", "marker": "+"},
    "bpg-capacity": {"color": "black", "linestyle": ":", "marker": None},
}
_FALLBACK_COLORS = ("tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
_FALLBACK_MARKERS = ("D", "v", "P", "*", "<", ">")
_VARIANT_LINESTYLES = ("-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))


def style_for(spec: str, known: list[str] | None = None) -> dict[str, Any]:
    """The line style of a scheme spec.

    A registered name in :data:`STYLES` gets its fixed style; a variant with options
    (``ours:steps=2``) keeps its scheme's colour and marker with another line style; any
    other scheme takes the next fallback colour/marker in the order of ``known``.
    """
    name = spec.split(":", 1)[0]
    known = known or [spec]
    if spec in STYLES:
        return dict(STYLES[spec])
    if name in STYLES:
        variants = [s for s in known if s.split(":", 1)[0] == name and s != name]
        index = variants.index(spec) if spec in variants else 0
        return STYLES[name] | {"linestyle": _VARIANT_LINESTYLES[index % len(_VARIANT_LINESTYLES)]}
    others = [s for s in known if s.split(":", 1)[0] not in STYLES]
    index = others.index(spec) if spec in others else 0
    return {
        "color": _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)],
        "linestyle": "-",
        "marker": _FALLBACK_MARKERS[index % len(_FALLBACK_MARKERS)],
    }


def collect_result_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Result files named directly or found (``*.jsonl``) in the given folders."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.jsonl")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no result file or folder {p}")
    if not files:
        raise FileNotFoundError(f"no *.jsonl result files in {', '.join(map(str, paths))}")
    return list(dict.fromkeys(files))


def draw_errorbar(ax: Any, points: list[tuple[float, float | None, float | None]], label: str,
                  style: dict[str, Any]) -> bool:
    """Draw (snr_db, value, ci95) points as one error-bar curve, skipping non-finite values;
    False if nothing was drawn."""
    points = [(x, y, e) for x, y, e in points if y is not None and math.isfinite(y)]
    if not points:
        return False
    xs, ys, es = zip(*points)
    yerr = [e if e is not None and math.isfinite(e) else 0.0 for e in es]
    ax.errorbar(xs, ys, yerr=yerr, label=label, **({"capsize": 3, "markersize": 5, "linewidth": 1.5} | style))
    return True


def _errorbar(ax: Any, summary: list[SummaryRow], metric: str, label: str, style: dict[str, Any]) -> bool:
    points = [(s.snr_db, getattr(s, metric), getattr(s, f"{metric}_ci95")) for s in summary]
    return draw_errorbar(ax, points, label, style)


def plot_summary(summary: list[SummaryRow], out: str | os.PathLike, *, title: str | None = None) -> list[Path]:
    """Draw PSNR and MS-SSIM against SNR (two panels) and save ``out`` (PNG) and a PDF.

    :returns: the written files.
    """
    out = Path(out)
    curves: dict[tuple[str, str], list[SummaryRow]] = {}
    for s in summary:
        curves.setdefault((s.scheme, s.dataset), []).append(s)
    datasets = {d for _, d in curves}
    known = list(dict.fromkeys(spec for spec, _ in curves))
    fig, (ax_psnr, ax_ssim) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    try:
        any_ssim = False
        for (spec, dataset), rows in curves.items():
            style = style_for(spec, known)
            label = spec if len(datasets) == 1 else f"{spec} ({dataset})"
            _errorbar(ax_psnr, rows, "psnr", label, style)
            any_ssim |= _errorbar(ax_ssim, rows, "ms_ssim", label, style)
        for ax, ylabel in ((ax_psnr, "PSNR (dB)"), (ax_ssim, "MS-SSIM")):
            ax.set_xlabel("SNR, Es/N0 per complex channel use (dB)")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
        ax_psnr.legend(loc="lower right", fontsize="small")
        if not any_ssim:
            ax_ssim.text(0.5, 0.5, "MS-SSIM n/a\n(images ≤ 160 px)", ha="center", va="center", transform=ax_ssim.transAxes)
        fig.suptitle(title or f"{', '.join(sorted(datasets))}: mean over images, 95 % CI")
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [out if out.suffix.lower() == ".png" else out.with_suffix(".png"), out.with_suffix(".pdf")]
        for path in written:
            fig.savefig(path, dpi=150)
    finally:
        plt.close(fig)
    return written


def plot_results(files: list[str | os.PathLike], out: str | os.PathLike, *, title: str | None = None) -> list[Path]:
    """Read result files (or folders of them) and plot them, see :func:`plot_summary`.

    :raises FileNotFoundError: a named file or folder does not exist, or holds no results.
    :raises simulator.results.ResultsError: a result file is corrupt.
    """
    rows = []
    for path in collect_result_files(files):
        rows.extend(latest_config_rows(dedupe_rows(read_rows(path))))
    if not rows:
        raise FileNotFoundError(f"the result files hold no rows: {', '.join(map(str, files))}")
    return plot_summary(summarize(rows), out, title=title)


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.plot RESULT_FILES... -o out.png``."""
    parser = argparse.ArgumentParser(prog="python -m simulator.plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="result files (*.jsonl) or folders holding them")
    parser.add_argument("-o", "--output", required=True, help="output PNG (a PDF is written beside it)")
    parser.add_argument("--title", help="figure title")
    args = parser.parse_args(argv)
    try:
        written = plot_results(args.files, args.output, title=args.title)
    except (FileNotFoundError, ResultsError) as exc:
        print(f"plot: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
