"""Receiver latency of schemes, measured in one process on the same images (paper Table I).

Receiver latency is the time from the channel output to the reconstructed image: for the
learned schemes, latent denoising (if any) plus the decoder, i.e. what
:attr:`simulator.schemes.base.Reception.receiver_s` times.  Method:

* every scheme encodes the same images once; every (image, SNR) uses the sweep's common
  AWGN realisation ``AWGNChannel().realise(n, seed, image_id, snr, 0)``, so adaptive schemes
  (``ours``' step count, CDDM's start step) see exactly the inputs of the result files;
* ``warmup`` untimed transmissions per (scheme, SNR) first (allocator, kernel selection);
* then ``repeats`` rounds; in each round the SNR points follow one another and at each SNR the
  schemes take turns image by image (their order rotated from round to round; a scheme with
  fewer images per round drops out of the turns once it has timed them), so drifts of a shared
  machine's speed hit all schemes alike; the median over (image, repeat) samples is reported,
  with the quartiles;
* with a budget (``budget``), each (scheme, SNR) may spend per round ``budget`` times what the
  fastest (scheme, SNR) spends on all images, at their warm-up latencies: a slower one is timed
  on fewer images per round — as many as fit, at least one — taken in turn, so that the rounds
  cover different images.  A multiple of the fastest, not a number of milliseconds, so that a
  loaded or a faster machine samples alike: CDDM (seconds per image, the same step count on
  every image of a size) gets a few samples, JSCC-T and Ours every image in every round;
* on the CPU the sample is ``Reception.receiver_s``; on a CUDA device the scheme's modules
  are moved there and the sample is the wall time of ``transmit`` between two
  ``torch.cuda.synchronize()`` calls (``receiver_s`` alone would time kernel launches only;
  the wall time adds the latent + noise addition, which is negligible).

Nothing here prints.
"""

from __future__ import annotations

import platform
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from simulator.channels import AWGNChannel
from simulator.devices import cpu_model
from simulator.schemes.base import Scheme, Stopwatch, Transmission

__all__ = ["LatencyPoint", "device_info", "move_scheme", "measure_receiver_latency", "time_call", "torch_threads"]


@dataclass
class LatencyPoint:
    """Receiver latency samples of one (scheme, device, SNR).

    :ivar samples_ms: one sample per (image, repeat), in milliseconds.
    :ivar extras_mean: means of the schemes' numeric per-image extras (e.g. ``steps``).
    """

    label: str
    spec: str
    device: str
    snr_db: float
    samples_ms: list[float] = field(default_factory=list)
    extras_mean: dict[str, float] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    def quantile_ms(self, q: float) -> float:
        """Linear-interpolated quantile of the samples (``q`` in [0, 1])."""
        s = sorted(self.samples_ms)
        pos = q * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "spec": self.spec,
            "device": self.device,
            "snr_db": self.snr_db,
            "median_ms": self.median_ms,
            "p25_ms": self.quantile_ms(0.25),
            "p75_ms": self.quantile_ms(0.75),
            "mean_ms": statistics.fmean(self.samples_ms),
            "n_samples": len(self.samples_ms),
            "extras_mean": dict(self.extras_mean),
        }


def device_info(device: str = "cpu") -> dict[str, Any]:
    """What a latency number was measured on: CPU model, torch threads, GPU name."""
    info: dict[str, Any] = {
        "device": device,
        "cpu": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def move_scheme(scheme: Scheme, device: str | torch.device) -> None:
    """Move every ``nn.Module`` attribute of a scheme (codec, denoiser, CDDM …) to ``device``,
    and the scheme's own ``device`` (where a learned scheme puts its inputs) with them."""
    for value in vars(scheme).values():
        if isinstance(value, nn.Module):
            value.to(device)
    if isinstance(getattr(scheme, "device", None), torch.device):
        scheme.device = torch.device(device)  # type: ignore[attr-defined]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op CPU threads (``None``: leave the setting), then restore it."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_call(fn: Any, *, device: str = "cpu", repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall times (ms) of ``fn()`` after ``warmup`` untimed calls, synchronising CUDA."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        with Stopwatch(device) as sw:
            fn()
        out.append(sw.seconds * 1e3)
    return out


def measure_receiver_latency(
    schemes: list[tuple[str, str, Scheme]],
    images: list[tuple[str, torch.Tensor]],
    snrs: list[float],
    *,
    repeats: int = 3,
    warmup: int = 1,
    seed: int = 0,
    device: str = "cpu",
    budget: float | None = None,
) -> list[LatencyPoint]:
    """Receiver latency of each scheme at each SNR on the same images (see the module doc).

    :param schemes: ``(label, spec, scheme)`` triples.
    :param images: ``(image_id, [3, H, W] tensor)`` pairs; the ids key the common noise.
    :param budget: time per (scheme, SNR) and round as a multiple of the fastest (scheme, SNR)'s
        round over all images, at the warm-up latencies (needs ``warmup >= 1``); ``None``: every
        image in every round.
    :returns: one :class:`LatencyPoint` per (scheme, SNR), schemes in the given order.
    :raises RuntimeError: whatever a scheme raises on ``device`` (callers may catch it per scheme).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    if budget is not None and (warmup < 1 or not budget > 0):
        raise ValueError(f"a latency budget needs warmup >= 1 and budget > 0, got {warmup}, {budget}")
    if not schemes or not images or not snrs:
        raise ValueError("need at least one scheme, one image and one SNR point")
    jobs: dict[str, list[tuple[float, list[Transmission]]]] = {}
    with torch.no_grad():
        for label, _spec, scheme in schemes:
            move_scheme(scheme, device)
            encoded = [(image_id, image, scheme.encode(image.to(device))) for image_id, image in images]
            per_snr = []
            for snr in snrs:
                txs = []
                for image_id, image, enc in encoded:
                    n = scheme.channel_uses(*image.shape[-2:])
                    txs.append(Transmission(enc, image, AWGNChannel().realise(n, seed, image_id, snr, 0)))
                per_snr.append((float(snr), txs))
            jobs[label] = per_snr

        points = {(label, snr): LatencyPoint(label, spec, device, snr)
                  for label, spec, _ in schemes for snr, _ in jobs[label]}
        extras: dict[tuple[str, float], dict[str, list[float]]] = {key: {} for key in points}

        def send(scheme: Scheme, tx: Transmission, snr: float) -> tuple[float, dict[str, Any]]:
            if device == "cpu":
                rec = scheme.transmit(tx)
                return rec.receiver_s * 1e3, rec.extras
            with Stopwatch(device) as sw:
                rec = scheme.transmit(tx)
            return sw.seconds * 1e3, rec.extras

        warm_ms: dict[tuple[str, float], float] = {}
        for label, _spec, scheme in schemes:
            for snr, txs in jobs[label]:
                for _ in range(warmup):
                    warm_ms[(label, snr)], _ = send(scheme, txs[0], snr)
        per_round: dict[tuple[str, float], int] = {}
        round_ms = None if budget is None else budget * len(images) * min(warm_ms.values())
        for key in points:
            fits = len(images) if round_ms is None else int(round_ms // max(warm_ms[key], 1e-9))
            per_round[key] = max(1, min(len(images), fits))
        for rep in range(repeats):
            shift = rep % len(schemes)
            turn = schemes[shift:] + schemes[:shift]
            for s, snr in enumerate(map(float, snrs)):
                counts = {label: per_round[(label, snr)] for label, _, _ in turn}
                for slot in range(max(counts.values())):
                    for label, _spec, scheme in turn:
                        if slot >= counts[label]:
                            continue
                        txs = jobs[label][s][1]
                        ms, ex = send(scheme, txs[(rep * counts[label] + slot) % len(txs)], snr)
                        points[(label, snr)].samples_ms.append(ms)
                        for key, value in ex.items():
                            if isinstance(value, (int, float)) and not isinstance(value, bool):
                                extras[(label, snr)].setdefault(key, []).append(float(value))
    for key, point in points.items():
        point.extras_mean = {k: statistics.fmean(v) for k, v in sorted(extras[key].items())}
    return list(points.values())

