"""The facts a sweep records about where it ran (git, versions, device, threads), and the
fingerprint of the channel noise that every process of one sweep must share."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from typing import Any

import torch

from simulator.channels import Channel
from simulator.channels.registry import plugin_versions as channel_plugins
from simulator.data import REPO_ROOT
from simulator.devices import cpu_model, device_name
from simulator.registry import plugin_versions as scheme_plugins
from simulator.schemes.base import Scheme

__all__ = ["run_context", "noise_fingerprint"]


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


def run_context(scheme: Scheme, channel: Channel | None = None) -> dict[str, Any]:
    """The facts recorded in every row of a sweep: git, versions, device, threads.

    :param channel: the sweep's channel (its plugin package's version, if any, joins ``versions``).
    """
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "sionna": _version("sionna-no-rt") or _version("sionna"),
    } | dict(scheme.versions()) | scheme_plugins(scheme) | channel_plugins(channel)
    used = torch.device(getattr(scheme, "device", "cpu"))
    device = {
        "cpu": cpu_model(),
        "cuda": device_name(used) if used.type == "cuda" else (
            torch.cuda.get_device_name(0) if torch.cuda.is_available() else None),
        "scheme": str(used),
        "name": device_name(used),
    }
    return {"git": _git_state(), "versions": versions, "device": device, "torch_threads": torch.get_num_threads()}


def noise_fingerprint(channel: Channel, seed: int = 0) -> str:
    """16 hex digits of SHA-256 over one realisation of ``channel`` (its noise ``w`` and gains ``h``:
    :meth:`Realisation.receiver_key`; 4096 symbols, a fixed image id, 0 dB).

    Common random numbers need every process of a sweep to draw bit-identical noise from the
    same key; another torch version or another CPU kernel may not.  A worker whose fingerprint
    differs from the driver's is refused (:mod:`simulator.sweep.execute`).
    """
    return f"{channel.realise(4096, seed, 'semcom-noise-fingerprint', 0.0, 0).receiver_key():016x}"
