"""Torch devices: the one parser of ``--device``, device names, synchronised timing, and the
split-and-retry of batches that do not fit in GPU memory.

``--device`` accepts ``auto`` (the first GPU when CUDA is available, else the CPU), ``cpu``,
``cuda`` (the current GPU) or ``cuda:N``.  Asking for CUDA where there is none, or for a GPU
index beyond those present, is a one-line ``ValueError`` (the CLIs exit 2 on it).
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import torch

__all__ = ["DEVICE_FORMS", "resolve_device", "device_name", "synchronize", "map_splitting_on_oom",
           "cuda_devices"]

#: What ``--device`` accepts, for help texts and error messages.
DEVICE_FORMS = "auto, cpu, cuda or cuda:N"

T = TypeVar("T")
R = TypeVar("R")


def cuda_devices() -> int:
    """The number of CUDA GPUs this process sees (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(text: str | torch.device | None = "auto") -> torch.device:
    """The torch device named by ``text`` (see the module docstring); CUDA devices get their index.

    :raises ValueError: one line naming the bad value and what is accepted (an unknown form,
        CUDA without CUDA, or a GPU index beyond those present).
    """
    if isinstance(text, torch.device):
        text = str(text)
    spec = "auto" if text is None else str(text).strip().lower()
    count = cuda_devices()
    if spec == "auto":
        return torch.device("cuda", 0) if count else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        index_text = spec.partition(":")[2]
        if spec != "cuda" and not index_text.isdigit():
            raise ValueError(f"bad device {text!r}; accepted: {DEVICE_FORMS}")
        if count == 0:
            raise ValueError(f"device {text!r} asked for, but CUDA is not available here (torch {torch.__version__}); "
                             "use --device cpu or auto")
        index = torch.cuda.current_device() if spec == "cuda" else int(index_text)
        if index >= count:
            raise ValueError(f"device {text!r}: only {count} CUDA GPU(s) here (cuda:0 … cuda:{count - 1})")
        return torch.device("cuda", index)
    raise ValueError(f"bad device {text!r}; accepted: {DEVICE_FORMS}")


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str | torch.device) -> str:
    """The hardware behind ``device``: the GPU's name for CUDA, the CPU model otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def synchronize(device: str | torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_oom(exc: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


def map_splitting_on_oom(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[R]:
    """``fn(items)``, and when it runs out of GPU memory, ``fn`` on each half (recursively) instead.

    :param fn: a batch function, ``len(fn(x)) == len(x)``, with no side effects that a retry
        would repeat.
    :raises torch.cuda.OutOfMemoryError: when a single item does not fit.
    """
    try:
        return fn(items)
    except (RuntimeError, MemoryError) as exc:
        if len(items) < 2 or not _is_oom(exc):
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    half = len(items) // 2
    return map_splitting_on_oom(fn, items[:half]) + map_splitting_on_oom(fn, items[half:])
