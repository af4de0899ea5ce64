"""Fig. 5: the initial similarity score s₁ (empirical, 0, 0.5, 1, random)."""

from __future__ import annotations

from simulator.figures.context import FigureContext
from simulator.figures.curves import (
    ablation_styles,
    gain_points,
    metric_panel,
    sweep_curves,
)
from simulator.figures.output import (
    FigureReport,
    axes_style,
    errorbar,
    figure_paths,
    saved_figure,
    write_csv,
    write_json,
)

__all__ = ['fig5_figure', 'FIG5_VARIANTS']

#: (s₁ mode, scheme spec): the full method (adaptive, α = 1, finetuned decoder) with each s₁.
FIG5_VARIANTS = (("empirical", "ours"), ("0", "ours:s1=0"), ("0.5", "ours:s1=0.5"), ("1", "ours:s1=1"),
                 ("random", "ours:s1=random"))


def fig5_figure(ctx: FigureContext) -> FigureReport:
    snrs = ctx.settings.snrs
    reference = FIG5_VARIANTS[0][1]
    curves = [(base, f"s₁ = {mode}" + (" (eq. 1)" if mode == "empirical" else ""), ctx.spec(base))
              for mode, base in FIG5_VARIANTS]
    data, _, rows_csv, raw = sweep_curves(ctx, "fig5", curves, snrs, None)
    styles = ablation_styles(reference, [base for _, base in FIG5_VARIANTS[1:]])
    for curve in data:
        curve["vs_empirical"] = gain_points(raw[curve["key"]], raw[reference])

    stem = ctx.settings.figure_dir / "fig5"
    with saved_figure(stem, 1, 2, figsize=(11.2, 4.2), constrained_layout=True) as (fig, (ax_psnr, ax_diff)):
        metric_panel(ax_psnr, data, "psnr", styles)
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
