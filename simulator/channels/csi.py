"""Receiver-side use of perfect CSI: equalisers, the effective SNR, the capacity of a realisation.

Every function takes a :class:`simulator.channels.ChannelOutput` (``y``, ``h``, N0).  Without
fading (``h is None``, AWGN) each returns exactly what the AWGN receivers used before, so AWGN
results do not change.

* :func:`mmse_equalize` — the learned receivers' input: ``ẑ_i = y_i·h_i*/(|h_i|² + N0)``
  (CDDM's equaliser).  Per symbol ``ẑ_i = a_i·x_i + ñ_i`` with the MMSE gain
  ``a_i = |h_i|²/(|h_i|² + N0)`` and E|ñ_i|² = a_i·(1 − a_i); the per-symbol SNR ``a_i²/E|ñ_i|²``
  is ``|h_i|²/N0``, unchanged by the equaliser.
* :func:`effective_snr_db` — the one noise level the learned denoisers are conditioned on:
  ``η_eff = Ā/(1 − Ā)`` with ``Ā`` the mean of ``a_i`` over the image's symbols.  For
  unit-energy x and the noise above, the cosine similarity of ẑ to x is ``√Ā``, the value
  ``1/√(1 + 1/η)`` takes at η = η_eff (the similarity score the denoiser of ``ours`` starts
  from); one block per image gives η_eff = |h|²·SNR exactly, AWGN gives the SNR.
* :func:`demapper_input` — the classical receiver's input: the zero-forced ``y/h`` with the
  per-symbol noise variance ``N0/|h_i|²`` (Sionna's demapper then computes the exact LLRs of
  the fading channel).
* :func:`capacity_bits` — ``Σ_i log2(1 + |h_i|²·SNR)``, the bits this realisation can carry.
"""

from __future__ import annotations

import math

import torch

from simulator.channels.models import ChannelOutput

__all__ = ["mmse_gain", "mmse_equalize", "effective_snr_db", "demapper_input", "capacity_bits"]

#: |h|² below this is treated as this (a deep fade; avoids 0/0 in the zero-forcing equaliser).
_MIN_GAIN2 = 1e-12


def mmse_gain(rx: ChannelOutput) -> torch.Tensor | None:
    """``a = |h|²/(|h|² + N0)``, ``[n]`` float32, or ``None`` without fading."""
    if rx.h is None:
        return None
    g2 = rx.h.abs().square()
    return g2 / (g2 + rx.n0)


def mmse_equalize(rx: ChannelOutput) -> torch.Tensor:
    """``[n]`` complex64 ``y·h*/(|h|² + N0)``; ``y`` itself without fading."""
    if rx.h is None:
        return rx.y
    h = rx.h.to(rx.y.device)
    return rx.y * h.conj() / (h.abs().square() + rx.n0)


def effective_snr_db(rx: ChannelOutput) -> float:
    """η_eff in dB (see the module docstring); ``rx.snr_db`` without fading."""
    a = mmse_gain(rx)
    if a is None:
        return float(rx.snr_db)
    mean_a = float(a.double().mean()) if a.numel() else 0.0
    mean_a = min(max(mean_a, 1e-15), 1.0 - 1e-15)
    return 10.0 * math.log10(mean_a / (1.0 - mean_a))


def demapper_input(rx: ChannelOutput) -> tuple[torch.Tensor, torch.Tensor | float]:
    """``(y/h [n] complex64, N0/|h|² [n] float32)``; ``(y, N0)`` without fading."""
    if rx.h is None:
        return rx.y, rx.n0
    h = rx.h.to(rx.y.device)
    g2 = h.abs().square().clamp_min(_MIN_GAIN2)
    return rx.y * h.conj() / g2, rx.n0 / g2


def capacity_bits(rx: ChannelOutput) -> float:
    """``Σ_i log2(1 + |h_i|²/N0)`` bits over the image's n uses (float64 sum);
    ``n·log2(1 + SNR)`` without fading."""
    snr = 1.0 / rx.n0
    if rx.h is None:
        return rx.n * math.log2(1.0 + snr)
    return float(torch.log2(1.0 + rx.h.to(torch.complex128).abs().square() * snr).sum())
