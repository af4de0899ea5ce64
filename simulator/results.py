"""Result files: one JSON-lines file per (scheme spec, data set), one row per
(image, SNR, realisation); and the per-SNR summary computed from rows.

Layout: ``<results_dir>/<dataset>/<slug>.jsonl`` where the slug is the scheme spec with
characters unsafe in file names replaced (``bpg-ldpc-1/2`` → ``bpg-ldpc-1_2``,
``ours:steps=2`` → ``ours_steps=2``).  The row fields and the resume rules are described
in ``docs/results-format.md``.

Crash safety: rows are appended with one ``os.write`` of complete lines followed by
``fsync``; a reader ignores a last line without its newline (a write cut short), and the
next append cuts that partial line off first.  Whole-file rewrites go through a temporary
file and ``os.replace``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from simulator.metrics import mean_and_ci95

__all__ = [
    "ResultsError",
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


class ResultsError(RuntimeError):
    """A result file cannot be read (a corrupt line that is not the last one)."""


def scheme_slug(spec: str) -> str:
    """File-name-safe form of a scheme spec: ``bpg-ldpc-1/2`` → ``bpg-ldpc-1_2``."""
    slug = re.sub(r"[^A-Za-z0-9._=+-]", "_", spec.strip())
    if not slug.strip("._"):
        raise ValueError(f"scheme spec {spec!r} gives an empty file name")
    return slug


def result_path(results_dir: str | os.PathLike, dataset: str, spec: str) -> Path:
    """``<results_dir>/<dataset>/<slug>.jsonl``."""
    return Path(results_dir) / dataset / f"{scheme_slug(spec)}.jsonl"


def config_hash(config: dict[str, Any], checkpoint_hash: str | None, implementation_version: int = 1) -> str:
    """16 hex digits identifying a scheme's behaviour: its config, its weights and its code
    version (``Scheme.implementation_version``; version 1 leaves the hash as it was before
    versions existed, so rows stored then keep matching)."""
    payload: dict[str, Any] = {"config": config, "checkpoint_hash": checkpoint_hash}
    if implementation_version != 1:
        payload["implementation_version"] = int(implementation_version)
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_version(row: dict[str, Any]) -> int:
    """The scheme implementation version a row was made with (1 for rows without the field)."""
    return int(row.get("implementation_version", 1))


def point_key(image_id: str, snr_db: float, realization: int, seed: int) -> tuple[str, float, int, int]:
    """One Monte-Carlo point, independent of the scheme's configuration."""
    return (str(image_id), round(float(snr_db), 6), int(realization), int(seed))


def row_key(row: dict[str, Any]) -> tuple[str, float, int, int, str]:
    """Dedupe key of a row: (image_id, snr_db, realization, seed, config_hash)."""
    return (*point_key(row["image_id"], row["snr_db"], row["realization"], row["seed"]), row["config_hash"])


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete rows of a result file (``[]`` if it does not exist).

    A last line without a trailing newline (a write interrupted by a kill) is ignored.

    :raises ResultsError: naming the file and line of any other line that is not JSON.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    *complete, _partial = data.split(b"\n")
    rows = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(f"{path}:{number}: not a JSON row ({exc}); fix or delete the line") from exc
        if not isinstance(row, dict):
            raise ResultsError(f"{path}:{number}: a row must be a JSON object")
        rows.append(row)
    return rows


def _encode_rows(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, default=str).encode() + b"\n" for row in rows)


class ResultStore:
    """Append-only JSON-lines file of result rows (single writer at a time)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        """The file's complete rows, see :func:`read_rows`."""
        return read_rows(self.path)

    def _cut_partial_line(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Append rows durably: one write of complete lines, then ``fsync``."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_partial_line()
        data = memoryview(_encode_rows(rows))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the whole file atomically (temporary file + ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode_rows(rows))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def dedupe_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per :func:`row_key`, the last one written winning, in first-seen order."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        by_key[row_key(row)] = row
    return list(by_key.values())


def latest_config_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scheme spec and data set, only the rows of the configuration written last
    (older weights or settings left in a file are not mixed into a curve)."""
    rows = list(rows)
    latest = {(r["spec"], r["dataset"]): r["config_hash"] for r in rows}
    return [r for r in rows if r["config_hash"] == latest[(r["spec"], r["dataset"])]]


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
