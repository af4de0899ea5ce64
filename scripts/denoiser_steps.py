"""Adaptive step count and PSNR of denoiser checkpoints at every integer SNR, on validation crops.

Issue 23 asks that the mean adaptive steps fall with SNR without a ripple between the SNRs the
denoiser was trained on.  For each checkpoint (``.safetensors`` with its card beside it, trained
behind the shipped codec) this runs :func:`simulator.training.calibrate.steps_profile` on the
first ``--count`` BSDS500 ``val/`` 256² centre crops (never test images) at the card's stop
margin, through the phase-1 decoder, and prints one row per SNR: steps, adaptive PSNR, PSNR
after 0 … T_max fixed steps.  Same seed for every checkpoint, so the noise is common.

    nice -n 19 python scripts/denoiser_steps.py checkpoints/denoiser-cpu-alpha1.safetensors runs/den-cont-a1/denoiser-cpu-alpha1.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator.checkpoints import CHECKPOINT_DIR, require_same_codec  # noqa: E402
from simulator.schemes.latent import load_jscc  # noqa: E402
from simulator.train_cli import validation_crops  # noqa: E402
from simulator.training.calibrate import steps_profile  # noqa: E402
from simulator.training.denoiser_task import load_denoiser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("denoisers", nargs="+", type=Path)
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--count", type=int, default=16, help="validation crops (default 16)")
    parser.add_argument("--snr", default="-3:12", help="SNR points as simulate's --snr (default -3:12)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from simulator.sweep import parse_snr_spec

    torch.set_num_threads(args.threads)
    snrs = tuple(parse_snr_spec(args.snr))
    codec, jscc_card = load_jscc(CHECKPOINT_DIR / f"jscc-t-{args.config}.safetensors")
    images = validation_crops(None, count=args.count)
    for path in args.denoisers:
        den, card = load_denoiser(path)
        require_same_codec(card, path, jscc_card["sha256"])
        torch.manual_seed(0)
        prof = steps_profile(den, codec.encoder, codec.decoder, images, int(card.get("t_max", 3)),
                             float(card["stop_margin_db"]), snrs)
        print(f"# {path} ({card['iterations']} it, margin {card['stop_margin_db']} dB)")
        print("SNR  steps  adaptive  fixed T=0..T_max")
        for snr, (adaptive, steps, fixed) in prof.items():
            print(f"{snr:4g}  {steps:.2f}  {adaptive:.2f}  " + " ".join(f"{v:.2f}" for v in fixed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
