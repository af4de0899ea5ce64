"""``semcom-figures fading``: Fig. 4 under Rayleigh fading (block and fast), with delivered fractions.

For each channel of :data:`FADING_CHANNELS` every scheme of Fig. 4 is swept on the same channel
realisations (one h per image for ``rayleigh-block``, one per channel use for ``rayleigh-fast``;
see :mod:`simulator.channels`), ``--realizations`` draws per image and SNR.  The figure has one
column per channel and three rows: PSNR, MS-SSIM (mean over images, each image first averaged
over its realisations, 95 % CI), and the fraction of transmissions delivered (the classical
links and the bound; a lost image shows the grey fallback and counts in the means); the numbers
go to ``fading.csv`` / ``fading.json`` and, at −3, 2, 7, 12 dB, to the table ``fading.md``.  The
capacity bound is BPG at the budget of each image's own realisation, Σ log2(1 + |h_i|²·SNR):
the outage-aware bound for block fading (log2(1 + |h|²·SNR) bits per use for that image's h),
about the ergodic capacity for fast fading.  Rows live in
``<results-dir>/<dataset>/<channel>/<scheme>.jsonl``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from simulator.channels import make_channel
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
from simulator.results import summarize
from simulator.sweep import run_sweep

if TYPE_CHECKING:
    from simulator.figures.context import FigureContext

__all__ = ["FADING_CHANNELS", "TABLE_SNRS", "fading_figure", "markdown_table"]

#: The channels of the figure, one column each (``rayleigh-block``: one block per image).
FADING_CHANNELS = ("rayleigh-block", "rayleigh-fast")
_TITLES = {"rayleigh-block": "block fading (one h per image)", "rayleigh-fast": "fast fading (one h per use)"}
_ROWS = (("psnr", "PSNR (dB)"), ("ms_ssim", "MS-SSIM"), ("delivered", "delivered fraction"))
#: SNR columns of the markdown table (those swept; all swept points if none of these is).
TABLE_SNRS = (-3.0, 2.0, 7.0, 12.0)


def _points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"snr_db": s.snr_db, "psnr": s.psnr, "psnr_ci95": s.psnr_ci95, "ms_ssim": s.ms_ssim,
             "ms_ssim_ci95": s.ms_ssim_ci95, "delivered": s.delivered, "n_images": s.n_images, "n_rows": s.n_rows,
             "receiver_ms": s.receiver_ms, "mean_steps": s.extras.get("steps"),
             "effective_snr_db": s.extras.get("effective_snr_db")} for s in summarize(rows)]


def _cell(p: dict[str, Any]) -> str:
    text = f"{p['psnr']:.2f}" + (f" / {p['ms_ssim']:.3f}" if p.get("ms_ssim") is not None else "")
    return text + (f", {100 * p['delivered']:.0f}% delivered" if p.get("delivered") is not None else "")


def markdown_table(data: dict[str, list[dict[str, Any]]], snrs: list[float]) -> str:
    """Mean PSNR (dB) / MS-SSIM (and delivered fraction) per channel, scheme and SNR, as markdown."""
    columns = [x for x in TABLE_SNRS if x in snrs] or list(snrs)
    lines = []
    for channel_name, curves in data.items():
        lines += [f"**{channel_name}** — mean PSNR (dB) / MS-SSIM", "",
                  "| scheme | " + " | ".join(f"{x:g} dB" for x in columns) + " |",
                  "| --- |" + " --- |" * len(columns)]
        for curve in curves:
            by_snr = {p["snr_db"]: p for p in curve["points"]}
            cells = [_cell(by_snr[x]) if x in by_snr else "n/a" for x in columns]
            lines.append(f"| `{curve['key']}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def fading_figure(ctx: FigureContext) -> FigureReport:
    """Sweep (only what is missing) and draw Fig. 4 under block and fast Rayleigh fading.

    :raises FigureError: ``ours`` or ``jscc-t`` is unavailable (other schemes are left out with a warning).
    """
    from simulator.figures.context import LABELS
    from simulator.figures.fig4 import FIG4_REQUIRED, FIG4_SCHEMES
    from simulator.plot import style_for

    s = ctx.settings
    snrs = list(s.snrs or [])
    data: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    rows_csv: list[dict[str, Any]] = []
    for channel_name in FADING_CHANNELS:
        channel = make_channel(channel_name)
        config = dataclasses.replace(ctx.sweep_config(snrs), channel=channel)
        data[channel_name] = []
        for name in FIG4_SCHEMES:
            spec = ctx.spec(name)
            scheme = ctx.scheme(spec)
            if isinstance(scheme, str):
                if name in FIG4_REQUIRED:
                    raise FigureError(f"fading: scheme {spec} unavailable: {scheme}")
                missing[spec] = scheme
                continue
            points = _points(run_sweep(scheme, spec, ctx.images, config, progress=ctx.progress, executor=ctx.executor))
            data[channel_name].append({"key": name, "label": LABELS[name], "spec": spec,
                                       "result_file": str(config.result_file(spec)), "points": points})
            rows_csv += [{"channel": channel_name, "curve": name, "label": LABELS[name], "spec": spec, **p}
                         for p in points]

    stem = s.figure_dir / "fading"
    with saved_figure(stem, len(_ROWS), len(FADING_CHANNELS), figsize=(11.2, 11.0), sharex=True,
                      constrained_layout=True, squeeze=False) as (fig, axes):
        for col, channel_name in enumerate(FADING_CHANNELS):
            for row, (metric, ylabel) in enumerate(_ROWS):
                ax = axes[row][col]
                drawn = False
                for curve in data[channel_name]:
                    pts = [p for p in curve["points"] if p.get(metric) is not None]
                    drawn |= errorbar(ax, pts, metric, curve["label"], style_for(curve["key"]))
                axes_style(ax, ylabel)
                if metric == "delivered":
                    ax.set_ylim(-0.05, 1.05)
                if drawn and metric != "ms_ssim":
                    ax.legend(fontsize="small", loc="best")
                if row == 0:
                    ax.set_title(f"{channel_name}: {_TITLES[channel_name]}", fontsize="medium")
        fig.suptitle(f"Fig. 4 under Rayleigh fading — {ctx.dataset}, {len(ctx.images)} images × "
                     f"{s.realizations} realisations", fontsize="medium")
    caption = ("PSNR, MS-SSIM and delivered fraction versus average SNR (Es/N0) under Rayleigh block fading "
               "(one h ~ CN(0,1) per image) and fast fading (one h per channel use), ρ = 1/16, perfect CSI at the "
               "receiver; every scheme faces the same (h, noise) per (image, SNR, realisation), and an image keeps "
               "its h across SNR points. Learned schemes (shipped AWGN-trained weights) get the MMSE-equalised "
               "latent y·h*/(|h|²+N0), their denoisers are conditioned on the effective SNR Ā/(1−Ā), Ā = mean "
               "|h|²/(|h|²+N0). BPG+LDPC demaps y/h with noise N0/|h|² (exact LLRs); an image is lost (grey "
               "fallback) when any code block fails. BPG+capacity: BPG at Σ log2(1+|h_i|²·SNR) bits for the "
               "image's own realisation (outage-aware bound for block fading). Means over images of the "
               "per-image mean over realisations, 95 % CI.")
    meta = ctx.meta("fading") | {"title": "Fig. 4 under Rayleigh fading", "caption": caption, "snrs": snrs,
                                 "channels": {name: make_channel(name).config() for name in FADING_CHANNELS},
                                 "curves": data, "missing": missing}
    table = stem.with_suffix(".md")
    table.write_text(markdown_table(data, snrs))
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv), write_json(stem.with_suffix(".json"), meta),
                                  table]
    n_curves = len(data[FADING_CHANNELS[0]])
    summary = (f"{len(FADING_CHANNELS)} channels × {n_curves} curves × {len(snrs)} SNR points, {len(ctx.images)} images "
               f"× {s.realizations} realisations")
    return FigureReport("fading", files, summary, [f"{spec} left out: {why}" for spec, why in missing.items()])
