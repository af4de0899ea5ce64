"""``semcom-figures``: the paper's Figs. 4–7 and Table I, computed by the simulator.

Usage::

    semcom-figures fig4|fig5|fig6|fig7|table1|all [--quick] [--out results/paper] [--config cpu]
                   [--dataset kodak | PATH] [--data-dir DIR] [--snr SPEC] [--limit N] ...
    semcom-figures fading --realizations 4     # Fig. 4 under Rayleigh fading (not part of ``all``)
    semcom-figures mcs                         # every MCS of BPG + LDPC and its envelope (not part of ``all``)
    semcom-figures claims                      # the paper's claims checked on the rows (not part of ``all``)

The figures read the same resumable result store as ``simulate``
(``<results-dir>/<dataset>/<scheme-slug>.jsonl``, default ``results/``): every figure first
runs :func:`simulator.sweep.run_sweep` for its scheme specs, which only computes the points
missing from the files.  ``--quick`` (first 2 images, SNR −3, 2, 7, 12 dB, 1 latency repeat)
writes its figures to ``<out>/quick/`` and its rows to a separate store
``<out>/quick/results/`` so that it never mixes with the full runs.

Each figure is written as PNG and PDF together with the CSV and JSON numbers it was drawn
from (see ``docs/figures.md`` for what each shows, and the decoder used per curve).  Library
functions never print; the command line (:mod:`simulator.figures.cli`) prints a short summary
and where the files went.

Layout: one module per figure (``fig4`` … ``fig7``, ``table1``, ``fading``, ``mcs``, ``claims``),
each a function ``FigureContext -> FigureReport``; :mod:`~simulator.figures.context` (settings,
data, store, schemes), :mod:`~simulator.figures.curves` (helpers of the sweep figures) and
:mod:`~simulator.figures.output` (files) beneath them; this module only maps names to figures.
"""

from __future__ import annotations

from typing import Callable

from simulator.figures.claims import claims_figure
from simulator.figures.context import FigureContext, FigureSettings, scheme_spec
from simulator.figures.fading import fading_figure
from simulator.figures.fig4 import fig4_figure
from simulator.figures.fig5 import fig5_figure
from simulator.figures.fig6 import fig6_figure
from simulator.figures.fig7 import fig7_figure
from simulator.figures.mcs import mcs_figure
from simulator.figures.output import FigureError, FigureReport
from simulator.figures.table1 import table1_figure

__all__ = ["FIGURES", "EXTRA_FIGURES", "FigureError", "FigureSettings", "FigureReport", "FigureContext",
           "make_figure", "scheme_spec"]

FIGURES = ("fig4", "fig5", "fig6", "fig7", "table1")
#: figures beyond the paper's, made on request only (not by ``all``).
EXTRA_FIGURES = ("fading", "mcs", "claims")

_MAKERS: dict[str, Callable[[FigureContext], FigureReport]] = {
    "fig4": fig4_figure, "fig5": fig5_figure, "fig6": fig6_figure, "fig7": fig7_figure, "table1": table1_figure,
    "fading": fading_figure, "mcs": mcs_figure, "claims": claims_figure,
}


def make_figure(name: str, ctx: FigureContext) -> FigureReport:
    """Compute (sweeping what is missing) and write one figure or table.

    :raises FigureError: a scheme the figure needs is unavailable, or a named image is missing.
    :raises simulator.data.DataError: an image cannot be read.
    :raises simulator.results.ResultsError: a result file is corrupt.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown figure {name!r}; accepted: {', '.join((*FIGURES, *EXTRA_FIGURES))}, all")
    return _MAKERS[name](ctx)
