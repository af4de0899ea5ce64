"""Fig. 7: the restored image with and without the similarity-score loss (α = 1 vs α = 0)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from simulator.channels import AWGNChannel
from simulator.data import ImageItem, list_images, load_image
from simulator.figures.context import FigureContext
from simulator.figures.output import (
    FigureError,
    FigureReport,
    figure_paths,
    saved_figure,
    write_csv,
    write_json,
)
from simulator.metrics import ms_ssim, psnr, quantize_8bit
from simulator.results import summarize
from simulator.schemes.base import Transmission

__all__ = ["fig7_figure", "find_fig7_image", "busiest_window", "hf_energy", "FIG7_SPECS", "FIG7_DEFAULT_IMAGE"]

#: Fig. 7: α = 1 vs α = 0 denoiser, both with the phase-1 JSCC-T decoder.
FIG7_SPECS = (("alpha1", "w/ SS loss (α = 1)", "ours:decoder=jscc"),
              ("alpha0", "w/o SS loss (α = 0)", "ours:alpha=0:decoder=jscc"))
FIG7_DEFAULT_IMAGE = "kodim23"
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def _luma(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image[0], image[1], image[2]
    return (0.299 * r + 0.587 * g + 0.114 * b)[None, None]


def _laplacian_energy(image: torch.Tensor) -> torch.Tensor:
    """``[1, 1, H, W]`` squared Laplacian of the luma (high-frequency energy map)."""
    return F.conv2d(F.pad(_luma(image), (1, 1, 1, 1), mode="replicate"), _LAPLACIAN).pow(2)


def hf_energy(image: torch.Tensor, box: tuple[int, int, int] | None = None) -> float:
    """Mean squared Laplacian of the luma of ``[3, H, W]`` (in ``box = (x, y, size)`` if given)."""
    e = _laplacian_energy(image)[0, 0]
    if box is not None:
        x, y, size = box
        e = e[y : y + size, x : x + size]
    return float(e.mean())


def busiest_window(image: torch.Tensor, size: int) -> tuple[int, int, int]:
    """``(x, y, size)`` of the square window with the most high-frequency energy."""
    h, w = image.shape[-2:]
    size = max(4, min(size, h, w))
    stride = max(1, size // 4)
    pooled = F.avg_pool2d(_laplacian_energy(image), size, stride=stride)[0, 0]
    iy, ix = divmod(int(pooled.argmax()), pooled.shape[1])
    return ix * stride, iy * stride, size


def find_fig7_image(ctx: FigureContext) -> ImageItem:
    """The Fig. 7 image: ``fig7_image`` (id, stem or file name), else kodim23, else the first.

    :raises FigureError: a named image is not in the data set.
    """
    pool = list_images(ctx.folder)
    want = ctx.settings.fig7_image
    for name in [want] if want else [FIG7_DEFAULT_IMAGE]:
        for item in pool:
            if name in (item.image_id, item.path.stem, item.path.name):
                return item
    if want:
        examples = ", ".join(i.path.stem for i in pool[:4])
        raise FigureError(f"fig7: image {want!r} not in {ctx.folder} (e.g. {examples})")
    return pool[0]


def _hwc(image: torch.Tensor) -> np.ndarray:
    return quantize_8bit(image.detach().float().cpu()).permute(1, 2, 0).numpy()


def _save_png(image: torch.Tensor, path: Any) -> Any:
    Image.fromarray((_hwc(image) * 255).round().astype(np.uint8)).save(path)
    return path


def fig7_figure(ctx: FigureContext) -> FigureReport:
    """One image at ``fig7_snr`` restored by the α = 1 and α = 0 denoisers (same noise, same
    decoder), with PSNR annotated and zoomed crops of the most textured window."""
    from matplotlib.patches import Rectangle

    s = ctx.settings
    item = find_fig7_image(ctx)
    image = load_image(item.path)
    h, w = image.shape[-2:]
    snr = float(s.fig7_snr)
    recs: dict[str, dict[str, Any]] = {}
    for key, label, base in FIG7_SPECS:
        spec = ctx.spec(base)
        scheme = ctx.require(spec, "fig7")
        channel = AWGNChannel().realise(scheme.channel_uses(h, w), s.seed, item.image_id, snr, 0)
        with torch.no_grad():
            rec = scheme.transmit(Transmission(scheme.encode(image), image, channel))
        recs[key] = {"label": label, "spec": spec, "image": rec.image.detach().cpu(), "extras": dict(rec.extras)}
    auto = s.fig7_crop is None
    box = busiest_window(image, max(16, min(h, w) // 4)) if auto else s.fig7_crop
    x, y, size = box
    if x + size > w or y + size > h:
        raise FigureError(f"fig7: crop {box} does not fit the {w}×{h} image")
    crop = (slice(None), slice(y, y + size), slice(x, x + size))
    hf_orig = hf_energy(image, box)
    for r in recs.values():
        rec_q = quantize_8bit(r["image"])
        r["psnr"] = float(psnr(image, rec_q)[0])
        r["ms_ssim"] = float(ms_ssim(image, rec_q)[0]) if min(h, w) > 160 else None
        r["crop_psnr"] = float(psnr(image[crop], rec_q[crop])[0])
        r["hf_energy_ratio"] = hf_energy(rec_q) / hf_energy(image)
        r["crop_hf_energy_ratio"] = hf_energy(rec_q, box) / hf_orig if hf_orig > 0 else math.nan

    # context: the same two receivers on the figure's images at this SNR (the result store)
    dataset_mean = {}
    for key, _, base in FIG7_SPECS:
        spec = ctx.spec(base)
        (summary,) = summarize(ctx.sweep(spec, [snr], "fig7"))
        dataset_mean[key] = {"spec": spec, "psnr": summary.psnr, "psnr_ci95": summary.psnr_ci95,
                             "ms_ssim": summary.ms_ssim, "n_images": summary.n_images,
                             "mean_steps": summary.extras.get("steps"), "result_file": ctx.result_file(spec)}

    panels = [("original", "Original", image)] + [(k, r["label"], r["image"]) for k, r in recs.items()]
    stem = s.figure_dir / "fig7"
    with saved_figure(stem, 2, 3, figsize=(12, 4 * h / w + 4.4), constrained_layout=True,
                      gridspec_kw={"height_ratios": [h / w, 1.0]}) as (fig, axes):
        for col, (key, label, img) in enumerate(panels):
            top, bottom = axes[0][col], axes[1][col]
            top.imshow(_hwc(img))
            top.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, edgecolor="yellow", linewidth=1.5))
            bottom.imshow(_hwc(img[crop]), interpolation="nearest")
            if key == "original":
                top.set_title(f"Original ({item.path.stem})", fontsize="medium")
                bottom.set_title(f"zoom x={x}, y={y}, {size}×{size}", fontsize="small")
            else:
                r = recs[key]
                top.set_title(f"{label}\nPSNR = {r['psnr']:.2f} dB", fontsize="medium")
                bottom.set_title(f"crop PSNR {r['crop_psnr']:.2f} dB, HF energy {r['crop_hf_energy_ratio']:.2f}×",
                                 fontsize="small")
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle(f"Fig. 7: latent denoiser trained w/ and w/o SS loss — SNR = {snr:g} dB, "
                     "decoder: phase-1 JSCC-T for both", fontsize="medium")
    files = figure_paths(stem) + [_save_png(image, stem.with_name("fig7_original.png"))]
    files += [_save_png(r["image"], stem.with_name(f"fig7_{k}.png")) for k, r in recs.items()]

    caption = (f"Fig. 7: {item.image_id} at SNR = {snr:g} dB restored by Ours with the denoiser trained with "
               "(α = 1) and without (α = 0) the SS loss. Both use the phase-1 JSCC-T decoder (decoder=jscc) and "
               "adaptive steps, so only the denoiser weights differ, and the same channel noise "
               "(unit_noise(n, noise_generator(seed, image_id, snr, 0)), the sweep's common random numbers). "
               "PSNR on the 8-bit reconstruction; bottom row: the window with the most high-frequency energy "
               "(HF energy = mean squared Laplacian of the luma, relative to the original; < 1 means smoother).")
    out_recs = {k: {kk: vv for kk, vv in r.items() if kk != "image"} for k, r in recs.items()}
    files += [
        write_csv(stem.with_suffix(".csv"), [
            {"panel": "original", "spec": "", "psnr": None, "ms_ssim": None, "crop_psnr": None,
             "hf_energy_ratio": 1.0, "crop_hf_energy_ratio": 1.0, "steps": None},
            *({"panel": k, "spec": r["spec"], "psnr": r["psnr"], "ms_ssim": r["ms_ssim"], "crop_psnr": r["crop_psnr"],
               "hf_energy_ratio": r["hf_energy_ratio"], "crop_hf_energy_ratio": r["crop_hf_energy_ratio"],
               "steps": r["extras"].get("steps")} for k, r in out_recs.items())]),
        write_json(stem.with_suffix(".json"), ctx.meta("fig7") | {
            "title": "Fig. 7: restored image, denoiser w/ vs w/o SS loss", "caption": caption, "decoder": "jscc",
            "image_id": item.image_id, "image_size": [int(h), int(w)], "snr_db": snr, "realization": 0,
            "crop": {"x": x, "y": y, "size": size, "auto": auto}, "original_hf_energy_crop": hf_orig,
            "reconstructions": out_recs, "psnr_gain_alpha1_over_alpha0_db": recs["alpha1"]["psnr"] - recs["alpha0"]["psnr"],
            "dataset_mean": dataset_mean}),
    ]
    summary = (f"{item.image_id} at {snr:g} dB: α=1 {recs['alpha1']['psnr']:.2f} dB, "
               f"α=0 {recs['alpha0']['psnr']:.2f} dB (decoder=jscc)")
    return FigureReport("fig7", files, summary)
