"""Plot and tabulate training learning curves (validation PSNR vs CPU-hours) from model cards.

Each card (``<weights>.json`` written by ``semcom-train``, also while a ``--keep-best`` run
is going) holds ``validation_history``: iteration, val_psnr, wall_s and cpu_hours per
validation.  Usage::

    python scripts/learning_curves.py runs/study/*/w.json --label-from parent \\
        -o docs/training-curves.png --table
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_curve(card_path: Path) -> tuple[list[float], list[float], list[int], dict]:
    card = json.loads(card_path.read_text())
    hist = card.get("validation_history") or []
    return ([h["cpu_hours"] for h in hist], [h["val_psnr"] for h in hist], [h["iteration"] for h in hist], card)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cards", nargs="+", type=Path)
    parser.add_argument("--label-from", choices=("parent", "stem"), default="parent",
                        help="curve label: the card's folder name or file stem")
    parser.add_argument("-o", "--output", type=Path, default=None, help="PNG to write")
    parser.add_argument("--table", action="store_true", help="print a Markdown table of the curves")
    args = parser.parse_args()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    rows = []
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
    ax.set_xlabel("CPU-hours (all processes)")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
