"""Trace the latent cosine similarity through the denoiser: true vs predicted, step by step.

For each SNR, every image is encoded, sent through the sweeps' common channel noise (same
seed/keys as ``simulate``, realisation 0) and denoised for ``--steps`` fixed steps.  Printed
per SNR (mean over images):

* ``true s_t`` = cos(y, z_t), the cosine similarity of the sent latent y and the latent after
  t − 1 denoising steps (t = 1 is the received latent);
* ``pred s_t``, the similarity predictor's estimate (s₁ from eq. 1 of the paper);
* the fraction of images whose *true* similarity fell at some step (when this is 0, a perfect
  predictor could never trigger the adaptive stop rule "stop when s decreases").

Usage::

    python scripts/similarity_trace.py [--snr -3,0,3,6,9,12] [--limit 8] [--alpha 1] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys

import torch

from simulator.channels import noise_generator, unit_noise
from simulator.cli_common import join_negative_values
from simulator.data import find_dataset, list_images, load_image
from simulator.link import awgn_latent
from simulator.models.denoiser import cosine_similarity, initial_similarity
from simulator.registry import create_scheme
from simulator.sweep import parse_snr_spec


def trace(scheme, y: torch.Tensor, image_id: str, snr_db: float, steps: int, seed: int
          ) -> tuple[list[float], list[float]]:
    """True and predicted similarity sequences, each ``steps + 1`` long, for one image's sent
    latent ``y [1, C, h, w]``."""
    noise = unit_noise(y.numel() // 2, noise_generator(seed, image_id, snr_db, 0)).unsqueeze(0)
    z = awgn_latent(y, snr_db, noise)
    s = initial_similarity(torch.tensor([snr_db]))
    true, pred = [cosine_similarity(y, z).item()], [s.item()]
    for _ in range(steps):
        z, s = scheme.denoiser.step(z, s)
        true.append(cosine_similarity(y, z).item())
        pred.append(s.item())
    return true, pred


@torch.no_grad()
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--snr", default="-3,0,3,6,9,12", help="SNR points in dB (simulate's forms)")
    p.add_argument("--limit", type=int, default=8, help="first N Kodak images (default 8)")
    p.add_argument("--steps", type=int, default=3, help="denoising steps traced (default 3 = T_max)")
    p.add_argument("--alpha", choices=("1", "0"), default="1", help="which shipped denoiser (SS-loss weight)")
    p.add_argument("--seed", type=int, default=0, help="channel-noise seed (as simulate)")
    p.add_argument("--dataset", default="kodak")
    p.add_argument("--data-dir")
    args = p.parse_args(join_negative_values(sys.argv[1:] if argv is None else argv, ["--snr"]))
    try:
        snrs = parse_snr_spec(args.snr)
        items = list_images(find_dataset(args.dataset, args.data_dir), args.limit)
    except Exception as exc:  # one-line error for bad input or missing data
        print(f"similarity_trace: {exc}", file=sys.stderr)
        return 2
    scheme = create_scheme(f"ours:alpha={args.alpha}:decoder=jscc")
    latents = [(item.image_id, scheme.encode(load_image(item.path)).latent.unsqueeze(0)) for item in items]
    header = " | ".join([f"true s{t + 1}" for t in range(args.steps + 1)] + [f"pred s{t + 1}" for t in range(args.steps + 1)])
    print(f"denoiser alpha={args.alpha}, {len(latents)} images, seed {args.seed}; s_t = cos(y, z_t), mean over images")
    print(f"| SNR (dB) | {header} | true s fell |")
    print("|" + " --- |" * (2 * args.steps + 4))
    for snr in snrs:
        traces = [trace(scheme, y, image_id, snr, args.steps, args.seed) for image_id, y in latents]
        true = torch.tensor([t for t, _ in traces])
        pred = torch.tensor([q for _, q in traces])
        fell = (true.diff(dim=1) < 0).any(dim=1).float().mean().item()
        cells = [f"{v:.4f}" for v in true.mean(0).tolist()] + [f"{v:.4f}" for v in pred.mean(0).tolist()]
        print(f"| {snr:g} | {' | '.join(cells)} | {fell:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
