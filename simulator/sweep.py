"""The one sweep engine: schemes × SNR points × images × realisations.

For one scheme, images are taken in groups; each image of a group is loaded and
encoded once (:meth:`Scheme.encode`), then for every SNR point all pending
(image, realisation) pairs of the group go through :meth:`Scheme.transmit_batch` in
chunks of at most ``batch_size`` items, each with the common-random-number channel
realisation ``config.channel.realise(n, seed, image_id, snr_db, realization)`` (AWGN noise
``unit_noise(n, noise_generator(seed, image_id, snr_db, realization))``, and fading gains for
the fading channels, see :mod:`simulator.channels`).  Each finished
chunk is appended to the scheme's result file at once, so a sweep killed at any point
resumes where it stopped (see ``docs/results-format.md``).

The engine never prints; progress goes to an optional callback (the CLI passes tqdm).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata
import math
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch

from simulator.channels import AWGNChannel, Channel
from simulator.data import REPO_ROOT, ImageItem, load_image
from simulator.metrics import ms_ssim, psnr, quantize_8bit
from simulator.results import (
    ResultStore,
    config_hash,
    point_key,
    result_path,
    row_key,
    row_version,
)
from simulator.schemes.base import Reception, Scheme, Transmission

__all__ = ["SweepConfig", "ProgressBar", "ProgressFactory", "parse_snr_spec", "run_sweep", "run_context"]

SNR_FORMS = "START:STOP (inclusive, step 1), START:STOP:STEP, a comma list A,B,C, or a single value, in dB"


class ProgressBar(Protocol):
    """What the engine needs of a progress bar (``tqdm`` fits)."""

    def update(self, n: int) -> Any: ...

    def close(self) -> Any: ...


#: ``factory(total_items, description) -> ProgressBar``
ProgressFactory = Callable[[int, str], ProgressBar]


@dataclass
class SweepConfig:
    """What to sweep, for every scheme alike.

    :ivar snrs: SNR points, Es/N0 in dB (see :func:`parse_snr_spec`).
    :ivar dataset: data-set label used in the rows and the results path.
    :ivar realizations: noise realisations per (image, SNR).
    :ivar seed: master seed of the channel noise (common random numbers).
    :ivar results_dir: root of the result files (``<results_dir>/<dataset>/<slug>.jsonl``).
    :ivar force: recompute the requested points even if the file already has them.
    :ivar batch_size: at most this many transmissions per ``transmit_batch`` call; images
        are encoded in groups of ``max(1, batch_size // realizations)``.
    :ivar channel: the channel model (default AWGN).  Other channels' rows go to
        ``<results_dir>/<dataset>/<channel tag>/<slug>.jsonl``, carry a ``channel`` field, and
        the channel is part of their ``config`` (and config hash); AWGN rows are unchanged.
    """

    snrs: list[float]
    dataset: str = "kodak"
    realizations: int = 1
    seed: int = 0
    results_dir: Path = Path("results")
    force: bool = False
    batch_size: int = 24
    channel: Channel = field(default_factory=AWGNChannel)

    def __post_init__(self) -> None:
        if not self.snrs:
            raise ValueError("no SNR point given")
        if self.realizations < 1:
            raise ValueError(f"realizations must be >= 1, got {self.realizations}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        self.snrs = [round(float(s), 6) for s in self.snrs]
        self.results_dir = Path(self.results_dir)

    def result_file(self, spec: str) -> Path:
        """The result file of ``spec`` on this data set and channel."""
        folder = Path(self.dataset) / self.channel.tag if self.channel.tag else self.dataset
        return result_path(self.results_dir, str(folder), spec)

    def scheme_config(self, scheme: Scheme) -> dict[str, Any]:
        """``scheme.config()``, plus the channel's config for channels other than AWGN."""
        cfg = scheme.config()
        return cfg | {"channel": self.channel.config()} if self.channel.tag else cfg


def parse_snr_spec(text: str) -> list[float]:
    """Parse an SNR spec into a list of points in dB (rounded to 1e-6 dB, duplicates dropped).

    ``-3:12`` → -3, -2, …, 12; ``-3:12:0.5`` → -3, -2.5, …, 12; ``0,5,10``; ``7``.

    :raises ValueError: one line naming the accepted forms.
    """

    def bad(reason: str) -> ValueError:
        return ValueError(f"bad SNR spec {text!r}: {reason}; accepted: {SNR_FORMS}")

    def number(part: str) -> float:
        try:
            value = float(part)
        except ValueError:
            raise bad(f"{part.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise bad(f"{part.strip()!r} is not finite")
        return value

    spec = str(text).strip()
    if not spec:
        raise bad("empty")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise bad("a range has 2 or 3 fields")
        start, stop = number(parts[0]), number(parts[1])
        step = number(parts[2]) if len(parts) == 3 else 1.0
        if step <= 0:
            raise bad("the step must be positive")
        if stop < start:
            raise bad("STOP is below START")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 10_000:
            raise bad(f"{count} points is too many")
        values = [start + i * step for i in range(count)]
    else:
        values = [number(part) for part in spec.split(",")]
    return list(dict.fromkeys(round(v, 6) + 0.0 for v in values))


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        return {"sha": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


@functools.cache
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_context(scheme: Scheme) -> dict[str, Any]:
    """The facts recorded in every row of a sweep: git, versions, device, threads."""
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "sionna": _version("sionna-no-rt") or _version("sionna"),
    } | dict(scheme.versions())
    device = {
        "cpu": _cpu_model(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "scheme": str(getattr(scheme, "device", "cpu")),
    }
    return {"git": _git_state(), "versions": versions, "device": device, "torch_threads": torch.get_num_threads()}


def _jsonable(value: Any) -> Any:
    """Extras as plain JSON values (tensors and NumPy values → Python numbers/lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    return str(value)


@dataclass
class _Encoded:
    """One encoded image of a sweep.  ``quality_memo`` maps the SHA-1 of an 8-bit
    reconstruction to its (PSNR, MS-SSIM): a classical scheme shows the same picture at every
    SNR above its cliff (and the grey fallback below it), so MS-SSIM — most of a classical
    sweep's time — is computed once per distinct picture."""

    item: ImageItem
    image: torch.Tensor
    encoded: Any
    encode_ms: float
    quality_memo: dict[bytes, tuple[float, float | None]] = field(default_factory=dict)


def _quality(enc: _Encoded, reconstruction: torch.Tensor) -> tuple[float, float | None]:
    """PSNR and MS-SSIM (``None`` for images of 160 px or less per side) of the 8-bit
    reconstruction (both metrics quantise it), memoised per distinct picture."""
    image = enc.image
    if reconstruction.shape != image.shape:
        raise ValueError(f"reconstruction has shape {tuple(reconstruction.shape)}, the image {tuple(image.shape)}")
    rec = reconstruction.detach().float().cpu()
    key = hashlib.sha1(quantize_8bit(rec).mul(255).to(torch.uint8).numpy().tobytes()).digest()
    if key not in enc.quality_memo:
        p = float(psnr(image, rec)[0])
        m = float(ms_ssim(image, rec)[0]) if min(image.shape[-2:]) > 160 else None
        enc.quality_memo[key] = (p, m)
    return enc.quality_memo[key]


def run_sweep(
    scheme: Scheme,
    spec: str,
    images: list[ImageItem],
    config: SweepConfig,
    *,
    progress: ProgressFactory | None = None,
) -> list[dict[str, Any]]:
    """Sweep one scheme over ``images`` × ``config.snrs`` × realisations, resuming.

    :param scheme: the scheme instance (see :func:`simulator.registry.create_scheme`).
    :param spec: its CLI spec (names the result file and is recorded in rows).
    :param images: the images, e.g. from :func:`simulator.data.list_images`.
    :returns: the rows of every requested point (reused and new), in SNR, image,
        realisation order.  A stored row is reused only if it has the scheme's current config
        hash (config, weights and ``implementation_version``), its implementation version, and
        the channel uses the scheme now spends on an image of its size; other rows stay in
        the file and their points are computed again.
    :raises simulator.data.DataError: an image cannot be read.
    :raises simulator.results.ResultsError: the result file is corrupt.
    """
    store = ResultStore(config.result_file(spec))
    cfg = config.scheme_config(scheme)
    ckpt = scheme.checkpoint_hash()
    version = int(scheme.implementation_version)
    chash = config_hash(cfg, ckpt, version)
    points = [
        point_key(item.image_id, snr, r, config.seed)
        for snr in config.snrs
        for item in images
        for r in range(config.realizations)
    ]
    wanted = set(points)
    existing = store.load()
    if config.force:
        kept = [row for row in existing if row_key(row)[:4] not in wanted]
        if len(kept) != len(existing):
            store.rewrite(kept)
        done: dict[tuple, dict[str, Any]] = {}
    else:
        done = {row_key(row)[:4]: row for row in existing
                if row_key(row)[:4] in wanted and _reusable(row, scheme, chash, version)}

    pending = [p for p in points if p not in done]
    bar = progress(len(pending), spec) if progress and pending else None
    static = {
        "scheme": scheme.name,
        "spec": spec,
        "dataset": config.dataset,
        "seed": int(config.seed),
        "config": cfg,
        "config_hash": chash,
        "checkpoint_hash": ckpt,
        "implementation_version": version,
    } | ({"channel": config.channel.config()} if config.channel.tag else {})
    if pending:
        static |= run_context(scheme)
    pending_ids = {p[0] for p in pending}
    todo = [item for item in images if item.image_id in pending_ids]
    group_size = max(1, config.batch_size // config.realizations)
    try:
        for start in range(0, len(todo), group_size):
            group = _encode_group(scheme, todo[start : start + group_size])
            for snr in config.snrs:
                jobs = [
                    (enc, r)
                    for enc in group
                    for r in range(config.realizations)
                    if point_key(enc.item.image_id, snr, r, config.seed) not in done
                ]
                for chunk_start in range(0, len(jobs), config.batch_size):
                    chunk = jobs[chunk_start : chunk_start + config.batch_size]
                    rows = _transmit_chunk(scheme, chunk, snr, static, config.channel)
                    store.append(rows)
                    done.update((row_key(row)[:4], row) for row in rows)
                    if bar is not None:
                        bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    return [done[p] for p in points]


def _reusable(row: dict[str, Any], scheme: Scheme, chash: str, version: int) -> bool:
    """Whether a stored row is what ``scheme`` would compute now (see :func:`run_sweep`)."""
    return (row["config_hash"] == chash and row_version(row) == version
            and row.get("channel_uses") == scheme.channel_uses(int(row["height"]), int(row["width"])))


def _encode_group(scheme: Scheme, items: list[ImageItem]) -> list[_Encoded]:
    out = []
    for item in items:
        image = load_image(item.path)
        t0 = time.perf_counter()
        with torch.no_grad():
            encoded = scheme.encode(image)
        out.append(_Encoded(item, image, encoded, (time.perf_counter() - t0) * 1e3))
    return out


def _transmit_chunk(
    scheme: Scheme, chunk: list[tuple[_Encoded, int]], snr: float, static: dict[str, Any], channel: Channel
) -> list[dict[str, Any]]:
    seed = static["seed"]
    txs = []
    for enc, r in chunk:
        height, width = enc.image.shape[-2:]
        n = scheme.channel_uses(height, width)
        txs.append(Transmission(enc.encoded, enc.image, channel.realise(n, seed, enc.item.image_id, snr, r)))
    t0 = time.perf_counter()
    with torch.no_grad():
        receptions: list[Reception] = scheme.transmit_batch(txs)
    wall_ms = (time.perf_counter() - t0) * 1e3 / len(txs)
    if len(receptions) != len(txs):
        raise RuntimeError(f"{static['spec']}: transmit_batch returned {len(receptions)} receptions for {len(txs)}")
    timestamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    rows = []
    for (enc, r), tx, rec in zip(chunk, txs, receptions):
        height, width = enc.image.shape[-2:]
        p, m = _quality(enc, rec.image)
        rows.append(
            {key: static[key] for key in ("scheme", "spec", "dataset")}
            | {
                "image_id": enc.item.image_id,
                "snr_db": snr,
                "realization": r,
                "psnr": p,
                "ms_ssim": m,
                "receiver_ms": float(rec.receiver_s) * 1e3,
                "wall_ms": wall_ms,
                "encode_ms": enc.encode_ms,
                "extras": _jsonable(dict(rec.extras)),
                "height": int(height),
                "width": int(width),
                "channel_uses": tx.channel.n,
                "bandwidth_ratio": tx.channel.n / (3 * height * width),
                "timestamp": timestamp,
            }
            | static
        )
    return rows
