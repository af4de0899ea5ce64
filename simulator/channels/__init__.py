"""Everything about the channel, in one package (see ``docs/channel.md``).

* :mod:`~simulator.channels.awgn` — the physical layer every scheme shares: the SNR convention,
  power normalisation, real ↔ complex symbol mapping and the seeded unit noise (common random
  numbers).
* :mod:`~simulator.channels.models` — the channel models (:class:`Channel`: AWGN, block and fast
  Rayleigh fading), the realisation drawn per (image, SNR, realisation) and what a receiver gets
  (:class:`ChannelOutput`).
* :mod:`~simulator.channels.csi` — what receivers do with perfect CSI (MMSE equaliser, effective
  SNR, demapper input, capacity of a realisation).
* :mod:`~simulator.channels.registry` — the channels ``--channel`` accepts, by name.

Every public name of these modules is importable from ``simulator.channels``.
"""

from simulator.channels.awgn import (
    awgn,
    complex_to_real,
    noise_generator,
    power_normalize,
    real_to_complex,
    snr_db_to_noise_power,
    unit_noise,
)
from simulator.channels.csi import capacity_bits, demapper_input, effective_snr_db, mmse_equalize, mmse_gain
from simulator.channels.models import (
    AWGNChannel,
    Channel,
    ChannelOutput,
    RayleighBlockChannel,
    RayleighFastChannel,
    Realisation,
    gain_generator,
)
from simulator.channels.registry import CHANNELS, make_channel

__all__ = [
    "awgn", "complex_to_real", "noise_generator", "power_normalize", "real_to_complex", "snr_db_to_noise_power",
    "unit_noise",
    "capacity_bits", "demapper_input", "effective_snr_db", "mmse_equalize", "mmse_gain",
    "AWGNChannel", "Channel", "ChannelOutput", "RayleighBlockChannel", "RayleighFastChannel", "Realisation",
    "gain_generator",
    "CHANNELS", "make_channel",
]
