"""``simulate``: sweep transmission schemes over SNR points on an image data set.

Examples::

    simulate --list-schemes
    simulate --scheme bpg-ldpc,bpg-capacity --snr -3:12 --plot
    simulate --scheme ours:steps=2,jscc-t --snr 0,5,10 --limit 4 --json
    simulate --scheme ours,jscc-t,bpg-ldpc --channel rayleigh-block --realizations 4
    simulate --scheme ours,jscc-t,cddm --reference cddm      # paired differences to cddm

Results go to ``<results-dir>/<dataset>/<scheme-slug>.jsonl`` (resumable, see
``docs/results-format.md``); the summary goes to stdout, progress and logs to stderr.
Exit codes: 0 success, 1 runtime failure, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from simulator.channels import CHANNELS, make_channel
from simulator.checkpoints import CheckpointError
from simulator.cli_common import Parser, parse_or_exit_code, positive_int, print_error, tqdm_progress
from simulator.data import DataError, download_kodak, find_dataset, list_images
from simulator.options import describe_option
from simulator.registry import available_aliases, available_schemes, canonical_spec, create_scheme, envelopes_in, parse_scheme_list
from simulator.results import ResultsError, SummaryRow, envelope, summarize
from simulator.sweep import SNR_FORMS, SweepConfig, parse_snr_spec, run_sweep

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
    p.add_argument("--channel", default="awgn", help=f"channel model: {', '.join(CHANNELS)} (default awgn)")
    p.add_argument("--coherence", type=positive_int, metavar="L",
                   help="rayleigh-block: channel uses per fading block (default: one block per image)")
    p.add_argument("--results-dir", default="results", help="root of the result files (default results/)")
    p.add_argument("--force", action="store_true", help="recompute points already in the result files")
    p.add_argument("--batch-size", type=positive_int, default=24, help="transmissions per transmit_batch call")
    p.add_argument("--reference", help="scheme spec the others are compared with, paired per image, SNR and "
                   "realisation (default: the first of --scheme when several are given)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--plot", nargs="?", const="", metavar="PATH", help="plot the curves (default <results>/<dataset>/psnr_msssim.png, + PDF)")
    p.add_argument("--list-schemes", action="store_true", help="list the schemes and exit")
    p.add_argument("--download-kodak", metavar="DIR", help="download Kodak24 into DIR (needs a network) and exit")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _fmt(value: float | None, digits: int, ci: float | None = None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if ci is not None and math.isfinite(ci):
        text += f" ± {ci:.{digits}f}"
    return text


def _fmt_diff(value: float | None, digits: int, ci: float | None) -> str:
    return "" if value is None else ("+" if value >= 0 else "") + _fmt(value, digits, ci)


def format_table(summary: list[SummaryRow], reference: str | None = None) -> str:
    """A plain-text table of the summary, one line per (scheme, SNR); with ``reference``, two
    more columns after MS-SSIM: the paired PSNR and MS-SSIM differences to it with their 95 % CI."""
    diff_header = (f"ΔPSNR vs {reference}", f"ΔMS-SSIM vs {reference}") if reference is not None else ()
    header = ("scheme", "SNR dB", "PSNR dB", "MS-SSIM", *diff_header, "images", "rx ms", "delivered", "extras")
    lines = []
    for s in summary:
        d = s.vs_reference
        diffs = () if reference is None else ("", "") if d is None else (
            _fmt_diff(d.psnr, 3, d.psnr_ci95), _fmt_diff(d.ms_ssim, 4, d.ms_ssim_ci95))
        lines.append((
            s.scheme if s.chosen is None else f"{s.scheme} = {s.chosen}",
            f"{s.snr_db:g}",
            _fmt(s.psnr, 2, s.psnr_ci95),
            _fmt(s.ms_ssim, 4, s.ms_ssim_ci95),
            *diffs,
            str(s.n_images),
            _fmt(s.receiver_ms, 1),
            "" if s.delivered is None else f"{s.delivered:.2f}",
            " ".join(f"{k}={v:.3g}" for k, v in s.extras.items()),
        ))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *lines])


def _list_schemes() -> str:
    lines = []
    for name, cls in available_schemes().items():
        lines.append(f"{name:<16} {cls.description}".rstrip())
        lines += [f"{'':<18}{describe_option(key, option)}" for key, option in cls.options_schema.items()]
    lines.append("")
    aliases = available_aliases()
    envelopes = envelopes_in(",".join(aliases))
    for alias, names in aliases.items():
        lines.append(f"{alias:<16} {'best of' if alias in envelopes else 'alias for'} {', '.join(names)}")
    return "\n".join(lines)


def _err(message: object) -> None:
    print_error(PROG, message)


def main(argv: list[str] | None = None) -> int:
    """Run the ``simulate`` command; returns the exit code."""
    args = parse_or_exit_code(build_parser(), argv, ("--snr", "--seed"), PROG)
    if isinstance(args, int):
        return args

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.list_schemes:
        print(_list_schemes())
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
        specs = parse_scheme_list(args.scheme)
        snrs = parse_snr_spec(args.snr)
        folder = find_dataset(args.dataset, args.data_dir)
        images = list_images(folder, args.limit)
        config = SweepConfig(
            snrs=snrs,
            dataset=folder.name,
            realizations=args.realizations,
            seed=args.seed,
            results_dir=Path(args.results_dir),
            force=args.force,
            batch_size=args.batch_size,
            channel=make_channel(args.channel, args.coherence),
        )
        envelopes = envelopes_in(args.scheme)
        reference = canonical_spec(args.reference) if args.reference else (specs[0] if len(specs) > 1 else None)
        if reference is not None and reference not in specs:
            raise ValueError(f"--reference {reference!r} is not one of the swept schemes; accepted: {', '.join(specs)}")
        schemes = [(spec, create_scheme(spec)) for spec in specs]
    except (ValueError, DataError, CheckpointError, ImportError, OSError) as exc:
        _err(exc)
        return 2

    rows = []
    try:
        for spec, scheme in schemes:
            rows += run_sweep(scheme, spec, images, config, progress=None if args.no_progress else tqdm_progress("img"))
            print(f"{spec}: {config.result_file(spec)}", file=sys.stderr)
    except DataError as exc:
        _err(exc)
        return 2
    except ResultsError as exc:
        _err(exc)
        return 1
    except KeyboardInterrupt:
        _err("interrupted; rerun the same command to resume")
        return 130

    summary = summarize(rows, reference)
    for name, members in envelopes.items():
        summary += envelope(summary, name, members)
    if args.json:
        print(json.dumps([s.to_json() for s in summary], indent=2))
    else:
        print(format_table(summary, reference))
    if args.plot is not None:
        from simulator.plot import plot_results

        out = Path(args.plot) if args.plot else config.result_file("psnr_msssim").with_suffix(".png")
        files = [config.result_file(spec) for spec, _ in schemes]
        for path in plot_results(files, out):
            print(f"plot: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
