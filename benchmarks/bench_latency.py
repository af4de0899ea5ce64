"""Latency of the learned links on this machine (training throughput: ``bench_train.py``).

Prints, all measured in this one process after warm-up (medians):

* per Kodak image (768×512): encoder and decoder latency of the JSCC-T ``cpu`` model, the
  decoder as a ratio to the encoder;
* receiver latency (channel output → image, ``Reception.receiver_s``) of ``jscc-t``, ``ours``
  and ``cddm`` on the same images and the same channel noise at SNR −3, 2, 7, 12 dB, as
  ratios Ours/JSCC-T and CDDM/Ours (the reference runs; see :mod:`simulator.latency`).

Weights: the shipped ones under ``checkpoints/`` (or ``$SEMCOM_CHECKPOINTS``) when present;
each missing file is replaced by a freshly initialised model of the same config, with a
printed notice (latency depends on the architecture, not the weights, except for the
adaptive step counts of Ours and CDDM, printed beside their latency).  No assertions:
numbers only.

Usage::

    python benchmarks/bench_latency.py [--config cpu] [--images 2] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.checkpoints import checkpoint_dir, save_checkpoint  # noqa: E402
from simulator.data import DataError, find_dataset, list_images, load_image  # noqa: E402
from simulator.latency import device_info, measure_receiver_latency, time_call  # noqa: E402
from simulator.models.denoiser import DENOISER_CONFIGS, LatentDenoiser  # noqa: E402
from simulator.models.jscc import JSCC_CONFIGS, JSCCCodec  # noqa: E402
from simulator.registry import available_schemes, create_scheme  # noqa: E402

SNRS = [-3.0, 2.0, 7.0, 12.0]


def _fresh_weights(config: str, folder: Path, source: Path) -> list[str]:
    """Fill ``folder`` with the shipped weights of ``config`` from ``source`` (links) and
    freshly initialised stand-ins for the missing ones; returns the stand-in file names."""
    torch.manual_seed(0)
    codec = JSCCCodec(JSCC_CONFIGS[config])
    den_cfg = DENOISER_CONFIGS[config]

    def denoiser(alpha: str) -> tuple[dict, dict]:
        den = LatentDenoiser(den_cfg)
        return dict(den.state_dict()), {"kind": "denoiser", "config": den.cfg.to_dict(), "alpha": float(alpha), "t_max": 3,
                                        "stop_margin_db": 0.0}

    makers = {
        f"jscc-t-{config}": lambda: (dict(codec.state_dict()),
                                     {"kind": "jscc-t", "config_name": config, "config": codec.cfg.to_dict()}),
        f"denoiser-{config}-alpha1": lambda: denoiser("1"),
        f"ours-decoder-{config}": lambda: (dict(codec.decoder.state_dict()),
                                           {"kind": "jscc-decoder", "config": codec.cfg.to_dict()}),
    }
    if "cddm" in available_schemes():
        def cddm() -> tuple[dict, dict]:
            from baselines.cddm.model import CDDM, CDDM_CONFIGS

            model = CDDM(CDDM_CONFIGS[config])
            return dict(model.state_dict()), {"kind": "cddm", "config": model.cfg.to_dict()}

        makers[f"cddm-{config}"] = cddm
    fresh = []
    for name, make in makers.items():
        shipped = source / f"{name}.safetensors"
        if shipped.is_file() and shipped.with_suffix(".json").is_file():
            for suffix in (".safetensors", ".json"):
                os.symlink(shipped.with_suffix(suffix).resolve(), folder / f"{name}{suffix}")
        else:
            try:
                tensors, card = make()
            except (ImportError, KeyError, AttributeError) as exc:
                print(f"notice: no stand-in for {name}: {exc}")
                continue
            save_checkpoint(folder / f"{name}.safetensors", tensors, card)
            fresh.append(name)
    # a finetuned CDDM decoder and the band decoders an ours-decoder card names are optional; link them if shipped
    for name in (f"cddm-decoder-{config}", f"ours-decoder-mid-{config}"):
        shipped = source / f"{name}.safetensors"
        if shipped.is_file() and shipped.with_suffix(".json").is_file():
            for suffix in (".safetensors", ".json"):
                os.symlink(shipped.with_suffix(suffix).resolve(), folder / f"{name}{suffix}")
    return fresh


def _images(args: argparse.Namespace) -> list[tuple[str, torch.Tensor]]:
    try:
        folder = find_dataset(args.dataset, args.data_dir)
        return [(item.image_id, load_image(item.path)) for item in list_images(folder, args.images)]
    except DataError as exc:
        print(f"notice: {exc}; timing {args.images} random 768×512 images instead")
        g = torch.Generator().manual_seed(0)
        return [(f"random{i}", torch.rand(3, 512, 768, generator=g)) for i in range(args.images)]


def _codec_latency(args: argparse.Namespace, images: list[tuple[str, torch.Tensor]]) -> None:
    scheme = create_scheme("jscc-t" if args.config == "cpu" else f"jscc-t:config={args.config}")
    codec = scheme.codec
    image_id, image = images[0]
    x = image.unsqueeze(0)
    with torch.no_grad():
        latent = codec.encoder(x)
        enc = time_call(lambda: codec.encoder(x), repeats=args.repeats, warmup=1)
        dec = time_call(lambda: codec.decoder(latent), repeats=args.repeats, warmup=1)
    e, d = statistics.median(enc), statistics.median(dec)
    h, w = image.shape[-2:]
    print(f"\nJSCC-T ({args.config}) per image, {image_id} {w}×{h}, median of {args.repeats} after 1 warm-up:")
    print(f"  encoder {e:9.1f} ms   (reference)")
    print(f"  decoder {d:9.1f} ms   ratio decoder/encoder {d / e:.2f}")


def _receiver_latency(args: argparse.Namespace, images: list[tuple[str, torch.Tensor]]) -> None:
    suffix = "" if args.config == "cpu" else f":config={args.config}"
    schemes = []
    for name in ("jscc-t", "ours", "cddm"):
        try:
            schemes.append((name, name + suffix, create_scheme(name + suffix)))
        except Exception as exc:  # noqa: BLE001 - reported, the others still run
            print(f"notice: {name} left out: {type(exc).__name__}: {exc}")
    points = measure_receiver_latency(schemes, images, SNRS, repeats=args.repeats, warmup=1, seed=0)
    by = {(p.label, p.snr_db): p for p in points}
    names = [n for n, _, _ in schemes]
    print(f"\nReceiver latency (ms), median over {len(images)} image(s) × {args.repeats} repeat(s) after 1 warm-up, "
          "schemes interleaved:")
    header = f"  {'SNR dB':>6} " + "".join(f"{n:>10}" for n in names)
    header += f"{'Ours/JSCC-T':>13}" + (f"{'CDDM/Ours':>11}" if "cddm" in names else "") + f"{'Ours steps':>12}"
    print(header)
    for snr in SNRS:
        med = {n: by[(n, snr)].median_ms for n in names}
        line = f"  {snr:>6g} " + "".join(f"{med[n]:>10.1f}" for n in names)
        line += f"{med['ours'] / med['jscc-t']:>13.2f}"
        if "cddm" in names:
            line += f"{med['cddm'] / med['ours']:>11.2f}"
        line += f"{by[('ours', snr)].extras_mean.get('steps', float('nan')):>12.2f}"
        print(line)
    print("  paper (Table I): Ours/JSCC-T 1.95 1.63 1.55 1.72, CDDM/Ours 46.7 55.6 52.8 39.8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="cpu", help="weights set of the learned schemes (default cpu)")
    p.add_argument("--dataset", default="kodak", help="data-set name or folder (default kodak)")
    p.add_argument("--data-dir", help="folder holding data sets")
    p.add_argument("--images", type=int, default=2, help="images timed (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = device_info()
    print(f"torch {info['torch']}, {info['torch_threads']} threads, CPU {info['cpu']}"
          + (f", GPU {torch.cuda.get_device_name(0)} (not used)" if torch.cuda.is_available() else ""))

    source = checkpoint_dir()
    tmp = Path(tempfile.mkdtemp(prefix="bench-weights-"))
    previous = os.environ.get("SEMCOM_CHECKPOINTS")
    try:
        fresh = _fresh_weights(args.config, tmp, source)
        if fresh:
            print(f"notice: no shipped weights for {', '.join(fresh)} in {source}: using freshly initialised "
                  f"models of the same config (latency is that of the architecture; step counts are not)")
        os.environ["SEMCOM_CHECKPOINTS"] = str(tmp)
        images = _images(args)
        t0 = time.perf_counter()
        _codec_latency(args, images)
        _receiver_latency(args, images)
        print(f"  ({time.perf_counter() - t0:.0f} s)")
    finally:
        if previous is None:
            os.environ.pop("SEMCOM_CHECKPOINTS", None)
        else:
            os.environ["SEMCOM_CHECKPOINTS"] = previous
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
