"""A finished sweep as an object (:class:`Run`): its rows, the CLI's summary table, a pandas
DataFrame and the PSNR/MS-SSIM figure; :func:`load_results` makes one from result files.

Nothing here computes a point: :func:`simulator.simulate` (:mod:`simulator.api`) runs the sweep
and returns a :class:`Run`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from simulator.results import SummaryRow, dedupe_rows, envelope, latest_config_rows, read_rows, summarize

if TYPE_CHECKING:
    import pandas

__all__ = ["Run", "format_table", "load_results", "ROW_COLUMNS"]

#: The columns of :meth:`Run.to_pandas` taken from every row, in this order (then the
#: scheme's numeric/boolean/text extras, e.g. ``delivered``, ``steps``, ``qp``).
ROW_COLUMNS: tuple[str, ...] = (
    "spec", "scheme", "dataset", "channel", "image_id", "snr_db", "realization", "seed", "psnr", "ms_ssim",
    "receiver_ms", "wall_ms", "encode_ms", "height", "width", "channel_uses", "bandwidth_ratio",
    "config_hash", "checkpoint_hash", "implementation_version", "timestamp",
)


def _fmt(value: float | None, digits: int, ci: float | None = None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if ci is not None and math.isfinite(ci):
        text += f" ± {ci:.{digits}f}"
    return text


def _fmt_diff(value: float | None, digits: int, ci: float | None) -> str:
    return "" if value is None else ("+" if value >= 0 else "") + _fmt(value, digits, ci)


def format_table(summary: list[SummaryRow], reference: str | None = None) -> str:
    """A plain-text table of the summary, one line per (scheme, SNR); with ``reference``, two
    more columns after MS-SSIM: the paired PSNR and MS-SSIM differences to it with their 95 % CI."""
    diff_header = (f"ΔPSNR vs {reference}", f"ΔMS-SSIM vs {reference}") if reference is not None else ()
    header = ("scheme", "SNR dB", "PSNR dB", "MS-SSIM", *diff_header, "images", "rx ms", "delivered", "extras")
    lines = []
    for s in summary:
        d = s.vs_reference
        diffs = () if reference is None else ("", "") if d is None else (
            _fmt_diff(d.psnr, 3, d.psnr_ci95), _fmt_diff(d.ms_ssim, 4, d.ms_ssim_ci95))
        lines.append((
            s.scheme if s.chosen is None else f"{s.scheme} = {s.chosen}",
            f"{s.snr_db:g}",
            _fmt(s.psnr, 2, s.psnr_ci95),
            _fmt(s.ms_ssim, 4, s.ms_ssim_ci95),
            *diffs,
            str(s.n_images),
            _fmt(s.receiver_ms, 1),
            "" if s.delivered is None else f"{s.delivered:.2f}",
            " ".join(f"{k}={v:.3g}" for k, v in s.extras.items()),
        ))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *lines])


@dataclass
class Run:
    """The rows of a sweep and what is made of them.

    :ivar rows: one dict per (scheme spec, image, SNR, realisation), the fields of a result row
        (``docs/results-format.md``): specs in the order asked for, each in SNR, image,
        realisation order.
    :ivar specs: the canonical scheme specs swept (aliases expanded).
    :ivar reference: the spec the others are compared with in :meth:`summary` (paired per image,
        SNR and realisation), ``None`` for none.
    :ivar envelopes: envelope aliases asked for (e.g. ``bpg-ldpc-best``): name → the specs it picks
        the best of at each SNR; each adds summary rows.
    :ivar result_files: spec → its result file; empty when the rows were kept in memory.
    :ivar plot_file: where :meth:`plot` writes without a path (``None`` in memory).
    """

    rows: list[dict[str, Any]]
    specs: list[str]
    reference: str | None = None
    envelopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    result_files: dict[str, Path] = field(default_factory=dict)
    plot_file: Path | None = None

    def __repr__(self) -> str:
        where = "in memory" if not self.result_files else f"stored under {_common_folder(self.result_files.values())}"
        return (f"Run({len(self.specs)} specs: {', '.join(self.specs)}; {len(self.rows)} rows; "
                f"reference={self.reference!r}; {where})")

    def _reference(self, reference: str | None, paired: bool) -> str | None:
        if not paired:
            return None
        chosen = self.reference if reference is None else reference
        if chosen is not None and chosen not in self.specs:
            raise ValueError(f"reference {chosen!r} is not one of the swept schemes; accepted: {', '.join(self.specs)}")
        return chosen

    def summary(self, reference: str | None = None, *, paired: bool = True) -> list[SummaryRow]:
        """The rows of the ``simulate`` table: per (spec, SNR) the mean PSNR and MS-SSIM over
        images with 95 % CIs, receiver time, delivered fraction, mean extras; the paired
        difference to the reference (``vs_reference``); then one row per SNR for each envelope.

        :param reference: a swept spec to compare with instead of :attr:`reference`.
        :param paired: ``False``: no paired differences.
        :raises ValueError: ``reference`` is not a swept spec.
        """
        out = summarize(self.rows, self._reference(reference, paired))
        for name, members in self.envelopes.items():
            out += envelope(out, name, members)
        return out

    def table(self, reference: str | None = None, *, paired: bool = True) -> str:
        """:meth:`summary` as the plain-text table ``simulate`` prints."""
        return format_table(self.summary(reference, paired=paired), self._reference(reference, paired))

    def to_pandas(self) -> pandas.DataFrame:
        """One row per (spec, image, SNR, realisation): the columns of :data:`ROW_COLUMNS`
        (``channel`` is the channel's name, ``awgn`` when the row has none), then one column per
        scalar extra of the schemes (``delivered``, ``steps``, …; ``extra_<key>`` if the key is
        a column already).  Rows without an extra get ``NaN``/``None`` there.

        :raises ImportError: pandas is not installed (it is optional).
        """
        try:
            import pandas
        except ImportError:
            raise ImportError("Run.to_pandas() needs pandas, an optional dependency: pip install pandas "
                              "(run.rows holds the same data as a list of dicts)") from None
        records = []
        columns = dict.fromkeys(ROW_COLUMNS)
        for row in self.rows:
            record = {key: row.get(key) for key in ROW_COLUMNS}
            record["channel"] = (row.get("channel") or {}).get("name", "awgn")
            for key, value in (row.get("extras") or {}).items():
                if isinstance(value, (bool, int, float, str)) or value is None:
                    column = f"extra_{key}" if key in ROW_COLUMNS else key
                    record[column] = value
                    columns[column] = None
            records.append(record)
        return pandas.DataFrame.from_records(records, columns=list(columns))

    def plot(self, path: str | os.PathLike | None = None, *, stored: bool = False, title: str | None = None) -> list[Path]:
        """Draw PSNR and MS-SSIM against SNR (95 % CIs) into ``path`` (PNG) and a PDF beside it.

        :param path: the PNG; default :attr:`plot_file`
            (``<results_dir>/<dataset>[/<channel>]/psnr_msssim.png``).
        :param stored: draw every row of the result files (the configuration written last of each
            spec, as ``simulate --plot`` does) instead of this run's rows.
        :returns: the written files.
        :raises ValueError: no ``path`` for a run kept in memory, or ``stored`` without result files.
        """
        from simulator.plot import plot_results, plot_summary

        target = Path(path) if path is not None else self.plot_file
        if target is None:
            raise ValueError("this run kept its rows in memory: give plot() a path, e.g. run.plot('fig.png')")
        if stored:
            if not self.result_files:
                raise ValueError("this run kept its rows in memory: it has no result files to plot (stored=False)")
            return plot_results(list(self.result_files.values()), target, title=title)
        return plot_summary(summarize(self.rows), target, title=title)


def _common_folder(paths: Iterable[Path]) -> Path:
    return Path(os.path.commonpath([str(Path(p).parent) for p in paths]))


def load_results(paths: str | os.PathLike | Iterable[str | os.PathLike], reference: str | None = None) -> Run:
    """A :class:`Run` of stored result files (``*.jsonl``, or folders of them): per file the rows
    of the configuration written last (:func:`simulator.results.latest_config_rows`), one per point.

    :param reference: the spec the others are compared with; default the first spec when there
        are several.
    :raises FileNotFoundError: a path does not exist, or holds no result rows.
    :raises simulator.results.ResultsError: a result file is corrupt.
    :raises ValueError: ``reference`` is not among the files' specs.
    """
    from simulator.plot import collect_result_files

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    rows: list[dict[str, Any]] = []
    files: dict[str, Path] = {}
    for path in collect_result_files(items):
        found = latest_config_rows(dedupe_rows(read_rows(path)))
        rows += found
        files.update({row["spec"]: path for row in found})
    if not rows:
        raise FileNotFoundError(f"the result files hold no rows: {', '.join(map(str, items))}")
    specs = list(dict.fromkeys(row["spec"] for row in rows))
    run = Run(rows, specs, specs[0] if len(specs) > 1 else None, result_files=files)
    if reference is not None:
        run.reference = run._reference(reference, True)
    return run
