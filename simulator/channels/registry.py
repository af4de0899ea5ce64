"""The channels ``--channel`` accepts, by name."""

from __future__ import annotations

from simulator.channels.models import AWGNChannel, Channel, RayleighBlockChannel, RayleighFastChannel

__all__ = ["CHANNELS", "make_channel"]

#: name → channel class (the ``--channel`` choices).
CHANNELS: dict[str, type[Channel]] = {c.name: c for c in (AWGNChannel, RayleighBlockChannel, RayleighFastChannel)}


def make_channel(name: str, coherence: int | None = None) -> Channel:
    """The channel called ``name``; ``coherence`` (L channel uses) only for ``rayleigh-block``.

    :raises ValueError: one line naming the bad value and what is accepted.
    """
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; accepted: {', '.join(CHANNELS)}")
    if name == RayleighBlockChannel.name:
        return RayleighBlockChannel(coherence)
    if coherence is not None:
        raise ValueError(f"coherence={coherence} applies to rayleigh-block only, not to {name}")
    return CHANNELS[name]()
