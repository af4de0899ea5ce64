"""Split the SNR axis between ``ours``' phase-3 decoders and the phase-1 one, on validation crops.

A phase-3 decoder finetuned on a low-SNR band (``semcom-train finetune --snr-range=-3:6``) wins
there and loses at high SNR, where the phase-1 decoder, trained on clean latents, is better; one
finetuned on a mid band may win in between.  The receiver knows the SNR, so it can use each where
it wins.  This script measures the given phase-3 decoders (in band order, low first) and the
phase-1 decoder behind the same denoiser on the first ``--count`` BSDS500 ``val/`` 256² centre
crops (never test images) at every integer SNR (adaptive steps, each decoder at its own
calibrated stop margin, common noise), prints the table and picks the bands that maximise the
summed PSNR (:func:`simulator.training.calibrate.pick_bands`).  Each band's stop margin is then
calibrated through its decoder on its own SNRs (:func:`simulator.training.calibrate.calibrate_margin`,
same crops), from the top band down, and lowered to the margin of the band above where it exceeds
it: the steps kept depend on the margin and the SNR only, not on the decoder, so margins that rise
with SNR keep the mean steps falling across a hand-over (with a free margin per band they jumped
up where a decoder that needs no steps handed over to one that does), and a lower margin only
keeps more steps.  ``--write`` stores the first band's margin (``stop_margin_db``), the bands (``bands``) and
the table (``band_profile``) in the first decoder's card, which ``ours`` reads
(:mod:`simulator.schemes.ours`); every other phase-3 decoder is named by its file stem and hash,
and must be installed under that name beside it.

    nice -n 19 python scripts/decoder_switch.py checkpoints/ours-decoder-cpu.safetensors \
        runs/dec-mid/ours-decoder-mid-cpu.safetensors --denoiser checkpoints/denoiser-cpu-alpha1.safetensors --write
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator.checkpoints import CHECKPOINT_DIR, atomic_write_text, load_checkpoint, require_same_codec  # noqa: E402
from simulator.schemes.latent import load_jscc  # noqa: E402
from simulator.schemes.ours import PHASE1  # noqa: E402
from simulator.train_cli import validation_crops  # noqa: E402
from simulator.training.calibrate import calibrate_margin, pick_bands, steps_profile  # noqa: E402
from simulator.training.denoiser_task import load_denoiser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("decoders", type=Path, nargs="+",
                        help="phase-3 decoders (.safetensors with their cards), low band first; the first one's card gets the bands")
    parser.add_argument("--denoiser", type=Path, required=True, help="the denoiser they were trained behind")
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--count", type=int, default=16, help="validation crops (default 16)")
    parser.add_argument("--snr", default="-3:12", help="SNR points as simulate's --snr (default -3:12)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="store the bands in the first decoder's card")
    args = parser.parse_args()
    from simulator.sweep import parse_snr_spec

    torch.set_num_threads(args.threads)
    snrs = tuple(parse_snr_spec(args.snr))
    codec, jscc_card = load_jscc(CHECKPOINT_DIR / f"jscc-t-{args.config}.safetensors")
    den, den_card = load_denoiser(args.denoiser)
    names, decoders, cards = [], [], []
    for path in args.decoders:
        tensors, card = load_checkpoint(path, kind="jscc-decoder")
        require_same_codec(card, path, jscc_card["sha256"])
        if den_card["sha256"] != card["denoiser_sha256"]:
            raise SystemExit(f"decoder_switch: {path} was trained behind denoiser {card['denoiser_sha256'][:12]}…, "
                             f"not {args.denoiser} ({den_card['sha256'][:12]}…)")
        decoder = copy.deepcopy(codec.decoder)
        decoder.load_state_dict(tensors)
        names.append(path.stem)
        decoders.append(decoder)
        cards.append(card)
    names.append(PHASE1)
    decoders.append(codec.decoder)
    cards.append(den_card)
    images = validation_crops(None, count=args.count)
    t_max = int(den_card.get("t_max", 3))
    profiles = []
    for decoder, card in zip(decoders, cards):
        torch.manual_seed(0)
        profiles.append(steps_profile(den, codec.encoder, decoder, images, t_max, float(card["stop_margin_db"]), snrs))
    starts = pick_bands([{snr: p[snr][0] for snr in snrs} for p in profiles])
    print(f"# behind {args.denoiser}; {args.count} val crops; PSNR (dB) and mean steps, adaptive, per decoder")
    print("SNR  " + "  ".join(f"{name}  steps" for name in names))
    table: list[dict[str, Any]] = []
    for snr in snrs:
        print(f"{snr:4g}  " + "  ".join(f"{p[snr][0]:.2f}  {p[snr][1]:.2f}" for p in profiles))
        table.append({"snr_db": snr} | {name: {"psnr": round(p[snr][0], 4), "steps": round(p[snr][1], 4)}
                                        for name, p in zip(names, profiles)})
    edges = [None, *starts, None]
    spans = []  # (decoder index, start (None: the first band), the band's SNRs), low band first
    for d, start in enumerate(edges[:-1]):
        if start is not None or d == 0:
            end = next((e for e in edges[d + 1:] if e is not None), None)
            band_snrs = tuple(snr for snr in snrs if (start is None or snr >= start) and (end is None or snr < end))
            if band_snrs:
                spans.append((d, start, band_snrs))
    bands: list[dict[str, Any]] = []
    report = []
    margin = math.inf  # the margin of the band above, a ceiling: margins never fall with SNR
    for d, start, band_snrs in reversed(spans):
        torch.manual_seed(0)
        cal = calibrate_margin(den, codec.encoder, decoders[d], images, t_max, snrs_db=band_snrs, max_margin_db=margin)
        margin = cal.margin_db
        if start is not None:
            bands.insert(0, {"from_snr_db": start, "decoder": names[d], "stop_margin_db": margin}
                         | ({"sha256": cards[d]["sha256"]} if names[d] != PHASE1 else {}))
        report.insert(0, f"{names[d]} from {start} dB, stop margin {margin} dB; SNR: PSNR (steps) / best fixed T: "
                      + ", ".join(f"{snr:g}: {cal.adaptive_psnr[snr]:.2f} ({cal.adaptive_steps[snr]:.2f}) / "
                                  f"{max(cal.fixed_psnr[snr]):.2f}" for snr in band_snrs))
    print("\n".join(report))
    if args.write:
        card_path = args.decoders[0].with_suffix(".json")
        full = json.loads(card_path.read_text())
        full |= {"stop_margin_db": margin, "bands": bands, "band_profile": {"val_crops": args.count, "denoiser": str(args.denoiser), "points": table}}
        atomic_write_text(card_path, json.dumps(full, indent=2) + "\n")
        print(f"wrote {len(bands)} bands into {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
