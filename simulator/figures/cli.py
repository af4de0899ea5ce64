"""The ``semcom-figures`` command line: parses options into :class:`FigureSettings`, makes the figures
and prints a summary line per figure (the figures themselves: :mod:`simulator.figures`).

Exit codes: 0 success, 1 a figure could not be made, 2 bad input, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from simulator import figures
from simulator.cli_common import (
    Parser,
    parse_or_exit_code,
    positive_int,
    print_error,
    tqdm_progress,
)
from simulator.data import DataError
from simulator.devices import DEVICE_FORMS, resolve_device
from simulator.figures import (
    EXTRA_FIGURES,
    FIGURES,
    FigureContext,
    FigureError,
    FigureSettings,
    make_figure,
)
from simulator.figures.fig7 import FIG7_DEFAULT_IMAGE, find_fig7_image
from simulator.registry import available_aliases, available_schemes
from simulator.results import ResultsError
from simulator.sweep import SNR_FORMS, SweepError, SweepTaskError, parse_snr_spec
from simulator.sweep.distributed import ClusterError, add_cluster_arguments, executor_from_args, log_to_stderr

__all__ = ["build_parser", "main"]

PROG = "semcom-figures"


def _crop(text: str) -> tuple[int, int, int]:
    try:
        x, y, size = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not X,Y,SIZE (three integers)") from None
    if x < 0 or y < 0 or size < 4:
        raise argparse.ArgumentTypeError(f"{text!r}: need X, Y >= 0 and SIZE >= 4")
    return x, y, size


def build_parser() -> argparse.ArgumentParser:
    """The ``semcom-figures`` argument parser."""
    p = Parser(prog=PROG, description=(figures.__doc__ or "").split("\n\n")[0])
    p.add_argument("figure", choices=[*FIGURES, *EXTRA_FIGURES, "all"],
                   help="what to make (all = the paper's figures; fading: Fig. 4 under Rayleigh fading; "
                        "mcs: every MCS of BPG + LDPC and its envelope; claims: the paper's claims checked)")
    p.add_argument("--quick", action="store_true", help="first 2 images, SNR -3,2,7,12, 1 latency repeat, "
                   "figures in OUT/quick, rows in OUT/quick/results")
    p.add_argument("--out", default="results/paper", help="output folder (default results/paper)")
    p.add_argument("--config", default="cpu", help="weights set of the learned schemes: cpu, paper or tiny")
    p.add_argument("--dataset", default="kodak", help="data-set name (looked up, see --data-dir) or a folder path")
    p.add_argument("--data-dir", help="folder holding data sets (else $SEMCOM_DATA, then ../shared/datasets)")
    p.add_argument("--results-dir", help="result store (default results/, with --quick OUT/quick/results)")
    p.add_argument("--snr", help=f"SNR points of Figs. 4-6: {SNR_FORMS} (default -3:12, quick -3,2,7,12)")
    p.add_argument("--limit", type=positive_int, help="only the first N images (quick: 2)")
    p.add_argument("--seed", type=int, default=0, help="channel-noise seed (common random numbers)")
    p.add_argument("--realizations", type=positive_int, default=1,
                   help="channel realisations per image and SNR (fading: use 4 or more)")
    p.add_argument("--batch-size", type=positive_int, default=24, help="transmissions per transmit_batch call")
    p.add_argument("--fig7-image", help=f"Fig. 7 image id or file stem (default {FIG7_DEFAULT_IMAGE}, else the first)")
    p.add_argument("--fig7-snr", type=float, default=0.0, help="Fig. 7 SNR in dB (default 0)")
    p.add_argument("--fig7-crop", type=_crop, help="Fig. 7 zoom window X,Y,SIZE in pixels (default: most textured)")
    p.add_argument("--latency-images", type=positive_int, help="images timed for Table I (default 4, quick 2)")
    p.add_argument("--latency-repeats", type=positive_int, help="timed rounds for Table I (default 3, quick 1)")
    p.add_argument("--latency-budget", type=float,
                   help="Table I time per scheme, SNR and round as a multiple of the fastest scheme's round over all "
                   "images: slower schemes (CDDM) are timed on fewer images per round, in turn (default 2, "
                   "quick: off; 0 = every image every round)")
    p.add_argument("--latency-warmup", type=int, default=1, help="untimed transmissions per scheme and SNR first")
    p.add_argument("--latency-threads", type=positive_int, default=1,
                   help="torch CPU threads while Table I times on the CPU (default 1: per-image latency, as the paper's; "
                   "--threads sets the sweeps')")
    p.add_argument("--scheme-option", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="extra option for every spec of scheme NAME (or alias bpg-ldpc), e.g. bpg-ldpc:decoder=sionna; "
                   "repeatable; options a figure sets itself (steps, s1, alpha, decoder) are kept")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads")
    p.add_argument("--device", default="auto", help=f"torch device of the learned schemes' sweeps: {DEVICE_FORMS} "
                   "(default auto: the first GPU when CUDA is available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_cluster_arguments(p)
    return p


def _scheme_options(items: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items:
        name, sep, rest = item.partition(":")
        pairs = [opt.split("=", 1) for opt in rest.split(":")] if sep else []
        if not name or not pairs or any(len(p) != 2 or not p[0] for p in pairs):
            raise ValueError(f"bad --scheme-option {item!r}; expected NAME:KEY=VALUE[:KEY=VALUE]")
        known = [*available_schemes(), *available_aliases()]
        if name not in known:
            raise ValueError(f"bad --scheme-option {item!r}: unknown scheme {name!r}; accepted: {', '.join(known)}")
        out.setdefault(name, {}).update({k.strip(): v.strip() for k, v in pairs})
    return out


def _err(message: object) -> None:
    print_error(PROG, message)


def main(argv: list[str] | None = None) -> int:
    """Run ``semcom-figures``; returns the exit code."""
    args = parse_or_exit_code(build_parser(), argv, ("--snr", "--seed", "--fig7-snr"), PROG)
    if isinstance(args, int):
        return args
    try:
        args.device = str(resolve_device(args.device))
    except ValueError as exc:
        _err(exc)
        return 2
    log_to_stderr(PROG)
    try:
        with executor_from_args(args) as executor:
            return _run(args, executor)
    except ClusterError as exc:
        _err(exc)
        return 2


def _run(args: argparse.Namespace, executor: object) -> int:
    """Make the figures of ``args``, their sweeps on ``executor`` (``None``: in this process)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        settings = FigureSettings(
            out=Path(args.out), quick=args.quick, config=args.config, dataset=args.dataset, data_dir=args.data_dir,
            results_dir=Path(args.results_dir) if args.results_dir else None,
            snrs=parse_snr_spec(args.snr) if args.snr else None, limit=args.limit, seed=args.seed,
            realizations=args.realizations, batch_size=args.batch_size, fig7_image=args.fig7_image,
            fig7_snr=args.fig7_snr, fig7_crop=args.fig7_crop, latency_images=args.latency_images,
            latency_repeats=args.latency_repeats, latency_warmup=args.latency_warmup,
            latency_budget=args.latency_budget, latency_threads=args.latency_threads, device=args.device,
            scheme_options=_scheme_options(args.scheme_option))
        ctx = FigureContext(settings, None if args.no_progress else tqdm_progress("pt", leave=False), executor)
    except (ValueError, DataError) as exc:
        _err(exc)
        return 2

    names = list(FIGURES) if args.figure == "all" else [args.figure]
    if "fig7" in names and settings.fig7_image:
        try:
            find_fig7_image(ctx)
        except FigureError as exc:
            _err(exc)
            return 2
    failed = []
    for name in names:
        try:
            report = make_figure(name, ctx)
        except FigureError as exc:
            _err(exc)
            failed.append(name)
            continue
        except (DataError, ResultsError, SweepError, SweepTaskError) as exc:
            _err(f"{name}: {exc}")
            failed.append(name)
            continue
        except KeyboardInterrupt:
            _err("interrupted; rerun the same command to resume the sweeps")
            return 130
        for warning in report.warnings:
            print(f"{PROG}: warning: {name}: {warning}", file=sys.stderr)
        kinds = ",".join(sorted({p.suffix.lstrip(".") for p in report.files}))
        print(f"{name}: {report.summary} -> {settings.figure_dir / name}.{{{kinds}}}")
    done = len(names) - len(failed)
    print(f"{done}/{len(names)} written under {settings.figure_dir} (rows in {settings.results_dir}) "
          f"in {time.perf_counter() - t0:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0



if __name__ == "__main__":
    sys.exit(main())
