"""Fig. 4: PSNR and MS-SSIM versus SNR of every scheme, with Ours' paired differences."""

from __future__ import annotations

from simulator.figures.context import LABELS, FigureContext
from simulator.figures.curves import metric_panel, sweep_curves
from simulator.figures.output import (
    FigureReport,
    axes_style,
    errorbar,
    figure_paths,
    saved_figure,
    write_csv,
    write_json,
)
from simulator.results import paired_difference

__all__ = ['fig4_figure', 'FIG4_SCHEMES', 'FIG4_REQUIRED', 'FIG4_REFERENCE', 'FIG4_DIFF_PLOTTED']

FIG4_SCHEMES = ("ours", "jscc-t", "cddm", "jscc-t-sa", "bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity")
FIG4_REQUIRED = ("ours", "jscc-t")
#: Fig. 4's lower panels: Ours minus these schemes (paired); ``fig4.json`` has Ours minus every scheme.
FIG4_REFERENCE = "ours"
FIG4_DIFF_PLOTTED = ("jscc-t", "cddm", "jscc-t-sa")


def fig4_figure(ctx: FigureContext) -> FigureReport:
    from simulator.plot import style_for

    snrs = ctx.settings.snrs
    curves = [(name, LABELS[name], ctx.spec(name)) for name in FIG4_SCHEMES]
    data, missing, rows_csv, raw = sweep_curves(ctx, "fig4", curves, snrs, FIG4_REQUIRED)
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
            metric_panel(axes[0][col], data, metric, styles)
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
               "(c, d) Ours minus JSCC-T, CDDM and JSCC-T-SA, differences paired per image under the same channel noise, "
               "mean over images with 95 % CI (fig4.json: `ours_minus` for every scheme). "
               "Ours = adaptive steps (T_max = 3), empirical s₁, α = 1 denoiser, the decoder of the SNR's band "
               "(phase-3 decoders finetuned on low and mid bands, the phase-1 decoder at high SNR; docs/models.md); "
               "CDDM with its finetuned decoder when shipped (else the JSCC-T decoder, see its config); "
               "JSCC-T-SA = the shipped JSCC-T made SNR-adaptive (SNR modulation at encoder and decoder, finetuned "
               "over −3…12 dB; beyond the paper, left out when its weights are not shipped); "
               "BPG+LDPC+4-QAM in the same n channel uses; BPG+capacity = BPG at the rate of an ideal code.")
    files = figure_paths(stem) + [write_csv(stem.with_suffix(".csv"), rows_csv),
                                  write_json(stem.with_suffix(".json"), ctx.meta("fig4") | {
                  "title": "Fig. 4: reconstruction quality over AWGN", "caption": caption, "snrs": snrs,
                  "reference": FIG4_REFERENCE, "curves": data, "missing": missing})]
    warnings = [f"{spec} left out: {why}" for spec, why in missing.items()]
    return FigureReport("fig4", files, f"{len(data)} curves × {len(snrs)} SNR points, {len(ctx.images)} images", warnings)
