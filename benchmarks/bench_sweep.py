"""Sweep throughput (rows/s) of the learned schemes, batched vs unbatched receivers, in one run.

For each scheme the same points (images × SNRs × realisations, common channel noise) go through
the sweep engine in memory (``results_dir=None``: nothing read or written) with the receiver's
forward-pass batch set to 1 (unbatched: one item per pass, the receivers before batching) and
to ``--batch``; rounds alternate the order (A B, B A, …) so that a drift in the machine's load
hits both alike.  Prints rows/s of each mode, the ratio batched/unbatched per round and its
median, and the largest PSNR difference between the modes (dB); ``--json PATH`` writes the same.

Images: the first ``--images`` of the data set that share the first one's size (the engine
batches images of one size), full size unless ``--crop HxW`` (centre crop, written to a
temporary folder).  Schemes without a batched receiver (classical) are run once, as a reference.

Usage::

    python benchmarks/bench_sweep.py [--device cpu] [--schemes jscc-t,ours,cddm] [--images 4]
        [--snr 6] [--realizations 1] [--batch 8] [--rounds 2] [--threads N] [--crop 256x384]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.data import ImageItem, find_dataset, list_images, load_image  # noqa: E402
from simulator.devices import device_name, resolve_device  # noqa: E402
from simulator.registry import parse_scheme_list  # noqa: E402
from simulator.sweep import SweepConfig, build_scheme, parse_snr_spec, run_sweeps  # noqa: E402


def _images(dataset: str, count: int, crop: tuple[int, int] | None, folder: Path) -> list[ImageItem]:
    """``count`` images of one size (see the module docstring)."""
    from PIL import Image

    items = list_images(find_dataset(dataset))
    if crop is not None:
        out = []
        for item in items[:count]:
            image = load_image(item.path)
            h, w = image.shape[-2:]
            ch, cw = min(crop[0], h), min(crop[1], w)
            top, left = (h - ch) // 2, (w - cw) // 2
            pixels = image[:, top:top + ch, left:left + cw].mul(255).round().byte().permute(1, 2, 0).numpy()
            path = folder / f"{item.image_id}.png"
            Image.fromarray(pixels).save(path)
            out.append(ImageItem(item.image_id, path))
        return out
    first = load_image(items[0].path).shape
    return [item for item in items if load_image(item.path).shape == first][:count]


def _sweep(scheme, spec: str, images: list[ImageItem], config: SweepConfig) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    rows = run_sweeps([spec], images, config, schemes={spec: scheme})
    return time.perf_counter() - t0, rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--schemes", default="jscc-t,ours,cddm")
    p.add_argument("--dataset", default="kodak")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--snr", default="6", help="SNR points (dB), e.g. 2,8")
    p.add_argument("--realizations", type=int, default=1)
    p.add_argument("--batch", type=int, default=8, help="forward-pass batch of the batched mode")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int)
    p.add_argument("--crop", help="centre-crop the images to HxW first")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    crop = tuple(int(v) for v in args.crop.lower().split("x")) if args.crop else None
    with tempfile.TemporaryDirectory() as tmp:
        images = _images(args.dataset, args.images, crop, Path(tmp))
        h, w = load_image(images[0].path).shape[-2:]
        config = SweepConfig(snrs=parse_snr_spec(args.snr), dataset="bench", realizations=args.realizations,
                             results_dir=None, device=str(device))
        rows_per_run = len(images) * len(config.snrs) * args.realizations
        print(f"device {device} ({device_name(device)}), torch threads {torch.get_num_threads()}, "
              f"{len(images)} images {h}x{w}, SNR {config.snrs}, {args.realizations} realisation(s): "
              f"{rows_per_run} rows per run; batched = {args.batch} per forward pass")
        report = {"device": str(device), "device_name": device_name(device), "threads": torch.get_num_threads(),
                  "images": len(images), "size": [h, w], "snrs": config.snrs, "realizations": args.realizations,
                  "batch": args.batch, "schemes": {}}
        for spec in parse_scheme_list(args.schemes):
            scheme = build_scheme(spec, str(device))
            _sweep(scheme, spec, images[:1], SweepConfig(snrs=config.snrs[:1], dataset="warm", results_dir=None,
                                                         device=str(device)))  # load, compile, autotune
            if not hasattr(scheme, "max_batch"):
                seconds, _ = _sweep(scheme, spec, images, config)
                print(f"{spec:<14} {rows_per_run / seconds:8.3f} rows/s (no batched receiver)")
                report["schemes"][spec] = {"rows_per_s": rows_per_run / seconds}
                continue
            modes = {"unbatched": 1, "batched": args.batch}
            rates: dict[str, list[float]] = {m: [] for m in modes}
            psnrs: dict[str, list[float]] = {}
            for r in range(args.rounds):
                for mode in (list(modes) if r % 2 == 0 else list(modes)[::-1]):
                    scheme.max_batch = modes[mode]
                    seconds, rows = _sweep(scheme, spec, images, config)
                    rates[mode].append(rows_per_run / seconds)
                    psnrs[mode] = [row["psnr"] for row in rows]
            ratios = [b / u for b, u in zip(rates["batched"], rates["unbatched"])]
            diff = max(abs(a - b) for a, b in zip(psnrs["batched"], psnrs["unbatched"]))
            print(f"{spec:<14} unbatched {statistics.median(rates['unbatched']):8.3f} rows/s, batched "
                  f"{statistics.median(rates['batched']):8.3f} rows/s, ratio per round "
                  f"{', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f}); "
                  f"max |ΔPSNR| {diff:.2e} dB")
            report["schemes"][spec] = {"unbatched_rows_per_s": rates["unbatched"], "batched_rows_per_s": rates["batched"],
                                       "ratios": ratios, "median_ratio": statistics.median(ratios),
                                       "max_abs_psnr_diff_db": diff}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
