"""Shared output of ``semcom-figures``: the report and error types, strict JSON, CSV, PNG + PDF,
and the error-bar curves drawn with explicit axes."""

from __future__ import annotations

import csv
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from simulator.plot import draw_errorbar

__all__ = ["FigureError", "FigureReport", "finite", "write_json", "write_csv", "figure_paths", "save_figure", "saved_figure", "errorbar", "axes_style"]


class FigureError(RuntimeError):
    """A figure cannot be made (a scheme it needs is unavailable, a named image is missing)."""


@dataclass
class FigureReport:
    """What :func:`make_figure` wrote: files, a one-line summary, and warnings (missing schemes)."""

    name: str
    files: list[Path]
    summary: str
    warnings: list[str] = field(default_factory=list)


def finite(value: Any) -> Any:
    """``value`` as strict JSON: non-finite floats → ``None`` (recursively), paths → strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented strict JSON (see :func:`finite`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(data), indent=2, allow_nan=False) + "\n")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows (columns in first-seen order; ``None`` and non-finite values as empty cells)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in finite(row).items()})
    return path


def figure_paths(stem: Path) -> list[Path]:
    """The files :func:`save_figure` writes for ``stem``: ``stem.png`` and ``stem.pdf``."""
    return [stem.with_suffix(".png"), stem.with_suffix(".pdf")]


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Save ``fig`` as ``stem.png`` (150 dpi) and ``stem.pdf``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = figure_paths(stem)
    for path in paths:
        fig.savefig(path, dpi=150)
    return paths


@contextmanager
def saved_figure(stem: Path, *args: Any, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``plt.subplots(*args, **kwargs)`` for the ``with`` block: the figure is saved by
    :func:`save_figure` (``stem.png``, ``stem.pdf``) when the block succeeds and closed always."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*args, **kwargs)
    try:
        yield fig, axes
        save_figure(fig, stem)
    finally:
        plt.close(fig)


def errorbar(ax: Any, points: list[dict[str, Any]], metric: str, label: str, style: dict[str, Any]) -> bool:
    """Draw ``points[*][metric]`` against ``snr_db`` with ``{metric}_ci95`` error bars; False if none finite."""
    return draw_errorbar(ax, [(p["snr_db"], p[metric], p.get(f"{metric}_ci95")) for p in points], label, style)


def axes_style(ax: Any, ylabel: str) -> None:
    """SNR x-axis label, ``ylabel`` and a light grid."""
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
