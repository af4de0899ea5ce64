"""The one place a sweep makes a scheme from its spec, and the per-process cache of them.

A Dask worker builds each (spec, device) once per process (:func:`cached_scheme`) and keeps it
for every later task; its weights come from the checkpoint folder that every worker sees
(``SEMCOM_CHECKPOINTS``, else the repository's ``checkpoints/``), each file checked against
the SHA-256 of its card when it is loaded (:mod:`simulator.checkpoints`).
"""

from __future__ import annotations

import functools

from simulator.checkpoints import checkpoint_dir
from simulator.registry import available_schemes, create_scheme
from simulator.schemes.base import Scheme

__all__ = ["build_scheme", "cached_scheme", "is_learned"]


def is_learned(spec: str) -> bool:
    """Whether the scheme of ``spec`` runs a neural network (its class takes a ``config`` weights-set
    option): it is built on the sweep's device, and with a device other than the CPU its Dask
    tasks ask for one ``GPU`` worker resource.  Classical schemes always run on the CPU."""
    cls = available_schemes().get(spec.split(":", 1)[0])
    return cls is not None and "config" in cls.options_schema


def build_scheme(spec: str, device: str = "cpu") -> Scheme:
    """A new scheme instance for ``spec``.

    :param spec: a scheme spec, e.g. ``ours:steps=2`` (see :mod:`simulator.registry`).
    :param device: torch device of a learned scheme (:func:`is_learned`), passed to its
        constructor as ``device=`` unless it is ``"cpu"``; classical schemes ignore it.
    :raises ValueError: an unknown scheme or option.
    :raises simulator.checkpoints.CheckpointError: missing or corrupt weights (every file is
        checked against the SHA-256 of its card when loaded).
    """
    if device == "cpu" or not is_learned(spec):
        return create_scheme(spec)
    return create_scheme(spec, device=device)


def cached_scheme(spec: str, device: str = "cpu") -> Scheme:
    """:func:`build_scheme`, once per (spec, device, checkpoint folder) in this process."""
    return _cached(spec, device, str(checkpoint_dir()))


@functools.lru_cache(maxsize=32)
def _cached(spec: str, device: str, weights: str) -> Scheme:
    return build_scheme(spec, device)
