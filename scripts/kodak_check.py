"""Test a phase-1 campaign checkpoint on Kodak24 with ``simulate`` (the sweep's own noise).

The campaign validates on BSDS500 ``val/`` at 13 dB; the issue's targets are Kodak24 PSNR at
12 and −3 dB.  This runs ``simulate --scheme jscc-t:config=<its config>`` on the checkpoint
given (a ``.safetensors`` with its ``.json`` card beside it) through a temporary
``SEMCOM_CHECKPOINTS`` folder and a temporary results folder, so nothing shipped is touched,
and prints one line per checkpoint: iterations, CPU-hours, validation PSNR, Kodak PSNR per SNR.
Usage::

    python scripts/kodak_check.py runs/study/cpu-bf16/w.safetensors --snr -3,12
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def kodak_psnr(weights: Path, snr: str, threads: int) -> tuple[dict, dict[float, float]]:
    card = json.loads(weights.with_suffix(".json").read_text())
    config = card["config_name"]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoints"
        ckpt.mkdir()
        (ckpt / f"jscc-t-{config}.safetensors").symlink_to(weights.resolve())
        (ckpt / f"jscc-t-{config}.json").write_text(json.dumps(card))
        env = dict(os.environ, SEMCOM_CHECKPOINTS=str(ckpt))
        out = subprocess.run(
            ["simulate", "--scheme", f"jscc-t:config={config}", "--snr", snr, "--results-dir",
             str(Path(tmp) / "results"), "--threads", str(threads), "--json", "--no-progress"],
            env=env, check=True, capture_output=True, text=True).stdout
    return card, {float(row["snr_db"]): float(row["psnr"]) for row in json.loads(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="+", type=Path, help="phase-1 .safetensors (card beside it)")
    parser.add_argument("--snr", default="-3,12", help="SNR points in dB, as simulate's --snr")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for weights in args.weights:
        if not weights.with_suffix(".json").is_file():
            print(f"kodak_check: no card beside {weights}", file=sys.stderr)
            return 2
        card, psnr = kodak_psnr(weights, args.snr, args.threads)
        kodak = "  ".join(f"{snr:g} dB: {value:.2f}" for snr, value in sorted(psnr.items()))
        print(f"{weights}: {card['iterations']} it, {card.get('cpu_hours', 0):.2f} CPU-h, "
              f"val {card['validation']['val_psnr']:.2f} dB | Kodak24 {kodak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
