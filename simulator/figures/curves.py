"""Helpers shared by the SNR-sweep figures: summary points, curve styles, swept curves, panels."""

from __future__ import annotations

from typing import Any

from simulator.figures.context import FigureContext
from simulator.figures.output import FigureError, axes_style, errorbar
from simulator.results import SummaryRow, paired_difference, summarize

__all__ = ["summary_point", "ablation_styles", "sweep_curves", "metric_panel", "gain_points"]


def summary_point(s: SummaryRow) -> dict[str, Any]:
    return {"snr_db": s.snr_db, "psnr": s.psnr, "psnr_ci95": s.psnr_ci95, "ms_ssim": s.ms_ssim,
            "ms_ssim_ci95": s.ms_ssim_ci95, "n_images": s.n_images, "n_rows": s.n_rows,
            "receiver_ms": s.receiver_ms, "mean_steps": s.extras.get("steps"),
            **({"delivered": s.delivered} if s.delivered is not None else {})}


#: colours and markers of the non-reference curves of a one-scheme ablation (Figs. 5 and 6).
_ABLATION_COLORS = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink")
_ABLATION_MARKERS = ("v", "D", "s", "^", "P", "*")
_ABLATION_LINESTYLES = ("--", "-.", (0, (5, 1)), ":", (0, (3, 1, 1, 1)), (0, (1, 1)))


def ablation_styles(reference: str, others: list[str]) -> dict[str, dict[str, Any]]:
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


def sweep_curves(ctx: FigureContext, name: str, curves: list[tuple[str, str, str]], snrs: list[float],
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
        points = [summary_point(s) for s in summarize(raw[key])]
        data.append({"key": key, "label": label, "spec": spec, "result_file": ctx.result_file(spec), "points": points})
        rows_csv += [{"curve": key, "label": label, "spec": spec, **p} for p in points]
    return data, missing, rows_csv, raw


def metric_panel(ax: Any, data: list[dict[str, Any]], metric: str, styles: dict[str, dict[str, Any]]) -> None:
    """One panel of ``metric`` against SNR, a curve per entry of ``data``, with its legend."""
    drawn = False
    for curve in data:
        drawn |= errorbar(ax, curve["points"], metric, curve["label"], styles[curve["key"]])
    axes_style(ax, "PSNR (dB)" if metric == "psnr" else "MS-SSIM")
    if drawn:
        ax.legend(fontsize="small", loc="best")
    else:
        ax.text(0.5, 0.5, f"{metric} n/a", ha="center", va="center", transform=ax.transAxes)


def gain_points(rows: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PSNR(rows) − PSNR(base) on the same noise, paired per image: per SNR (ascending) a point
    ``{snr_db, gain, gain_ci95, n_images}`` with the mean and 95 % CI over images."""
    return [{"snr_db": snr, "gain": d.psnr, "gain_ci95": d.psnr_ci95, "n_images": d.n_images}
            for snr, d in paired_difference(rows, base, "base").items()]
