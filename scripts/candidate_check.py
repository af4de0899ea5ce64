"""Measure candidate receiver weights on a test set with ``simulate``, without touching the shipped ones.

Builds a temporary checkpoint folder holding every shipped ``checkpoints/*`` file (symlinks),
with each ``--use NAME=PATH`` (a ``.safetensors`` with its ``.json`` card beside it) in place of
``checkpoints/NAME.*``, and runs ``simulate --json`` there with a temporary results folder, so the
committed rows stay as they are.  Prints one line per scheme and SNR (PSNR, steps where known).
Usage (nice it: it is a sweep)::

    nice -n 19 python scripts/candidate_check.py --use denoiser-cpu-alpha1=checkpoints/candidates/denoiser-cpu-alpha1-cont.safetensors \\
        --scheme ours:decoder=jscc,jscc-t --snr=-3,2,7,12 --limit 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkpoint_folder(folder: Path, uses: dict[str, Path]) -> None:
    """Fill ``folder``: links to the shipped weights and cards, the candidates in place of their names."""
    for path in (ROOT / "checkpoints").iterdir():
        if path.is_file():
            (folder / path.name).symlink_to(path)
    for name, weights in uses.items():
        for suffix in (".safetensors", ".json"):
            target = folder / f"{name}{suffix}"
            target.unlink(missing_ok=True)
            target.symlink_to(weights.with_suffix(suffix).resolve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--use", action="append", default=[], metavar="NAME=PATH",
                        help="checkpoint NAME (e.g. denoiser-cpu-alpha1) taken from PATH (.safetensors, card beside it)")
    parser.add_argument("--scheme", required=True, help="simulate's --scheme")
    parser.add_argument("--snr", default="-3,2,7,12", help="simulate's --snr")
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--dataset", default=None, help="simulate's --dataset (default Kodak24)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    uses: dict[str, Path] = {}
    for item in args.use:
        name, _, path = item.partition("=")
        weights = Path(path)
        if not name or not weights.with_suffix(".json").is_file() or not weights.with_suffix(".safetensors").is_file():
            print(f"candidate_check: bad --use {item!r}; accepted: NAME=PATH.safetensors with its .json card beside it",
                  file=sys.stderr)
            return 2
        uses[name] = weights
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoints"
        ckpt.mkdir()
        checkpoint_folder(ckpt, uses)
        cmd = ["simulate", "--scheme", args.scheme, f"--snr={args.snr}", "--results-dir", str(Path(tmp) / "results"),
               "--threads", str(args.threads), "--json", "--no-progress"]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        if args.dataset:
            cmd += ["--dataset", args.dataset]
        proc = subprocess.run(cmd, env=dict(os.environ, SEMCOM_CHECKPOINTS=str(ckpt)), capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr[-2000:])
        return proc.returncode
    for row in json.loads(proc.stdout):
        steps = (row.get("extras") or {}).get("steps")
        extra = f"  steps {steps:.2f}" if isinstance(steps, (int, float)) else ""
        print(f"{row['scheme']}  {float(row['snr_db']):g} dB  PSNR {float(row['psnr']):.2f}  "
              f"MS-SSIM {float(row['ms_ssim']):.4f}  ({row['n_images']} images){extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
