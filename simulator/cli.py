"""``simulate``: sweep transmission schemes over SNR points on an image data set.

Examples::

    simulate --list-schemes
    simulate --scheme bpg-ldpc,bpg-capacity --snr -3:12 --plot
    simulate --scheme ours:steps=2,jscc-t --snr 0,5,10 --limit 4 --json
    simulate --scheme ours,jscc-t,bpg-ldpc --channel rayleigh-block --realizations 4
    simulate --scheme ours,jscc-t,cddm --reference cddm      # paired differences to cddm

Results go to ``<results-dir>/<dataset>/<scheme-slug>.jsonl`` (resumable, see
``docs/results-format.md``); the summary goes to stdout, progress and logs to stderr.
The command is a thin layer over :func:`simulator.simulate` (:mod:`simulator.api`): arguments
in, :class:`simulator.run.Run` out, printed.
Exit codes: 0 success, 1 runtime failure, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from simulator.api import Simulation, list_aliases, list_channels, list_schemes, prepare
from simulator.channels.registry import channel_plugin_of
from simulator.checkpoints import CheckpointError
from simulator.cli_common import Parser, parse_or_exit_code, positive_int, print_error, tqdm_progress
from simulator.data import DataError, download_kodak
from simulator.devices import DEVICE_FORMS, resolve_device
from simulator.options import describe_option
from simulator.plugins import Plugin, PluginWarning
from simulator.registry import envelopes_in, plugin_of
from simulator.results import ResultsError
from simulator.run import Run, format_table
from simulator.sweep import SNR_FORMS, SweepError, SweepTaskError
from simulator.sweep.distributed import ClusterError, add_cluster_arguments, executor_from_args, log_to_stderr

__all__ = ["main", "build_parser", "format_table"]

PROG = "simulate"


def build_parser() -> argparse.ArgumentParser:
    """The ``simulate`` argument parser."""
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scheme", help="comma list of scheme specs, e.g. 'bpg-ldpc,ours:steps=2' (see --list-schemes)")
    p.add_argument("--snr", default="-3:12", help=f"SNR points, Es/N0 dB: {SNR_FORMS} (default -3:12)")
    p.add_argument("--dataset", default="kodak", help="data-set name (looked up, see --data-dir) or a folder path")
    p.add_argument("--data-dir", help="folder holding data sets (else $SEMCOM_DATA, then ../shared/datasets)")
    p.add_argument("--limit", type=positive_int, help="only the first N images, sorted by name")
    p.add_argument("--realizations", type=positive_int, default=1, help="noise realisations per image and SNR")
    p.add_argument("--seed", type=int, default=0, help="channel-noise seed (common random numbers)")
    p.add_argument("--channel", default="awgn", help="channel model: awgn (default), rayleigh-block, rayleigh-fast, "
                   "or an installed plugin's (NAME or NAME:key=value; see --list-schemes)")
    p.add_argument("--coherence", type=positive_int, metavar="L",
                   help="rayleigh-block: channel uses per fading block (default: one block per image)")
    p.add_argument("--results-dir", default="results", help="root of the result files (default results/)")
    p.add_argument("--force", action="store_true", help="recompute points already in the result files")
    p.add_argument("--batch-size", type=positive_int, default=24, help="transmissions per transmit_batch call")
    p.add_argument("--reference", help="scheme spec the others are compared with, paired per image, SNR and "
                   "realisation (default: the first of --scheme when several are given)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--plot", nargs="?", const="", metavar="PATH", help="plot the curves (default <results>/<dataset>/psnr_msssim.png, + PDF)")
    p.add_argument("--list-schemes", action="store_true", help="list the schemes (built-in and plugins) and channels, and exit")
    p.add_argument("--download-kodak", metavar="DIR", help="download Kodak24 into DIR (needs a network) and exit")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads")
    p.add_argument("--device", default="auto", help=f"torch device of the learned schemes: {DEVICE_FORMS} "
                   "(default auto: the first GPU when CUDA is available; classical schemes run on the CPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_cluster_arguments(p)
    return p


def _simulation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`simulator.api.prepare` the command line gives."""
    return dict(
        dataset=args.dataset,
        data_dir=args.data_dir,
        limit=args.limit,
        channel=args.channel,
        coherence=args.coherence,
        realizations=args.realizations,
        seed=args.seed,
        results_dir=Path(args.results_dir),
        force=args.force,
        batch_size=args.batch_size,
        reference=args.reference,
        threads=args.threads,
        device=args.device,
    )


def _plugin_note(plugin: Plugin | None) -> str:
    return f" [plugin: {plugin.describe()}]" if plugin is not None else ""


def _list_schemes() -> str:
    """The text of ``--list-schemes``: schemes and their options, aliases, channels."""
    lines = []
    for name, cls in list_schemes().items():
        lines.append(f"{name:<16} {cls.description}{_plugin_note(plugin_of(name))}".rstrip())
        lines += [f"{'':<18}{describe_option(key, option)}" for key, option in cls.options_schema.items()]
    lines.append("")
    aliases = list_aliases()
    envelopes = envelopes_in(",".join(aliases))
    for alias, names in aliases.items():
        lines.append(f"{alias:<16} {'best of' if alias in envelopes else 'alias for'} {', '.join(names)}")
    lines += ["", "channels (--channel):"]
    for name, cls in list_channels().items():
        plugin = channel_plugin_of(name)
        lines.append(f"{name:<16} {cls.description}{_plugin_note(plugin)}".rstrip())
        if plugin is not None:
            params = [q.name for q in inspect.signature(cls).parameters.values()
                      if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
            if params:
                lines.append(f"{'':<18}options: {', '.join(params)} ({name}:key=value)")
    return "\n".join(lines)


def _err(message: object) -> None:
    print_error(PROG, message)


def _sweep(simulation: Simulation, args: argparse.Namespace) -> Run:
    """Run the checked request, on a Dask cluster when the cluster flags ask for one."""
    log_to_stderr(PROG)
    with executor_from_args(args) as executor:
        return simulation.run(executor=executor, progress=None if args.no_progress else tqdm_progress("pt"))


def main(argv: list[str] | None = None) -> int:
    """Run the ``simulate`` command; returns the exit code."""
    args = parse_or_exit_code(build_parser(), argv, ("--snr", "--seed"), PROG)
    if isinstance(args, int):
        return args
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *rest: Any, **kwargs: Any) -> None:
            if issubclass(category, PluginWarning):  # one line, like the errors
                print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)
            else:
                shown(message, category, *rest, **kwargs)

        warnings.showwarning = show
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    if args.list_schemes:
        try:
            print(_list_schemes())
        except ValueError as exc:  # two plugins claim one name
            _err(exc)
            return 2
        return 0
    if args.download_kodak:
        try:
            folder = download_kodak(Path(args.download_kodak))
        except DataError as exc:
            _err(exc)
            return 1
        print(f"Kodak24 in {folder}", file=sys.stderr)
        if not args.scheme:
            return 0
    if not args.scheme:
        _err("no --scheme given (see --list-schemes)")
        return 2

    try:
        args.device = str(resolve_device(args.device))
        simulation = prepare(args.scheme, args.snr, **_simulation_kwargs(args))
    except (ValueError, DataError, CheckpointError, ImportError, OSError) as exc:
        _err(exc)
        return 2
    try:
        run = _sweep(simulation, args)
    except (DataError, ClusterError) as exc:
        _err(exc)
        return 2
    except (ResultsError, SweepError, SweepTaskError) as exc:
        _err(exc)
        return 1
    except KeyboardInterrupt:
        _err("interrupted; rerun the same command to resume")
        return 130
    for spec, path in run.result_files.items():
        print(f"{spec}: {path}", file=sys.stderr)

    summary = run.summary()
    if args.json:
        print(json.dumps([s.to_json() for s in summary], indent=2))
    else:
        print(format_table(summary, run.reference))
    if args.plot is not None:
        for path in run.plot(Path(args.plot) if args.plot else None, stored=True):
            print(f"plot: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
