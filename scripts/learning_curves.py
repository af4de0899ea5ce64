"""Plot and tabulate training learning curves (validation PSNR vs CPU-hours) from model cards.

Each card (``<weights>.json`` written by ``semcom-train``, also while a ``--keep-best`` run
is going) holds ``validation_history``: iteration, val_psnr, wall_s and cpu_hours per
validation up to its best point; a campaign snapshot (``scripts/snapshot_campaign.py``) also
holds the run's whole curve as ``run_history``, which is used where present.  Usage::

    python scripts/learning_curves.py runs/study/*/w.json --label-from parent \\
        -o docs/training-curves.png --table --fit 30.5

``--fit TARGET`` extrapolates each curve (validation PSNR against CPU-hours) two ways and says
when it reaches TARGET dB: a log-linear fit ``p + q·log10(h)`` (no ceiling: optimistic) and a
saturating power law ``a − b·h^(−c)`` (``a`` is the fitted ceiling; the curve never crosses a
target above it).  Both are fitted to the validations of the second half of the run's CPU-hours,
so the warm-up and early phase do not dominate; with few points the ceiling is uncertain — read it as a trend.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
from scipy.optimize import curve_fit

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_curve(card_path: Path) -> tuple[list[float], list[float], list[int], dict]:
    card = json.loads(card_path.read_text())
    hist = card.get("run_history") or card.get("validation_history") or []
    return ([h["cpu_hours"] for h in hist], [h["val_psnr"] for h in hist], [h["iteration"] for h in hist], card)


CEILING_BOUND = 45.0  # dB: the power-law ceiling is searched below this


def saturating(h: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(h, -c)


def extrapolate(cpu_h: list[float], val: list[float], target: float) -> dict:
    """Fit both trends to ``(cpu_h, val)`` and return the CPU-hours at which each reaches ``target``.

    :returns: ``slope_db_per_decade`` and ``intercept`` of the log-linear fit, ``loglinear_h`` (inf when the slope is not positive), ``ceiling`` (the power law's
        ``a``, dB; NaN when the points do not bend yet), its ``params`` ``(a, b, c)`` and ``saturating_h`` (inf when ``target >= ceiling``); NaN where a fit failed.
    """
    h, v = np.asarray(cpu_h, float), np.asarray(val, float)
    keep = h >= 0.5 * h[-1]
    h, v = h[keep], v[keep]
    q, p = np.polyfit(np.log10(h), v, 1)
    out = {"loglinear_h": float(10 ** ((target - p) / q)) if q > 0 else float("inf"),
           "slope_db_per_decade": float(q), "intercept": float(p), "ceiling": float("nan"), "saturating_h": float("nan")}
    try:
        (a, b, c), _ = curve_fit(saturating, h, v, p0=(v[-1] + 3.0, 1.0, 0.5),
                                 bounds=((v[-1], 0.0, 0.01), (CEILING_BOUND, 1e3, 3.0)), maxfev=20000)
    except (RuntimeError, ValueError):
        return out
    out["params"] = (float(a), float(b), float(c))
    if a >= CEILING_BOUND - 0.01:  # the points do not bend yet: no ceiling identified
        return out
    out["ceiling"] = float(a)
    out["saturating_h"] = float((b / (a - target)) ** (1 / c)) if target < a else float("inf")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cards", nargs="+", type=Path)
    parser.add_argument("--label-from", choices=("parent", "stem"), default="parent",
                        help="curve label: the card's folder name or file stem")
    parser.add_argument("-o", "--output", type=Path, default=None, help="PNG to write")
    parser.add_argument("--table", action="store_true", help="print a Markdown table of the curves")
    parser.add_argument("--fit", type=float, default=None, metavar="TARGET",
                        help="extrapolate each curve to this validation PSNR (dB); see the module doc")
    args = parser.parse_args()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    rows = []
    fits: list[tuple[str, dict]] = []
    for path in args.cards:
        if not path.is_file():
            print(f"learning_curves: no card {path}", file=sys.stderr)
            return 2
        cpu_h, val, iters, card = load_curve(path)
        label = path.parent.name if args.label_from == "parent" else path.stem
        params = card.get("config", {}).get("dims")
        ax.plot(cpu_h, val, marker=".", label=f"{label} ({'-'.join(map(str, params)) if params else ''})")
        if val:
            best = max(range(len(val)), key=val.__getitem__)
            rows.append((label, iters[-1], cpu_h[-1], val[-1], val[best], iters[best]))
            if args.fit is not None and len(val) >= 4:
                fit = extrapolate(cpu_h, val, args.fit)
                fits.append((label, fit))
                h = np.geomspace(cpu_h[-1], 40.0, 50)
                color = ax.lines[-1].get_color()
                ax.plot(h, fit["intercept"] + fit["slope_db_per_decade"] * np.log10(h), ":", color=color, lw=0.8)
                if np.isfinite(fit["ceiling"]):
                    ax.plot(h, saturating(h, *fit["params"]), "--", color=color, lw=0.8)
    if fits:
        ax.set_xscale("log")
        ax.axhline(args.fit, color="black", lw=0.6, ls="-.")
    ax.set_xlabel("CPU-hours (all processes)" + ("; dotted: log-linear, dashed: power-law extrapolation" if fits else ""))
    ax.set_ylabel("validation PSNR (dB), BSDS500 val, 13 dB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if args.output:
        fig.savefig(args.output, dpi=120)
    if args.table:
        print("| run | iterations | CPU-hours | last val PSNR (dB) | best (dB) @ iteration |")
        print("| --- | --- | --- | --- | --- |")
        for label, it, ch, last, best, best_it in rows:
            print(f"| {label} | {it} | {ch:.2f} | {last:.2f} | {best:.2f} @ {best_it} |")
    if fits:
        print(f"\n| run | log-linear slope (dB per 10× CPU-h) | CPU-h to {args.fit:g} dB, log-linear "
              f"| power-law ceiling (dB) | CPU-h to {args.fit:g} dB, power law |")
        print("| --- | --- | --- | --- | --- |")
        for label, fit in fits:
            power_law = (f"{fit['ceiling']:.2f} | {fit['saturating_h']:.3g}" if np.isfinite(fit["ceiling"])
                         else "not identified (no bend yet) | —")
            print(f"| {label} | {fit['slope_db_per_decade']:.2f} | {fit['loglinear_h']:.3g} | {power_law} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
