"""Execute: a task's rows, computed in this process or on a Dask worker.  Pure: it reads the
images and the scheme's weights, and writes nothing (the driver, :mod:`simulator.sweep.commit`,
is the only writer).

For a task (one scheme spec × a few images × their pending points), each image is loaded and
encoded once (:meth:`Scheme.encode`); then for every SNR point its pending (image, realisation)
pairs go through :meth:`Scheme.transmit_batch` in chunks of at most ``batch_size`` items, each
with the common-random-number channel realisation ``channel.realise(n, seed, image_id, snr_db,
realization)`` (see :mod:`simulator.channels`).  :func:`execute_task` yields the rows chunk by
chunk, so an in-process sweep stores each chunk at once; :func:`run_task` is the Dask task.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch

from simulator.channels import Channel
from simulator.data import ImageItem, load_image
from simulator.metrics import ms_ssim, psnr, quantize_8bit
from simulator.schemes.base import Reception, Scheme, Transmission
from simulator.sweep.context import noise_fingerprint, run_context
from simulator.sweep.plan import Task, scheme_hash
from simulator.sweep.schemes import cached_scheme
from simulator.sweep.store import point_key

__all__ = ["SweepTaskError", "WorkerMismatchError", "TaskResult", "execute_task", "run_task", "worker_fingerprint", "worker_name"]


class SweepTaskError(RuntimeError):
    """A task failed: one line naming the scheme spec, the image(s) and the cause."""


class WorkerMismatchError(SweepTaskError):
    """A worker would not compute what the driver would (other channel noise, other weights)."""


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
    reconstruction (both metrics quantise it), memoised per distinct picture; computed on the
    reconstruction's device (a learned scheme's GPU), the 8-bit picture's key on the CPU."""
    if reconstruction.shape != enc.image.shape:
        raise ValueError(f"reconstruction has shape {tuple(reconstruction.shape)}, the image {tuple(enc.image.shape)}")
    rec = reconstruction.detach().float()
    image = enc.image.to(rec.device)
    key = hashlib.sha1(quantize_8bit(rec).mul(255).to(torch.uint8).cpu().numpy().tobytes()).digest()
    if key not in enc.quality_memo:
        p = float(psnr(image, rec)[0])
        m = float(ms_ssim(image, rec)[0]) if min(image.shape[-2:]) > 160 else None
        enc.quality_memo[key] = (p, m)
    return enc.quality_memo[key]


def execute_task(task: Task, scheme: Scheme) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``task``, one list per ``transmit_batch`` chunk (images in task order, then SNR,
    then image and realisation).

    :param scheme: the scheme of ``task.spec`` (its config hash is ``task.static["config_hash"]``).
    :raises SweepTaskError: naming the spec and image(s) of the failing step, chained to the cause; an
        image that cannot be loaded or encoded raises after the rows of the task's other images.
    """
    static = task.static | run_context(scheme, task.channel)
    group, failed = [], []
    for item in task.items:
        try:
            with _blame(task.spec, [item.image_id]):
                group.append(_encode(scheme, item))
        except SweepTaskError as exc:  # the other images of the group still run
            failed.append(exc)
    for snr in task.snrs:
        jobs = [(enc, r) for enc in group for r in range(task.realizations)
                if point_key(enc.item.image_id, snr, r, task.seed) in task.points]
        for start in range(0, len(jobs), task.batch_size):
            chunk = jobs[start:start + task.batch_size]
            with _blame(task.spec, list(dict.fromkeys(enc.item.image_id for enc, _ in chunk))):
                rows = _transmit_chunk(scheme, chunk, snr, static, task.channel)
            yield rows
    if failed:
        raise failed[0]


@contextlib.contextmanager
def _blame(spec: str, image_ids: list[str]) -> Iterator[None]:
    """Re-raise any ``Exception`` as :class:`SweepTaskError` naming the spec and images."""
    try:
        yield
    except SweepTaskError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split())
        raise SweepTaskError(f"{spec} on {', '.join(image_ids)}: {type(exc).__name__}: {message}") from exc


@dataclass
class TaskResult:
    """What a Dask task returns: its rows, and who computed them in how long."""

    rows: list[dict[str, Any]]
    worker: str
    seconds: float


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


_FINGERPRINTS: dict[tuple[str, str, int], str] = {}


def worker_fingerprint(channel: Channel, seed: int) -> str:
    """:func:`~simulator.sweep.context.noise_fingerprint` in this process (once per channel config and seed)."""
    key = (type(channel).__qualname__, json.dumps(channel.config(), sort_keys=True, default=str), int(seed))
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = noise_fingerprint(channel, seed)
    return _FINGERPRINTS[key]


def run_task(task: Task) -> TaskResult:
    """Run ``task`` on a Dask worker: the scheme is built once per process and spec
    (:func:`~simulator.sweep.schemes.cached_scheme`), then checked against the driver.

    :raises WorkerMismatchError: this process draws other channel noise than the driver
        (``task.fingerprint``), or builds the scheme with another config hash (other weights or code).
    :raises SweepTaskError: the task failed (spec, image and cause in one line).
    """
    t0 = time.perf_counter()
    if task.fingerprint is not None:
        mine = worker_fingerprint(task.channel, task.seed)
        if mine != task.fingerprint:
            raise WorkerMismatchError(
                f"worker {worker_name()} refused: its channel noise differs from the driver's (fingerprint {mine} "
                f"!= {task.fingerprint}; torch {torch.__version__}); install the driver's torch and run on the "
                "same CPU family, or the rows would not share common random numbers")
    with _blame(task.spec, task.image_ids):
        scheme = cached_scheme(task.spec, task.device)
    chash = scheme_hash(scheme, task.channel)
    if chash != task.static["config_hash"]:
        raise WorkerMismatchError(
            f"worker {worker_name()} refused: it builds {task.spec} with config hash {chash}, the driver with "
            f"{task.static['config_hash']} (other weights or code: every worker must see the driver's "
            "checkpoints and simulator version, e.g. on a shared file system)")
    rows = [row for chunk in execute_task(task, scheme) for row in chunk]
    return TaskResult(rows, worker_name(), time.perf_counter() - t0)


def _encode(scheme: Scheme, item: ImageItem) -> _Encoded:
    image = load_image(item.path)
    t0 = time.perf_counter()
    with torch.no_grad():
        encoded = scheme.encode(image)
    return _Encoded(item, image, encoded, (time.perf_counter() - t0) * 1e3)


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
