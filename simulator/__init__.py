"""semcom-sim: learned and classical image-transmission links over one channel, swept by one engine.

The public API is this package's top level (see ``docs/api.md``)::

    import simulator as sim
    run = sim.simulate("ours,jscc-t,bpg-ldpc", snr="-3:12", dataset="kodak", limit=4)
    run.summary(); run.to_pandas(); run.plot("fig.png")

* sweeping: :func:`simulate`, :func:`prepare` / :class:`Simulation`, :class:`Run`,
  :func:`load_results`, :func:`summarize`, :class:`SummaryRow`, :func:`parse_snrs`,
  :func:`find_dataset`, :func:`list_images`, :func:`load_image`;
* the registries: :func:`list_schemes`, :func:`list_aliases`, :func:`create_scheme`,
  :func:`canonical_spec`, :func:`parse_scheme_list`, :func:`list_channels`, :func:`make_channel`,
  :mod:`channels` (the channel package), :class:`PluginWarning`, :class:`PluginError`;
* what a scheme or channel plugin subclasses and uses: :class:`Scheme`, :class:`Transmission`,
  :class:`Reception`, :class:`Stopwatch`, :class:`Option`, :class:`Channel`,
  :class:`ChannelOutput`, :class:`Realisation`, the receiver helpers (:func:`mmse_equalize`,
  :func:`mmse_gain`, :func:`effective_snr_db`, :func:`demapper_input`, :func:`capacity_bits`), the
  symbol helpers (:func:`power_normalize`, :func:`real_to_complex`, :func:`complex_to_real`,
  :func:`unit_noise`, :func:`snr_db_to_noise_power`) and the classical link of ``bpg-ldpc``
  (:func:`segment` / :class:`Segmentation` — one image as a 5G transport block, :func:`tb_bits`,
  :func:`payload_from_blocks`, :func:`shared_link` / :class:`LdpcLink` — 5G LDPC + Gray QAM,
  :data:`MCS_RATES`, :data:`MCS_QAMS`, :func:`fallback_image`).

Plugins import only from here, so the modules behind these names may move.  Names are loaded
on first use: ``import simulator`` itself imports neither torch nor any scheme.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name → the module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    # sweeping
    "simulate": "simulator.api", "prepare": "simulator.api", "Simulation": "simulator.api",
    "parse_snrs": "simulator.api", "list_schemes": "simulator.api", "list_aliases": "simulator.api",
    "list_channels": "simulator.api",
    "Run": "simulator.run", "load_results": "simulator.run", "format_table": "simulator.run",
    "summarize": "simulator.results", "SummaryRow": "simulator.results", "ResultsError": "simulator.results",
    "SweepConfig": "simulator.sweep", "run_sweeps": "simulator.sweep",
    "DataError": "simulator.data", "find_dataset": "simulator.data", "list_images": "simulator.data",
    "load_image": "simulator.data",
    "CheckpointError": "simulator.checkpoints",
    # registries
    "create_scheme": "simulator.registry", "canonical_spec": "simulator.registry",
    "parse_scheme_list": "simulator.registry", "register_scheme": "simulator.registry",
    "register_alias": "simulator.registry",
    "make_channel": "simulator.channels.registry",
    "PluginError": "simulator.plugins", "PluginWarning": "simulator.plugins",
    # what plugins subclass and use
    "Scheme": "simulator.schemes.base", "Transmission": "simulator.schemes.base",
    "Reception": "simulator.schemes.base", "Stopwatch": "simulator.schemes.base",
    "Option": "simulator.options",
    "Channel": "simulator.channels", "ChannelOutput": "simulator.channels", "Realisation": "simulator.channels",
    "AWGNChannel": "simulator.channels", "RayleighBlockChannel": "simulator.channels",
    "RayleighFastChannel": "simulator.channels",
    "mmse_equalize": "simulator.channels", "mmse_gain": "simulator.channels",
    "effective_snr_db": "simulator.channels", "demapper_input": "simulator.channels",
    "capacity_bits": "simulator.channels", "power_normalize": "simulator.channels",
    "real_to_complex": "simulator.channels", "complex_to_real": "simulator.channels",
    "unit_noise": "simulator.channels", "snr_db_to_noise_power": "simulator.channels",
    "segment": "baselines.ldpc_tb", "Segmentation": "baselines.ldpc_tb", "tb_bits": "baselines.ldpc_tb",
    "payload_from_blocks": "baselines.ldpc_tb",
    "shared_link": "baselines.ldpc_link", "LdpcLink": "baselines.ldpc_link",
    "MCS_RATES": "baselines.bpg_ldpc", "MCS_QAMS": "baselines.bpg_ldpc", "fallback_image": "baselines.bpg_ldpc",
}
#: subpackages reachable as attributes (``sim.channels``).
_SUBMODULES = ("channels",)

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from baselines.bpg_ldpc import MCS_QAMS, MCS_RATES, fallback_image
    from baselines.ldpc_link import LdpcLink, shared_link
    from baselines.ldpc_tb import Segmentation, payload_from_blocks, segment, tb_bits
    from simulator import channels
    from simulator.api import Simulation, list_aliases, list_channels, list_schemes, parse_snrs, prepare, simulate
    from simulator.channels import (
        AWGNChannel,
        Channel,
        ChannelOutput,
        RayleighBlockChannel,
        RayleighFastChannel,
        Realisation,
        capacity_bits,
        complex_to_real,
        demapper_input,
        effective_snr_db,
        mmse_equalize,
        mmse_gain,
        power_normalize,
        real_to_complex,
        snr_db_to_noise_power,
        unit_noise,
    )
    from simulator.channels.registry import make_channel
    from simulator.checkpoints import CheckpointError
    from simulator.data import DataError, find_dataset, list_images, load_image
    from simulator.options import Option
    from simulator.plugins import PluginError, PluginWarning
    from simulator.registry import canonical_spec, create_scheme, parse_scheme_list, register_alias, register_scheme
    from simulator.results import ResultsError, SummaryRow, summarize
    from simulator.run import Run, format_table, load_results
    from simulator.schemes.base import Reception, Scheme, Stopwatch, Transmission
    from simulator.sweep import SweepConfig, run_sweeps
