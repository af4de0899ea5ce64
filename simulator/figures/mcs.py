"""``semcom-figures mcs``: every MCS of the classical link, its envelope and the capacity bound.

Every ``bpg-ldpc:rate=R:qam=M`` of :func:`baselines.bpg_ldpc.mcs_specs` (R ∈ {1/3, 1/2, 2/3,
3/4, 5/6}, M ∈ {4, 16, 64}; the 4-QAM rates 1/2 and 3/4 are the paper's ``bpg-ldpc-1/2`` and
``bpg-ldpc-3/4``) is swept over AWGN on the same channel realisations as the learned schemes.
``bpg-ldpc-best`` is the envelope: at each SNR the MCS with the best mean PSNR over the data
set, the one a transmitter that knows the SNR would pick (:func:`simulator.results.envelope`).
Left panel: PSNR of every MCS (thin; colour = QAM order, line style = rate), the envelope, the
capacity bound ``bpg-capacity`` and the learned schemes; right panel: the spectral efficiency
R·log2(M) of the chosen MCS beside the capacity log2(1 + SNR) (0 where every MCS loses every image).  ``mcs.md`` tabulates the
envelope and its MCS at −3, 2, 7, 12 dB; ``mcs.csv`` / ``mcs.json`` hold every point.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from simulator.figures.output import (
    FigureError,
    FigureReport,
    axes_style,
    errorbar,
    figure_paths,
    saved_figure,
    write_csv,
    write_json,
)
from simulator.results import envelope, summarize
from simulator.sweep import run_sweep

if TYPE_CHECKING:
    from simulator.figures.context import FigureContext

__all__ = ["mcs_figure", "TABLE_SNRS"]

#: SNR columns of ``mcs.md`` (those swept; all swept points if none of these is).
TABLE_SNRS = (-3.0, 2.0, 7.0, 12.0)
#: Context curves drawn beside the MCS family (left out with a warning when unavailable).
_CONTEXT = ("ours", "jscc-t", "bpg-capacity")
_QAM_COLOURS = {4: "tab:blue", 16: "tab:orange", 64: "tab:green"}
_RATE_STYLES = {Fraction(1, 3): ":", Fraction(1, 2): "-", Fraction(2, 3): "--", Fraction(3, 4): "-.",
                Fraction(5, 6): (0, (6, 1.5, 1, 1.5, 1, 1.5))}


def _points(summary: list[Any]) -> list[dict[str, Any]]:
    return [{"snr_db": s.snr_db, "psnr": s.psnr, "psnr_ci95": s.psnr_ci95, "ms_ssim": s.ms_ssim,
             "ms_ssim_ci95": s.ms_ssim_ci95, "delivered": s.delivered, "n_images": s.n_images,
             **({"chosen": s.chosen} if s.chosen else {})} for s in summary]


def _efficiency(point: dict[str, Any]) -> float:
    """R·log2(M) of the chosen MCS; 0 where even the best MCS delivers no image."""
    from baselines.bpg_ldpc import mcs_of

    if point.get("delivered") == 0:
        return 0.0
    rate, qam = mcs_of(point["chosen"])
    return float(rate) * math.log2(qam)


def _table(best: list[dict[str, Any]], capacity: list[dict[str, Any]], snrs: list[float]) -> str:
    from baselines.bpg_ldpc import mcs_of

    columns = [x for x in TABLE_SNRS if x in snrs] or list(snrs)
    by_snr = {p["snr_db"]: p for p in best}
    cap = {p["snr_db"]: p for p in capacity}
    lines = ["| SNR (dB) | `bpg-ldpc-best` PSNR (dB) | chosen MCS | R·log2 M (bit/use) | `bpg-capacity` PSNR (dB) |"
             " log2(1+SNR) |", "| --- | --- | --- | --- | --- | --- |"]
    for x in columns:
        p = by_snr.get(x)
        if p is None:
            continue
        rate, qam = mcs_of(p["chosen"])
        c = cap.get(x, {}).get("psnr")
        chosen = "none: every MCS loses every image" if p.get("delivered") == 0 else \
            f"`{p['chosen']}` (R = {rate}, {qam}-QAM)"
        lines.append(f"| {x:g} | {p['psnr']:.2f} | {chosen} | "
                     f"{_efficiency(p):.2f} | {'n/a' if c is None else f'{c:.2f}'} | "
                     f"{math.log2(1 + 10 ** (x / 10)):.2f} |")
    return "\n".join(lines) + "\n"


def mcs_figure(ctx: FigureContext) -> FigureReport:
    """Sweep (only what is missing) every MCS, and draw the family, its envelope and the bound.

    :raises FigureError: an MCS scheme is unavailable (the context curves are left out with a warning).
    """
    from baselines.bpg_ldpc import mcs_of, mcs_specs
    from simulator.figures.context import LABELS
    from simulator.plot import style_for

    s = ctx.settings
    snrs = list(s.snrs or [])
    config = ctx.sweep_config(snrs)
    family: dict[str, list[Any]] = {}
    for base in mcs_specs():
        spec = ctx.spec(base)
        scheme = ctx.scheme(spec)
        if isinstance(scheme, str):
            raise FigureError(f"mcs: scheme {spec} unavailable: {scheme}")
        family[spec] = summarize(run_sweep(scheme, spec, ctx.images, config, progress=ctx.progress, executor=ctx.executor))
    context: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    for name in _CONTEXT:
        spec = ctx.spec(name)
        scheme = ctx.scheme(spec)
        if isinstance(scheme, str):
            missing[spec] = scheme
            continue
        context[name] = _points(summarize(run_sweep(scheme, spec, ctx.images, config, progress=ctx.progress, executor=ctx.executor)))
    best = _points(envelope([row for rows in family.values() for row in rows], "bpg-ldpc-best", list(family)))
    curves = {spec: _points(rows) for spec, rows in family.items()}

    stem = s.figure_dir / "mcs"
    with saved_figure(stem, 1, 2, figsize=(12.5, 5.2), constrained_layout=True) as (fig, (ax, ax_se)):
        for spec, points in curves.items():
            rate, qam = mcs_of(spec)
            ax.plot([p["snr_db"] for p in points], [p["psnr"] for p in points], color=_QAM_COLOURS[qam],
                    linestyle=_RATE_STYLES[rate], linewidth=0.9, alpha=0.75, label=f"{qam}-QAM R={rate}")
        errorbar(ax, best, "psnr", "BPG+LDPC best MCS", {"color": "black", "linewidth": 2.4, "marker": "o",
                                                           "markersize": 4})
        for name, points in context.items():
            errorbar(ax, points, "psnr", LABELS.get(name, name), style_for(name))
        axes_style(ax, "PSNR (dB)")
        ax.legend(fontsize="x-small", ncol=2, loc="lower right")
        ax.set_title("every MCS of BPG + 5G LDPC + QAM, AWGN", fontsize="medium")
        xs = [p["snr_db"] for p in best]
        ax_se.step(xs, [_efficiency(p) for p in best], where="mid", color="black",
                   label="chosen MCS: R·log2 M (0: nothing delivered)")
        grid = [snrs[0] + i * (snrs[-1] - snrs[0]) / 200 for i in range(201)] if snrs else []
        ax_se.plot(grid, [math.log2(1 + 10 ** (x / 10)) for x in grid], "k--", linewidth=1, label="log2(1+SNR)")
        axes_style(ax_se, "bits per channel use")
        ax_se.legend(fontsize="small", loc="upper left")
        ax_se.set_title("spectral efficiency of the envelope", fontsize="medium")
        fig.suptitle(f"BPG + LDPC, every MCS and its envelope — {ctx.dataset}, {len(ctx.images)} images",
                     fontsize="medium")
    caption = ("PSNR versus SNR (Es/N0, AWGN, ρ = 1/16) of BPG + 5G NR LDPC (50 BP iterations) + Gray QAM at every "
               "rate R ∈ {1/3, 1/2, 2/3, 3/4, 5/6} and order M ∈ {4, 16, 64}, the best of them at each SNR (the MCS a "
               "transmitter that knows the SNR picks, by the mean PSNR over the data set), BPG at the capacity "
               "budget, and the learned schemes; a lost image shows the grey fallback. Right: R·log2(M) of the "
               "chosen MCS against log2(1 + SNR); 0 where every MCS loses every image.")
    meta = ctx.meta("mcs") | {"title": "Every MCS and its envelope", "caption": caption, "snrs": snrs,
                              "mcs": curves, "best": best, "context": context, "missing": missing}
    rows_csv = [{"curve": spec, **p} for spec, points in curves.items() for p in points]
    rows_csv += [{"curve": "bpg-ldpc-best", **p} for p in best]
    rows_csv += [{"curve": name, **p} for name, points in context.items() for p in points]
    table = stem.with_suffix(".md")
    table.write_text(_table(best, context.get("bpg-capacity", []), snrs))
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv), write_json(stem.with_suffix(".json"), meta),
                                  table]
    summary = f"{len(curves)} MCS + envelope + {len(context)} context curves × {len(snrs)} SNR points, {len(ctx.images)} images"
    return FigureReport("mcs", files, summary, [f"{spec} left out: {why}" for spec, why in missing.items()])
