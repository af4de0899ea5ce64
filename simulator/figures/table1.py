"""Table I: receiver latency of JSCC-T, Ours and CDDM (both start rules), with the paper's ratios."""

from __future__ import annotations

import math
from typing import Any

import torch

from simulator.data import load_image
from simulator.figures.context import FigureContext
from simulator.figures.output import (
    FigureError,
    FigureReport,
    write_csv,
    write_json,
)
from simulator.latency import device_info, measure_receiver_latency, move_scheme, torch_threads
from simulator.schemes.base import Scheme

__all__ = ["table1_figure", "TABLE1_SNRS", "TABLE1_SCHEMES", "PAPER_TABLE1"]

TABLE1_SNRS = [-3.0, 2.0, 7.0, 12.0]
#: (label, scheme spec, required): a missing optional scheme is left out of Table I with a warning.
#: CDDM runs under both start rules: ``cddm`` (matched, the default) and ``cddm-official``.
TABLE1_SCHEMES = (("jscc-t", "jscc-t", True), ("ours", "ours", True), ("cddm", "cddm", False),
                  ("cddm-official", "cddm:start=official", False))
#: The paper's Table I (ms; hardware not stated), for the ratios only.
PAPER_TABLE1 = {"snr_db": TABLE1_SNRS, "jscc-t": [23.12, 22.78, 25.05, 24.19], "ours": [45.16, 37.02, 38.85, 41.55],
                "cddm": [2106.94, 2057.07, 2052.14, 1654.87]}


def _probe(schemes: list[tuple[str, str, Scheme]], image: tuple[str, torch.Tensor], device: str
           ) -> tuple[list[tuple[str, str, Scheme]], dict[str, str]]:
    """The schemes that run on ``device`` (one transmission each), and why the others do not."""
    ok, errors = [], {}
    for label, spec, scheme in schemes:
        try:
            measure_receiver_latency([(label, spec, scheme)], [image], [0.0], repeats=1, warmup=0, device=device)
            ok.append((label, spec, scheme))
        except Exception as exc:  # noqa: BLE001 - reported in the table, the other schemes still run
            errors[spec] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            move_scheme(scheme, "cpu")
    return ok, errors


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def _table_rows(points: list[Any], snrs: list[float]) -> list[dict[str, Any]]:
    by = {(p.label, p.snr_db): p for p in points}
    rows = []
    labels = [label for label, _, _ in TABLE1_SCHEMES]
    for snr in snrs:
        med = {name: (by[(name, snr)].median_ms if (name, snr) in by else None) for name in labels}
        steps = {name: (by[(name, snr)].extras_mean.get("steps") if (name, snr) in by else None) for name in labels}
        rows.append({"snr_db": snr, "jscc_t_ms": med["jscc-t"], "ours_ms": med["ours"], "cddm_ms": med["cddm"],
                     "ours_over_jscc_t": _ratio(med["ours"], med["jscc-t"]), "cddm_over_ours": _ratio(med["cddm"], med["ours"]),
                     "ours_mean_steps": steps["ours"], "cddm_mean_steps": steps["cddm"],
                     "cddm_official_ms": med["cddm-official"],
                     "cddm_official_over_ours": _ratio(med["cddm-official"], med["ours"]),
                     "cddm_official_mean_steps": steps["cddm-official"]})
    return rows


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _markdown(table: dict[str, Any]) -> str:
    lines = ["# Table I: receiver latency (ms)", "",
             f"{table['method']}", "",
             f"Images: {', '.join(table['images'])}; {table['repeats']} timed round(s) after {table['warmup']} "
             f"warm-up transmission(s) per scheme and SNR; seed {table['seed']}; weights config `{table['config']}`."
             + (f" Budget per scheme, SNR and round: {table['budget']:g}× the fastest scheme's round over all images; a "
                "slower scheme is timed on fewer images per round, in turn (samples per point and spread below)."
                if table.get("budget") else ""),
             ""]
    for dev, d in table["devices"].items():
        info = d["info"]
        where = f"{info['cpu']}, {info['torch_threads']} torch threads" + (f"; GPU {info['gpu']}" if info.get("gpu") else "")
        lines += [f"## {dev}: {where} (torch {info['torch']})", "",
                  "CDDM = `cddm` (matched start rule), CDDM-off = `cddm:start=official` (the official code's "
                  "start rule); steps = mean reverse steps (ε-network evaluations) per image.", "",
                  "| SNR (dB) | JSCC-T | Ours | CDDM | CDDM-off | Ours/JSCC-T | CDDM/Ours | CDDM-off/Ours "
                  "| Ours steps | CDDM steps | CDDM-off steps |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in d["rows"]:
            lines.append(f"| {r['snr_db']:g} | {_fmt(r['jscc_t_ms'])} | {_fmt(r['ours_ms'])} | {_fmt(r['cddm_ms'])} | "
                         f"{_fmt(r['cddm_official_ms'])} | {_fmt(r['ours_over_jscc_t'])} | {_fmt(r['cddm_over_ours'])} | "
                         f"{_fmt(r['cddm_official_over_ours'])} | {_fmt(r['ours_mean_steps'])} | "
                         f"{_fmt(r['cddm_mean_steps'], 1)} | {_fmt(r['cddm_official_mean_steps'], 1)} |")
        if d["points"]:
            lines += ["", "Spread: samples per point and the interquartile range (p25 … p75) as % of the median.", "",
                      "| scheme | " + " | ".join(f"{snr:g} dB" for snr in table["snrs"]) + " |",
                      "| --- |" + " --- |" * len(table["snrs"])]
            by = {(p["label"], p["snr_db"]): p for p in d["points"]}
            for label in dict.fromkeys(p["label"] for p in d["points"]):
                cells = [f"{by[(label, snr)]['n_samples']} × {100 * by[(label, snr)]['p25_ms'] / by[(label, snr)]['median_ms'] - 100:+.0f} … "
                         f"{100 * by[(label, snr)]['p75_ms'] / by[(label, snr)]['median_ms'] - 100:+.0f} %"
                         if (label, snr) in by else "n/a" for snr in table["snrs"]]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for spec, why in d["errors"].items():
            lines.append(f"\n{spec} could not run on {dev}: {why}")
        lines.append("")
    for spec, why in table["missing"].items():
        lines.append(f"{spec} left out: {why}  ")
    p = table["paper_reference"]
    lines += ["", "## Paper (Table I; hardware not stated)", "",
              "| SNR (dB) | JSCC-T | Ours | CDDM | Ours/JSCC-T | CDDM/Ours |", "| --- | --- | --- | --- | --- | --- |"]
    for i, snr in enumerate(p["snr_db"]):
        j, o, c = p["jscc-t"][i], p["ours"][i], p["cddm"][i]
        lines.append(f"| {snr:g} | {j:.2f} | {o:.2f} | {c:.2f} | {o / j:.2f} | {c / o:.2f} |")
    return "\n".join(lines) + "\n"


def table1_figure(ctx: FigureContext) -> FigureReport:
    """Receiver latency of JSCC-T, Ours and CDDM (matched and official start rules) at −3, 2, 7,
    12 dB in this process (CPU at ``latency_threads`` torch threads, and CUDA when available),
    medians after warm-up, with the Ours/JSCC-T and CDDM/Ours ratios."""
    s = ctx.settings
    schemes, missing = [], {}
    for label, base, required in TABLE1_SCHEMES:
        spec = ctx.spec(base)
        scheme = ctx.scheme(spec)
        if isinstance(scheme, str):
            if required:
                raise FigureError(f"table1: scheme {spec} unavailable: {scheme}")
            missing[spec] = scheme
        else:
            schemes.append((label, spec, scheme))
    items = ctx.images[: s.latency_images]
    images = [(item.image_id, load_image(item.path)) for item in items]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    per_device = {}
    for dev in devices:
        runnable, errors = (schemes, {}) if dev == "cpu" else _probe(schemes, images[0], dev)
        try:
            with torch_threads(s.latency_threads if dev == "cpu" else None):
                info = device_info(dev)
                points = measure_receiver_latency(runnable, images, TABLE1_SNRS, repeats=s.latency_repeats,
                                                  warmup=s.latency_warmup, seed=s.seed, device=dev,
                                                  budget=s.latency_budget if s.latency_warmup else None
                                                  ) if runnable else []
        finally:
            for _, _, scheme in schemes:  # back where the sweeps run them
                move_scheme(scheme, s.device if hasattr(scheme, "max_batch") else "cpu")
        per_device[dev] = {"info": info, "errors": errors, "rows": _table_rows(points, TABLE1_SNRS),
                           "points": [p.to_json() for p in points]}
    method = ("Receiver latency = channel output → reconstructed image (latent denoising + decoder; "
              "Reception.receiver_s on the CPU, synchronised wall time of transmit on CUDA), one image at a time, "
              "all schemes in this one process on the same images and the same channel noise; median over "
              "(image, repeat) samples, schemes interleaved round by round.")
    table = {"table": "table1", "title": "Table I: receiver latency (ms)", "method": method,
             "snrs": TABLE1_SNRS, "images": [i.image_id for i in items], "repeats": s.latency_repeats,
             "warmup": s.latency_warmup, "budget": s.latency_budget, "seed": s.seed, "config": s.config, "quick": s.quick,
             "specs": {name: spec for name, spec, _ in schemes}, "missing": missing, "devices": per_device,
             "paper_reference": PAPER_TABLE1}
    stem = s.figure_dir / "table1"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = stem.with_suffix(".md")
    md.write_text(_markdown(table))
    files = [md, write_csv(stem.with_suffix(".csv"), [{"device": dev, **row} for dev, d in per_device.items()
                                                       for row in d["rows"]]),
             write_json(stem.with_suffix(".json"), ctx.meta("table1") | table)]
    cpu = per_device["cpu"]["rows"]
    ratios = ", ".join(f"{r['snr_db']:g} dB: {_fmt(r['ours_over_jscc_t'])}" for r in cpu)
    warnings = [f"{spec} left out: {why}" for spec, why in missing.items()]
    warnings += [f"{spec} not timed on {dev}: {why}" for dev, d in per_device.items() for spec, why in d["errors"].items()]
    return FigureReport("table1", files, f"{len(images)} images × {s.latency_repeats} repeats on "
                        f"{'+'.join(devices)}; Ours/JSCC-T (cpu) {ratios}", warnings)
