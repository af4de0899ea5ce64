"""``semcom-train``: the training commands of every learned component.

    semcom-train jscc     --config cpu --snr 13 --iters N --crop 128 --batch B
    semcom-train denoiser --config cpu --alpha 1 --snr 0,2,4,6,8,10 ...
    semcom-train denoiser --config cpu --alpha 1 --snr-range 0:10 ...   (continuous, uniform in dB)
    semcom-train finetune --config cpu ...
    semcom-train cddm     --config cpu ...
    semcom-train decoder  --config cpu --snr=-3 ...   (the no-denoiser upper reference at one SNR)
    semcom-train finetune-snr --config cpu ...        (phase 3, SNR-conditioned decoder, -3..12 dB)
    semcom-train jscc-sa  --config cpu ...            (jscc-t-sa from the shipped JSCC-T, -3..12 dB)

``--train-channel rayleigh-block|rayleigh-fast`` (phases jscc, denoiser, finetune) trains under
fading with the sweep's receivers (MMSE-equalised latent, effective SNR); the weights then go to
``checkpoints/<channel>/`` by default, for ``SEMCOM_CHECKPOINTS=checkpoints/<channel> simulate ...``.

Every command is resumable: rerun the same command after a kill and it continues from the
run folder's last save.  Multi-process: ``torchrun --nproc_per_node K -m simulator.train_cli ...``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

import torch

from simulator.channels import CHANNELS
from simulator.checkpoints import CHECKPOINT_DIR
from simulator.data import DataError, find_dataset, list_images, load_image
from simulator.models.swin import ATTENTION_PATHS, set_attention_path
from simulator.devices import DEVICE_FORMS
from simulator.training.loop import OPTIMIZERS, SCHEDULES, Task, TrainSettings, is_distributed, train, training_device

__all__ = ["main", "parse_snr_range", "validation_crops"]

PHASES: dict[str, str] = {
    "jscc": "phase 1: JSCC-T encoder+decoder end to end (MSE) at the given SNR(s)",
    "denoiser": "phase 2: the SS-conditioned residual latent denoiser (encoder frozen)",
    "finetune": "phase 3: finetune the JSCC decoder behind the frozen encoder+denoiser",
    "cddm": "CDDM: the channel-denoising diffusion model (encoder frozen)",
    "cddm-finetune": "CDDM phase 3: finetune the JSCC decoder behind the frozen encoder+CDDM",
    "decoder": "upper reference: finetune the JSCC decoder on the noisy latents (encoder frozen, no denoiser)",
    "finetune-snr": "phase 3 with an SNR-conditioned decoder (SNR modulation after each stage) behind the denoiser",
    "jscc-sa": "jscc-t-sa: the JSCC-T codec made SNR-adaptive (modulated encoder+decoder), finetuned from it",
}

#: the phases that take ``--train-channel`` (CDDM trains its ε-network off the channel).
TRAIN_CHANNEL_PHASES = ("jscc", "denoiser", "finetune", "decoder", "finetune-snr", "jscc-sa")
DEFAULT_SNRS = {"jscc": "13", "denoiser": "0,2,4,6,8,10", "finetune": "0,2,4,6,8,10", "cddm": "0,2,4,6,8,10",
                "cddm-finetune": "0,2,4,6,8,10", "decoder": "-3", "finetune-snr": "0,2,4,6,8,10", "jscc-sa": "13"}
#: phases that train over a continuous SNR range unless told otherwise: the sweep's (dB).
DEFAULT_SNR_RANGES = {"finetune-snr": "-3:12", "jscc-sa": "-3:12"}


#: Validation images: BSDS500's ``val/`` split, never trained on (``--exclude``) and not the
#: Kodak24 test set.
DEFAULT_VAL_DATA = "train/bsds500/val"
#: Phase-1 precision defaults to bf16 autocast (measured in benchmarks/bench_train.py and
#: docs/training.md); the later phases keep float32.
DEFAULT_PRECISION = {"jscc": "bf16", "jscc-sa": "bf16"}


def validation_crops(data_dir: str | None, name: str = DEFAULT_VAL_DATA, count: int = 16, size: int = 256) -> torch.Tensor:
    """``[count, 3, size, size]`` centre crops of the first ``count`` images of a data set."""
    items = list_images(find_dataset(name, data_dir), limit=count)
    crops = []
    for item in items:
        img = load_image(item.path)
        h, w = img.shape[-2:]
        s = min(size, h, w) // 16 * 16
        top, left = (h - s) // 2, (w - s) // 2
        crops.append(img[:, top : top + s, left : left + s])
    s = min(c.shape[-1] for c in crops)
    return torch.stack([c[:, :s, :s] for c in crops])


def parse_snr_range(text: str) -> tuple[float, float]:
    """``"LO:HI"`` (dB) → ``(lo, hi)`` with finite lo < hi; else one-line ``ArgumentTypeError``."""
    parts = text.split(":")
    try:
        lo, hi = (float(x) for x in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise argparse.ArgumentTypeError(f"bad SNR range {text!r}; accepted: LO:HI in dB with LO < HI, e.g. 0:10")
    return lo, hi


def _build_task(args: argparse.Namespace) -> Task:
    if args.phase == "jscc":
        from simulator.models.jscc import JSCC_CONFIGS
        from simulator.training.jscc_task import JSCCTask

        from simulator.training.denoiser_task import train_channel

        return JSCCTask(JSCC_CONFIGS[args.config], args.config, val_snr_db=args.snrs[0], channel=train_channel(args))
    if args.phase in ("denoiser", "finetune"):
        from simulator.training.denoiser_task import DenoiserTask, FinetuneTask

        cls = DenoiserTask if args.phase == "denoiser" else FinetuneTask
        return cls.from_args(args)
    if args.phase == "decoder":
        from simulator.training.reference_decoder import ReferenceDecoderTask

        return ReferenceDecoderTask.from_args(args)
    if args.phase in ("finetune-snr", "jscc-sa"):
        from simulator.training.snr_tasks import JSCCSATask, SNRFinetuneTask

        return (SNRFinetuneTask if args.phase == "finetune-snr" else JSCCSATask).from_args(args)
    from baselines.cddm.training import CDDMFinetuneTask, CDDMTask

    return (CDDMTask if args.phase == "cddm" else CDDMFinetuneTask).from_args(args)


def _default_output(args: argparse.Namespace) -> Path:
    names = {"jscc": f"jscc-t-{args.config}", "finetune": f"ours-decoder-{args.config}",
             "denoiser": f"denoiser-{args.config}-alpha{args.alpha:g}", "cddm": f"cddm-{args.config}",
             "cddm-finetune": f"cddm-decoder-{args.config}", "decoder": f"reference-decoder-{args.config}",
             "finetune-snr": f"ours-decoder-snr-{args.config}", "jscc-sa": f"jscc-t-sa-{args.config}"}
    from simulator.training.denoiser_task import train_channel

    tag = train_channel(args).tag
    return (CHECKPOINT_DIR / tag if tag else CHECKPOINT_DIR) / f"{names[args.phase]}.safetensors"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semcom-train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    for phase, help_text in PHASES.items():
        p = sub.add_parser(phase, help=help_text)
        p.add_argument("--config", default="cpu", help="codec configuration: cpu, mid, large, paper or tiny (default cpu)")
        p.add_argument("--data-dir", default=None, help="folder holding the data sets (else $SEMCOM_DATA, ../shared/datasets)")
        p.add_argument("--train-data", default="train", help="training image folder name or path (default: train)")
        p.add_argument("--exclude", default="val,test",
                       help="folder names under the training data never trained on (default: val,test)")
        p.add_argument("--val-data", default=DEFAULT_VAL_DATA,
                       help=f"validation image folder (default: {DEFAULT_VAL_DATA}; centre crops)")
        p.add_argument("--val-count", type=int, default=16, help="validation images (256² centre crops; default 16)")
        p.add_argument("--snr", default=DEFAULT_SNRS[phase], help=f"training SNR(s) in dB, e.g. 13, 0,2,4 or 0:10:2 (default {DEFAULT_SNRS[phase]})")
        p.add_argument("--snr-range", type=parse_snr_range, default=DEFAULT_SNR_RANGES.get(phase), metavar="LO:HI",
                       help="draw each sample's SNR uniformly in dB from the continuous interval [LO, HI] "
                            f"(replaces --snr; negative LO as --snr-range=-3:12; default {DEFAULT_SNR_RANGES.get(phase)})")
        p.add_argument("--iters", type=int, default=10_000)
        p.add_argument("--batch", type=int, default=8)
        p.add_argument("--crop", type=int, default=128)
        p.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
        p.add_argument("--schedule", default="poly", choices=SCHEDULES,
                       help="learning-rate schedule after warm-up (default poly; wsd = constant then linear decay)")
        p.add_argument("--warmup", type=int, default=0, help="linear warm-up iterations (default 0)")
        p.add_argument("--decay-iters", type=int, default=0, help="wsd: iterations of the final decay")
        p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
        p.add_argument("--weight-decay", type=float, default=0.0)
        p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights, e.g. 0.999 (default 0: off)")
        p.add_argument("--precision", default=DEFAULT_PRECISION.get(phase, "fp32"), choices=("bf16", "fp32"),
                       help="bf16 autocast (on a GPU without bf16: fp16 with a gradient scaler) or float32, "
                            f"TF32 on a GPU (default {DEFAULT_PRECISION.get(phase, 'fp32')})")
        p.add_argument("--device", default="auto",
                       help=f"torch device: {DEVICE_FORMS} (default auto: the GPU when CUDA is available; "
                            "under torchrun each rank takes cuda:LOCAL_RANK)")
        p.add_argument("--workers", type=int, default=None,
                       help="DataLoader processes building the batches (default: 0 on the CPU, up to 4 per GPU); "
                            "the batches do not depend on it")
        p.add_argument("--log-every", type=int, default=10,
                       help="iterations between progress-bar loss read-backs (default 10)")
        p.add_argument("--attention", default="explicit", choices=ATTENTION_PATHS,
                       help="Swin attention kernel (default explicit; sdpa = F.scaled_dot_product_attention)")
        p.add_argument("--keep-best", action="store_true",
                       help="write the output at every best validation (for long campaigns stopped at any time)")
        p.add_argument("--init", type=Path, default=None,
                       help="checkpoint this phase wrote: start a run whose folder holds no state from its weights, "
                            "iteration count and learning curve (a campaign's next session)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--save-every", type=int, default=100)
        p.add_argument("--val-every", type=int, default=500)
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        p.add_argument("--run-dir", type=Path, default=None, help="resumable state folder (default runs/<output name>)")
        p.add_argument("--out", type=Path, default=None, help="output .safetensors (default checkpoints/<name>.safetensors)")
        p.add_argument("--jscc", type=Path, default=None, help="JSCC-T checkpoint to start from (phases after jscc)")
        p.add_argument("--alpha", type=float, default=1.0, help="weight of the SS loss (denoiser; 0 = w/o SS loss)")
        p.add_argument("--denoiser", type=Path, default=None, help="denoiser checkpoint (finetune)")
        p.add_argument("--tmax", type=int, default=3, help="T_max denoising steps (denoiser)")
        p.add_argument("--gs-extra-steps", type=int, default=2,
                       help="denoiser: steps past T_max that only g_s is trained on (default 2)")
        p.add_argument("--cddm", type=Path, default=None, help="CDDM checkpoint (cddm-finetune; default checkpoints/cddm-<config>.safetensors)")
        p.add_argument("--cddm-min-snr", type=float, default=None,
                       help="cddm: train only diffusion steps t <= m(this SNR, dB) (default: all T steps, as CDDM)")
        if phase in TRAIN_CHANNEL_PHASES:
            p.add_argument("--train-channel", default="awgn", choices=tuple(CHANNELS),
                           help="training channel (default awgn; fading: MMSE-equalised latent, effective SNR)")
            p.add_argument("--train-coherence", type=int, default=None, metavar="L",
                           help="rayleigh-block: channel uses per fading block (default: one block per image)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from simulator.sweep import parse_snr_spec

    try:
        args.snrs = parse_snr_spec(args.snr)
        from simulator.models.jscc import JSCC_CONFIGS

        if args.config not in JSCC_CONFIGS:
            raise ValueError(f"unknown config {args.config!r}; accepted: {', '.join(JSCC_CONFIGS)}")
        training_device(args.device, is_distributed())  # a bad --device fails here, before any data is read
        set_attention_path(args.attention)
        train_dir = find_dataset(args.train_data, args.data_dir)
        val = validation_crops(args.data_dir, args.val_data, count=args.val_count)
        task = _build_task(args)
        output = args.out or _default_output(args)
        settings = TrainSettings(
            data_dir=train_dir, run_dir=args.run_dir or Path("runs") / output.stem, output=output,
            iters=args.iters, batch=args.batch, crop=args.crop, lr=args.lr, snrs_db=tuple(args.snrs),
            snr_range_db=args.snr_range,
            exclude=tuple(x for x in args.exclude.split(",") if x), schedule=args.schedule, warmup=args.warmup,
            decay_iters=args.decay_iters, optimizer=args.optimizer, weight_decay=args.weight_decay,
            bf16=args.precision == "bf16", ema=args.ema, seed=args.seed, save_every=args.save_every,
            val_every=args.val_every, threads=args.threads, keep_best=args.keep_best, init_from=args.init,
            device=args.device, workers=args.workers, log_every=args.log_every,
        )
    except (ValueError, DataError, FileNotFoundError) as exc:
        print(f"semcom-train: error: {exc}", file=sys.stderr)
        return 2
    card = train(task, settings, val, progress=_progress_bar(args.iters))
    if card:
        print(f"wrote {settings.output} (validation: {card.get('validation')}, wall time {card['wall_time_s']} s)", file=sys.stderr)
    return 0


def _progress_bar(total: int) -> Callable[[int, int, dict[str, float]], None]:
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(done: int, total_: int, logs: dict[str, float]) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total_, initial=done - 1, file=sys.stderr, dynamic_ncols=True, mininterval=2)
        bar["bar"].update(1)
        if logs:  # filled every --log-every iterations
            bar["bar"].set_postfix({k: f"{v:.4g}" for k, v in logs.items() if isinstance(v, float)}, refresh=False)
        if done == total_:
            bar["bar"].close()

    return update


if __name__ == "__main__":
    raise SystemExit(main())
