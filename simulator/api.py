"""The sweep from Python: :func:`simulate` (what the ``simulate`` command runs), the registries'
listings, and :class:`Simulation`, a checked request not yet run.

::

    import simulator as sim
    run = sim.simulate("ours,jscc-t,bpg-ldpc", snr="-3:12", dataset="kodak", limit=4,
                       channel="awgn", realizations=1, seed=0, device="cpu", results_dir=None)
    run.summary()            # the rows of the CLI table, paired CIs to the first spec
    run.to_pandas()          # one row per (scheme, image, SNR, realisation)
    run.plot("fig.png")

Scheme text works as on the command line: canonical specs (``ours:steps=2``), aliases
(``bpg-ldpc`` = both paper MCSs) and envelope aliases (``bpg-ldpc-best`` adds the best MCS per SNR
to the summary).  ``results_dir=None`` keeps every row in memory (nothing is read or written);
a folder uses the resumable result store (``results`` reuses the committed rows).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from simulator.channels import Channel
from simulator.channels.registry import available_channels, make_channel
from simulator.data import ImageItem, find_dataset, list_images
from simulator.devices import resolve_device
from simulator.registry import (
    available_aliases,
    available_schemes,
    canonical_spec,
    envelopes_in,
    parse_scheme_list,
)
from simulator.run import Run
from simulator.schemes.base import Scheme
from simulator.sweep import ProgressFactory, SweepConfig, build_scheme, parse_snr_spec, run_sweeps

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["simulate", "prepare", "Simulation", "list_schemes", "list_aliases", "list_channels", "parse_snrs"]


def list_schemes() -> dict[str, type[Scheme]]:
    """Every scheme name, built-in and plugin, → its class (``description``, ``options_schema``)."""
    return available_schemes()


def list_aliases() -> dict[str, tuple[str, ...]]:
    """Every alias (a name for several specs, e.g. ``bpg-ldpc``) → the specs it stands for."""
    return available_aliases()


def list_channels() -> dict[str, type[Channel]]:
    """Every channel name, built-in and plugin, → its class."""
    return available_channels()


def parse_snrs(snr: str | float | Iterable[float]) -> list[float]:
    """SNR points in dB from a spec (``"-3:12"``, ``"-3:12:0.5"``, ``"0,5,10"``, ``"7"``), a number
    or numbers (rounded to 1e-6 dB, duplicates dropped, order kept).

    :raises ValueError: one line naming the bad value and the accepted forms.
    """
    if isinstance(snr, str):
        return parse_snr_spec(snr)
    values = [snr] if isinstance(snr, (int, float)) else list(snr)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"bad SNR point {value!r}; accepted: finite numbers in dB or a spec such as '-3:12'")
    if not values:
        raise ValueError("no SNR point given; accepted: finite numbers in dB or a spec such as '-3:12'")
    return list(dict.fromkeys(round(float(v), 6) + 0.0 for v in values))


@dataclass
class Simulation:
    """A checked sweep request (schemes built, images found), not yet run: :meth:`run` runs it.

    :ivar specs: canonical scheme specs, aliases expanded, in the order asked for.
    :ivar envelopes: envelope aliases asked for → the specs they pick from.
    :ivar reference: the spec the others are compared with (paired), or ``None``.
    :ivar images: the images swept.
    :ivar config: the sweep settings (SNRs, realisations, seed, channel, store, device).
    :ivar schemes: spec → the built scheme.
    """

    specs: list[str]
    envelopes: dict[str, tuple[str, ...]]
    reference: str | None
    images: list[ImageItem]
    config: SweepConfig
    schemes: dict[str, Scheme]

    @property
    def result_files(self) -> dict[str, Path]:
        """spec → its result file; empty when the rows are kept in memory."""
        if self.config.results_dir is None:
            return {}
        return {spec: self.config.result_file(spec) for spec in self.specs}

    def run(self, *, executor: Client | None = None, progress: ProgressFactory | bool | None = None) -> Run:
        """Sweep every spec (resuming from the store, if any) and return the :class:`Run`.

        :param executor: a ``distributed.Client`` to run the tasks on (``None``: this process).
        :param progress: ``True`` for a tqdm bar on stderr, or a factory ``(total, desc) -> bar``.
        :raises simulator.data.DataError: an image cannot be read.
        :raises simulator.results.ResultsError: a result file is corrupt or locked by another sweep.
        :raises simulator.sweep.SweepError: a task failed (the other rows are stored).
        """
        if progress is True:
            from simulator.cli_common import tqdm_progress

            progress = tqdm_progress("pt")
        rows = run_sweeps(self.specs, self.images, self.config, executor=executor,
                          progress=progress or None, schemes=self.schemes)
        plot_file = (self.config.result_file("psnr_msssim").with_suffix(".png")
                     if self.config.results_dir is not None else None)
        return Run(rows, list(self.specs), self.reference, dict(self.envelopes), self.result_files, plot_file)


def prepare(
    schemes: str | Sequence[str],
    snr: str | float | Iterable[float] = "-3:12",
    *,
    dataset: str | os.PathLike = "kodak",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    channel: str | Channel = "awgn",
    coherence: int | None = None,
    realizations: int = 1,
    seed: int = 0,
    device: str = "cpu",
    results_dir: str | os.PathLike | None = None,
    force: bool = False,
    batch_size: int = 24,
    reference: str | None = None,
    threads: int | None = None,
) -> Simulation:
    """Check a sweep request and build its schemes; the parameters are those of :func:`simulate`.

    :raises ValueError: one line for a bad scheme, option, SNR, channel, reference or number.
    :raises simulator.data.DataError: the data set is not found or holds no images.
    :raises simulator.checkpoints.CheckpointError: a learned scheme's weights are missing or wrong.
    """
    text = schemes if isinstance(schemes, str) else ",".join(schemes)
    specs = parse_scheme_list(text)
    snrs = parse_snrs(snr)
    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise ValueError(f"bad limit {limit!r}; accepted: a whole number of images >= 1, or None for all")
    folder = find_dataset(str(dataset), data_dir)
    images = list_images(folder, limit)
    if isinstance(channel, Channel):
        if coherence is not None:
            raise ValueError("coherence applies to a channel given by name; set it on the Channel object instead")
        chosen = channel
    else:
        chosen = make_channel(channel, coherence)
    config = SweepConfig(snrs=snrs, dataset=folder.name, realizations=realizations, seed=seed,
                         results_dir=None if results_dir is None else Path(results_dir), force=force,
                         batch_size=batch_size, channel=chosen, device=str(resolve_device(device)))
    if reference is not None:
        reference = canonical_spec(reference)
        if reference not in specs:
            raise ValueError(f"reference {reference!r} is not one of the swept schemes; accepted: {', '.join(specs)}")
    elif len(specs) > 1:
        reference = specs[0]
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    built = {spec: build_scheme(spec, config.device) for spec in specs}
    return Simulation(specs, envelopes_in(text), reference, images, config, built)


def simulate(
    schemes: str | Sequence[str],
    snr: str | float | Iterable[float] = "-3:12",
    *,
    dataset: str | os.PathLike = "kodak",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    channel: str | Channel = "awgn",
    coherence: int | None = None,
    realizations: int = 1,
    seed: int = 0,
    device: str = "cpu",
    results_dir: str | os.PathLike | None = None,
    force: bool = False,
    batch_size: int = 24,
    reference: str | None = None,
    threads: int | None = None,
    executor: Client | None = None,
    progress: ProgressFactory | bool | None = None,
) -> Run:
    """Sweep schemes over SNR points on an image data set, as the ``simulate`` command does.

    :param schemes: comma-separated scheme specs or a list of them: names (``jscc-t``), options
        (``ours:steps=2``), aliases (``bpg-ldpc``) and envelope aliases (``bpg-ldpc-best``), built-in
        or from an installed plugin (:func:`list_schemes`).
    :param snr: Es/N0 points in dB: ``"-3:12"`` (step 1), ``"-3:12:0.5"``, ``"0,5,10"``, or numbers.
    :param dataset: a data-set name looked up in ``data_dir``, ``$SEMCOM_DATA``, then
        ``../shared/datasets`` (``kodak``), or a folder of images; rows are labelled with the
        folder's name.
    :param limit: only the first ``limit`` images, sorted by name.
    :param channel: a channel name (``awgn``, ``rayleigh-block``, ``rayleigh-fast``, a plugin's,
        with options ``name:key=value``; :func:`list_channels`) or a :class:`~simulator.channels.Channel`.
    :param coherence: ``rayleigh-block`` (or a plugin that takes it): channel uses per fading block.
    :param realizations: channel realisations per image and SNR.
    :param seed: the channel-noise seed (common random numbers: every scheme faces the same noise).
    :param device: torch device of the learned schemes: ``"auto"`` (the first GPU when CUDA is
        available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; classical schemes run on the CPU.  Not
        part of the rows' hash: rows computed on one device are reused by a sweep on another.
    :param results_dir: ``None``: rows kept in memory, nothing read or written; a folder: the
        resumable store ``<results_dir>/<dataset>[/<channel>]/<spec>.jsonl`` (stored rows of the
        same configuration are reused, new ones appended).
    :param force: recompute points already stored.
    :param batch_size: transmissions per ``transmit_batch`` call.
    :param reference: the spec the summary compares the others with, paired per image, SNR and
        realisation; default the first spec when there are several.
    :param threads: set torch's CPU threads (process-wide) before sweeping.
    :param executor: a ``distributed.Client``: run the tasks on its workers.
    :param progress: ``True`` for a tqdm bar on stderr, or a factory ``(total, desc) -> bar``.
    :returns: the :class:`~simulator.run.Run`.
    :raises ValueError: one line for a bad argument (naming it and what is accepted).
    :raises simulator.data.DataError: the data set is not found, or an image cannot be read.
    :raises simulator.checkpoints.CheckpointError: a learned scheme's weights are missing or wrong.
    :raises simulator.results.ResultsError: a result file is corrupt or locked by another sweep.
    """
    simulation = prepare(schemes, snr, dataset=dataset, data_dir=data_dir, limit=limit, channel=channel,
                         coherence=coherence, realizations=realizations, seed=seed, device=device,
                         results_dir=results_dir, force=force, batch_size=batch_size, reference=reference,
                         threads=threads)
    return simulation.run(executor=executor, progress=progress)
