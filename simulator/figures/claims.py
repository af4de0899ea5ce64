"""``semcom-figures claims``: the paper's claims (and the codec target) checked on swept rows.

The letter claims that the denoised link ("ours") beats separate coding where the classical
link delivers, beats CDDM at low SNR, gains several dB over JSCC-T at low SNR and costs
nothing at high SNR.  Each claim is a paired comparison on the same images and channel noise
(:func:`simulator.results.paired_difference`: mean over images of the per-image difference,
with a 95 % Student-t half-width), or, for the codec itself, the mean PSNR of JSCC-T.  A claim
*holds* at an SNR when the mean meets the threshold; the CI is printed beside it so a reader
sees whether it holds clearly.  Thresholds are those of issues 10 and 23 (the paper's figure in
brackets).  Run it on Kodak24 and on a second set of natural photos the codec never saw::

    semcom-figures claims
    semcom-figures claims --dataset train/bsds500/test --limit 24

Writes ``claims.md`` (a table), ``claims.csv`` and ``claims.json``; sweeps only missing points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.figures.output import FigureReport, write_csv, write_json
from simulator.results import paired_difference, summarize

if TYPE_CHECKING:
    from simulator.figures.context import FigureContext

__all__ = ["Claim", "CLAIMS", "claims_figure"]


@dataclass(frozen=True)
class Claim:
    """One check: ``spec`` (minus ``reference`` when given) ≥ ``threshold`` dB at ``snrs``.

    ``snrs`` empty means every swept SNR; ``reference`` ``None`` means the absolute PSNR of
    ``spec``.  ``paper`` is what the letter reports for it (text, for the table).
    """

    name: str
    spec: str
    reference: str | None
    threshold: float
    snrs: tuple[float, ...]
    paper: str


CLAIMS = (
    Claim("JSCC-T codec quality", "jscc-t", None, 31.5, (12.0,), "published Swin-JSCC ≈ 34 dB"),
    Claim("ours ≥ BPG + LDPC-3/4 + 4-QAM", "ours", "bpg-ldpc-3/4", 0.0, (7.0, 12.0), "ours above (Fig. 4)"),
    Claim("ours ≥ BPG + LDPC-1/2 + 4-QAM", "ours", "bpg-ldpc-1/2", 0.0, (), "ours above at every SNR (Fig. 4)"),
    Claim("ours − JSCC-T at low SNR", "ours", "jscc-t", 3.0, (-3.0,), "+6.3 dB (Fig. 4)"),
    Claim("ours ≥ CDDM", "ours", "cddm", 0.0, (), "ours above at every SNR (Fig. 4)"),
    Claim("ours ≈ JSCC-T at high SNR", "ours", "jscc-t", -0.1, (12.0,), "no loss (Fig. 4)"),
)


def _check(claim: Claim, rows: dict[str, list[dict[str, Any]]], snrs: list[float]) -> list[dict[str, Any]]:
    at = [x for x in (claim.snrs or snrs) if x in snrs]
    if claim.reference is None:
        points = {s.snr_db: (s.psnr, s.psnr_ci95, s.n_images) for s in summarize(rows[claim.spec])}
    else:
        diff = paired_difference(rows[claim.spec], rows[claim.reference], claim.reference)
        points = {snr: (d.psnr, d.psnr_ci95, d.n_images) for snr, d in diff.items()}
    out = []
    for snr in at:
        mean, ci, n = points.get(snr, (None, None, 0))
        out.append({"claim": claim.name, "spec": claim.spec, "reference": claim.reference, "snr_db": snr,
                    "measured_db": mean, "ci95_db": ci, "threshold_db": claim.threshold, "n_images": n,
                    "holds": None if mean is None else bool(mean >= claim.threshold), "paper": claim.paper})
    return out


def _table(results: list[dict[str, Any]]) -> str:
    lines = ["| claim | SNR (dB) | measured (dB, 95 % CI) | needs | verdict | paper |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        what = r["spec"] if r["reference"] is None else f"{r['spec']} − {r['reference']}"
        if r["measured_db"] is None:
            measured = "no rows"
        else:  # a difference carries its sign, an absolute PSNR does not
            measured = f"{r['measured_db']:{'+' if r['reference'] else ''}.2f} ± {r['ci95_db']:.2f}"
        verdict = "—" if r["holds"] is None else ("holds" if r["holds"] else "**fails**")
        lines.append(f"| {r['claim']} (`{what}`) | {r['snr_db']:g} | {measured} | ≥ {r['threshold_db']:+g} "
                     f"| {verdict} | {r['paper']} |")
    return "\n".join(lines) + "\n"


def claims_figure(ctx: FigureContext) -> FigureReport:
    """Sweep (only what is missing) the claims' schemes and tabulate each claim at its SNRs.

    :raises FigureError: a scheme a claim needs is unavailable.
    """
    snrs = ctx.settings.snrs  # FigureSettings fills the default (-3:12, quick -3,2,7,12)
    specs = {name: ctx.spec(name) for claim in CLAIMS for name in (claim.spec, claim.reference) if name}
    rows = {name: ctx.sweep(spec, snrs, "claims") for name, spec in specs.items()}
    results = [r for claim in CLAIMS for r in _check(claim, rows, snrs)]
    stem = ctx.settings.figure_dir / "claims"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = stem.with_suffix(".md")
    md.write_text(f"Claims on {ctx.dataset} ({len(ctx.images)} images, AWGN, ρ = 1/16; config "
                  f"{ctx.settings.config}); paired per image and channel realisation.\n\n" + _table(results))
    meta = ctx.meta("claims") | {"title": "The paper's claims, checked", "snrs": snrs, "specs": specs,
                                 "result_files": {n: ctx.result_file(s) for n, s in specs.items()},
                                 "claims": results}
    files = [md, write_csv(stem.with_suffix(".csv"), results), write_json(stem.with_suffix(".json"), meta)]
    held = sum(1 for r in results if r["holds"])
    return FigureReport("claims", files, f"{held}/{len(results)} checks hold on {ctx.dataset}, "
                                         f"{len(ctx.images)} images")
