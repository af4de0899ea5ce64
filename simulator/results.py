"""Summaries of result rows: per-SNR statistics over images, paired differences to a
reference scheme, and the envelope of several specs.

The result *store* (files, rows, resume keys, the write lock) lives in
:mod:`simulator.sweep.store`; its names are re-exported here for older imports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from simulator.metrics import mean_and_ci95
from simulator.sweep.store import (
    ResultsError,
    ResultStore,
    StoreLockedError,
    config_hash,
    dedupe_rows,
    latest_config_rows,
    point_key,
    read_rows,
    result_path,
    row_key,
    row_version,
    scheme_slug,
)

__all__ = [
    "ResultsError",
    "StoreLockedError",
    "ResultStore",
    "SummaryRow",
    "scheme_slug",
    "result_path",
    "config_hash",
    "point_key",
    "row_key",
    "row_version",
    "PairedDifference",
    "paired_difference",
    "read_rows",
    "dedupe_rows",
    "latest_config_rows",
    "summarize",
    "envelope",
]


@dataclass
class PairedDifference:
    """Mean difference of one spec to a reference spec at one SNR, paired per Monte-Carlo point.

    Differences are taken per (image, SNR, realisation, seed) present in both (same image, same
    channel noise), averaged per image, then the mean and 95 % Student-t half-width are taken
    over images.  Sign: this spec minus the reference (PSNR in dB).  ``ms_ssim`` is ``None``
    where no pair had MS-SSIM values.
    """

    reference: str
    psnr: float
    psnr_ci95: float
    ms_ssim: float | None
    ms_ssim_ci95: float | None
    n_images: int

    def to_json(self) -> dict[str, Any]:
        """A strict-JSON dict (non-finite numbers → ``None``)."""
        return {k: _finite_or_none(v) for k, v in self.__dict__.items()}


@dataclass
class SummaryRow:
    """Statistics of one (scheme spec, data set, SNR) point.

    Means and 95 % confidence intervals are taken over images, each image first averaged
    over its realisations (and seeds).  ``ms_ssim`` is ``None`` where no image had one
    (images of 160 px or less per side).  ``delivered`` is the fraction of rows whose
    ``extras["delivered"]`` is true, ``None`` where the scheme does not report it;
    ``extras`` holds the means of the other numeric extras (e.g. ``steps``).
    ``vs_reference`` is the paired difference to the reference spec (``summarize(...,
    reference=...)``), ``None`` for the reference itself or without a reference.
    ``chosen`` is set on the rows of an envelope (:func:`envelope`): the spec picked at that SNR.
    """

    scheme: str
    name: str
    dataset: str
    snr_db: float
    psnr: float
    psnr_ci95: float
    ms_ssim: float | None
    ms_ssim_ci95: float | None
    n_images: int
    n_rows: int
    receiver_ms: float
    delivered: float | None = None
    extras: dict[str, float] = field(default_factory=dict)
    vs_reference: PairedDifference | None = None
    chosen: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A strict-JSON dict (non-finite numbers → ``None``; ``delivered`` only if reported,
        ``vs_reference`` only if computed)."""
        out = {k: _finite_or_none(v) for k, v in self.__dict__.items() if k not in ("extras", "vs_reference")}
        for key in ("delivered", "chosen"):
            if out[key] is None:
                del out[key]
        out["extras"] = {k: _finite_or_none(v) for k, v in self.extras.items()}
        if self.vs_reference is not None:
            out["vs_reference"] = self.vs_reference.to_json()
        return out


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _over_images(rows: list[dict[str, Any]], metric: str) -> tuple[float | None, float | None]:
    per_image: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if _is_number(row.get(metric)):
            per_image[row["image_id"]].append(float(row[metric]))
    if not per_image:
        return None, None
    return mean_and_ci95([_mean(v) for v in per_image.values()])


def _paired_over_images(rows: list[dict[str, Any]], reference: dict[tuple, dict[str, Any]],
                        metric: str) -> tuple[float | None, float | None, int]:
    per_image: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        ref = reference.get(point_key(row["image_id"], row["snr_db"], row["realization"], row["seed"]))
        if ref is not None and _is_number(row.get(metric)) and _is_number(ref.get(metric)):
            diff = float(row[metric]) - float(ref[metric])
            if math.isfinite(diff):
                per_image[row["image_id"]].append(diff)
    if not per_image:
        return None, None, 0
    mean, ci = mean_and_ci95([_mean(v) for v in per_image.values()])
    return mean, ci, len(per_image)


def paired_difference(rows: Iterable[dict[str, Any]], reference_rows: Iterable[dict[str, Any]],
                      reference: str) -> dict[float, PairedDifference]:
    """``rows`` minus ``reference_rows`` per SNR (ascending), paired per Monte-Carlo point.

    :param rows: result rows of one spec on one data set.
    :param reference_rows: result rows of the reference on the same data set.
    :param reference: the reference's name, recorded in the result.
    :returns: SNR → :class:`PairedDifference`, for the SNRs with at least one pair with a finite PSNR
        difference.
    """
    ref = {point_key(r["image_id"], r["snr_db"], r["realization"], r["seed"]): r for r in reference_rows}
    by_snr: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_snr[round(float(row["snr_db"]), 6)].append(row)
    out = {}
    for snr in sorted(by_snr):
        psnr, psnr_ci, n = _paired_over_images(by_snr[snr], ref, "psnr")
        if psnr is None:
            continue
        msssim, msssim_ci, _ = _paired_over_images(by_snr[snr], ref, "ms_ssim")
        out[snr] = PairedDifference(reference, psnr, math.nan if psnr_ci is None else psnr_ci, msssim, msssim_ci, n)
    return out


def summarize(rows: Iterable[dict[str, Any]], reference: str | None = None) -> list[SummaryRow]:
    """Per (spec, data set, SNR) statistics, specs in first-seen order, SNR ascending.

    :param reference: a spec among the rows: every other spec's rows also get their paired
        difference to it (``vs_reference``, see :func:`paired_difference`).
    :raises ValueError: if ``reference`` names no spec of the rows.
    """
    groups: dict[tuple[str, str], dict[float, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups[(row["spec"], row["dataset"])][round(float(row["snr_db"]), 6)].append(row)
    specs = list(dict.fromkeys(spec for spec, _ in groups))
    if reference is not None and reference not in specs:
        raise ValueError(f"reference scheme {reference!r} is not among the swept schemes; accepted: {', '.join(specs)}")
    summary = []
    for (spec, dataset), by_snr in groups.items():
        diffs: dict[float, PairedDifference] = {}
        if reference is not None and spec != reference:
            ref_rows = [r for group in groups.get((reference, dataset), {}).values() for r in group]
            diffs = paired_difference([r for group in by_snr.values() for r in group], ref_rows, reference)
        for snr in sorted(by_snr):
            group = by_snr[snr]
            psnr, psnr_ci = _over_images(group, "psnr")
            msssim, msssim_ci = _over_images(group, "ms_ssim")
            extras: dict[str, list[float]] = defaultdict(list)
            for row in group:
                for key, value in (row.get("extras") or {}).items():
                    if _is_number(value):
                        extras[key].append(float(value))
            delivered = extras.pop("delivered", None)
            summary.append(
                SummaryRow(
                    scheme=spec,
                    name=group[0]["scheme"],
                    dataset=dataset,
                    snr_db=snr,
                    psnr=math.nan if psnr is None else psnr,
                    psnr_ci95=math.nan if psnr_ci is None else psnr_ci,
                    ms_ssim=msssim,
                    ms_ssim_ci95=msssim_ci,
                    n_images=len({r["image_id"] for r in group}),
                    n_rows=len(group),
                    receiver_ms=_mean([float(r["receiver_ms"]) for r in group]),
                    delivered=None if delivered is None else _mean(delivered),
                    extras={k: _mean(v) for k, v in sorted(extras.items())},
                    vs_reference=diffs.get(snr),
                )
            )
    return summary


def envelope(summary: Iterable[SummaryRow], name: str, specs: Iterable[str]) -> list[SummaryRow]:
    """The best of ``specs`` at each (data set, SNR): what a transmitter that knows the SNR
    would pick, judged by the mean PSNR over the data set (e.g. ``bpg-ldpc-best`` over every MCS).

    :returns: one row per (data set, SNR) where any of ``specs`` has rows, a copy of the best
        row with ``scheme = name`` and ``chosen`` = its spec; ties go to the earlier spec.
    """
    order = {spec: i for i, spec in enumerate(specs)}
    best: dict[tuple[str, float], SummaryRow] = {}
    for row in summary:
        if row.scheme not in order or not math.isfinite(row.psnr):
            continue
        key = (row.dataset, row.snr_db)
        held = best.get(key)
        if held is None or (row.psnr, -order[row.scheme]) > (held.psnr, -order[held.scheme]):
            best[key] = row
    return [replace(row, scheme=name, name=name, chosen=row.scheme) for _, row in sorted(best.items())]
