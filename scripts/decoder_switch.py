"""Pick the SNR at which ``ours`` hands over from a low-band phase-3 decoder to the phase-1 one.

A phase-3 decoder finetuned on a low-SNR band (``semcom-train finetune --snr-range=-3:6``) wins
there and loses at high SNR, where the phase-1 decoder, trained on clean latents, is better.  The
receiver knows the SNR, so it can use each where it wins.  This script measures both behind the
same denoiser on the first ``--count`` BSDS500 ``val/`` 256² centre crops (never test images) at
every integer SNR (adaptive steps, each decoder at its own calibrated stop margin, common noise),
prints the table, and picks the switch: the lowest SNR from which the phase-1 decoder is at least
as good at every higher SNR.  Above the switch the receiver then stops denoising at a margin
calibrated through the phase-1 decoder on those SNRs alone
(:func:`simulator.training.calibrate.calibrate_margin`, same crops): at high SNR a step seldom
pays, and the denoiser's own margin was calibrated over −3…12 dB.  ``--write`` stores both in the
decoder's card (``switch_snr_db``, ``switch_stop_margin_db``, the table as ``switch_profile``),
which ``ours`` reads (:mod:`simulator.schemes.ours`).

    nice -n 19 python scripts/decoder_switch.py runs/dec-low/ours-decoder-cpu.safetensors \
        --denoiser runs/den-cont-a1/denoiser-cpu-alpha1.safetensors --write
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator.checkpoints import CHECKPOINT_DIR, atomic_write_text, load_checkpoint, require_same_codec  # noqa: E402
from simulator.schemes.latent import load_jscc  # noqa: E402
from simulator.train_cli import validation_crops  # noqa: E402
from simulator.training.calibrate import calibrate_margin, steps_profile  # noqa: E402
from simulator.training.denoiser_task import load_denoiser  # noqa: E402


def pick_switch(low: dict[float, float], high: dict[float, float]) -> float | None:
    """Lowest SNR from which ``high`` (PSNR per SNR) ≥ ``low`` at that SNR and every higher one."""
    switch = None
    for snr in sorted(low, reverse=True):
        if high[snr] < low[snr]:
            break
        switch = snr
    return switch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("decoder", type=Path, help="phase-3 decoder (.safetensors with its card)")
    parser.add_argument("--denoiser", type=Path, required=True, help="the denoiser it was trained behind")
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--count", type=int, default=16, help="validation crops (default 16)")
    parser.add_argument("--snr", default="-3:12", help="SNR points as simulate's --snr (default -3:12)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="store switch_snr_db and switch_stop_margin_db in the decoder's card")
    args = parser.parse_args()
    from simulator.sweep import parse_snr_spec

    torch.set_num_threads(args.threads)
    snrs = tuple(parse_snr_spec(args.snr))
    codec, jscc_card = load_jscc(CHECKPOINT_DIR / f"jscc-t-{args.config}.safetensors")
    tensors, card = load_checkpoint(args.decoder, kind="jscc-decoder")
    require_same_codec(card, args.decoder, jscc_card["sha256"])
    den, den_card = load_denoiser(args.denoiser)
    if den_card["sha256"] != card["denoiser_sha256"]:
        raise SystemExit(f"decoder_switch: {args.decoder} was trained behind denoiser {card['denoiser_sha256'][:12]}…, "
                         f"not {args.denoiser} ({den_card['sha256'][:12]}…)")
    images = validation_crops(None, count=args.count)
    t_max = int(den_card.get("t_max", 3))
    phase3 = copy.deepcopy(codec.decoder)
    phase3.load_state_dict(tensors)
    torch.manual_seed(0)
    high = steps_profile(den, codec.encoder, codec.decoder, images, t_max, float(den_card["stop_margin_db"]), snrs)
    torch.manual_seed(0)
    low = steps_profile(den, codec.encoder, phase3, images, t_max, float(card["stop_margin_db"]), snrs)
    switch = pick_switch({s: v[0] for s, v in low.items()}, {s: v[0] for s, v in high.items()})
    print(f"# {args.decoder} behind {args.denoiser}; {args.count} val crops; PSNR (dB) and mean steps, adaptive")
    print("SNR  phase-3  steps  phase-1  steps  difference")
    profile = []
    for snr in snrs:
        (pl, sl, _), (ph, sh, _) = low[snr], high[snr]
        print(f"{snr:4g}  {pl:.2f}  {sl:.2f}  {ph:.2f}  {sh:.2f}  {ph - pl:+.2f}")
        profile.append({"snr_db": snr, "phase3_psnr": round(pl, 4), "phase3_steps": round(sl, 4),
                        "phase1_psnr": round(ph, 4), "phase1_steps": round(sh, 4)})
    print(f"switch_snr_db: {switch}")
    margin = None
    if switch is not None:
        above = tuple(snr for snr in snrs if snr >= switch)
        torch.manual_seed(0)
        cal = calibrate_margin(den, codec.encoder, codec.decoder, images, t_max, snrs_db=above)
        margin = cal.margin_db
        print(f"switch_stop_margin_db: {margin} (denoiser's: {den_card['stop_margin_db']}); at that margin, SNR: "
              "PSNR (steps) / best fixed T: " + ", ".join(f"{snr:g}: {cal.adaptive_psnr[snr]:.2f} ({cal.adaptive_steps[snr]:.2f}) / "
                                                       f"{max(cal.fixed_psnr[snr]):.2f}" for snr in above))
    if args.write:
        card_path = args.decoder.with_suffix(".json")
        full = json.loads(card_path.read_text())
        full |= {"switch_snr_db": switch, "switch_stop_margin_db": margin, "switch_profile": {"val_crops": args.count, "denoiser": str(args.denoiser),
                                                             "points": profile}}
        atomic_write_text(card_path, json.dumps(full, indent=2) + "\n")
        print(f"wrote switch_snr_db = {switch}, switch_stop_margin_db = {margin} into {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
