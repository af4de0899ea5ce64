"""Throughput of the classical link's pieces: LDPC decoding and BPG rate search.

Prints, for the code shapes of a 768×512 image at ρ = 1/16 (rates 1/2 and 3/4):

* LDPC decoding throughput in info Mbit/s per CPU-second (process CPU time, one torch
  thread by default, so the numbers hold on a loaded machine) for several decoder
  configurations, each as a ratio to the reference configuration (``boxplus-phi``, 20 iterations, no early
  termination, eager) measured in the same process;
* BPG rate-search time per image (cold cache and warm cache) for both budgets.

``--sweep`` adds a BLER-vs-Es/N0 table per configuration (to compare the waterfalls of
the check-node rules and iteration counts).  No assertions: numbers only.

Usage::

    python benchmarks/bench_ldpc.py [--blocks 16] [--compile] [--sweep] [--image PATH]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baselines.bpg_ldpc import LdpcLink, segment  # noqa: E402
from bpg_tools import BPGCodec  # noqa: E402

N_SYMBOLS = 3 * 768 * 512 // 16  # 73 728 channel uses


def _channel_llr(link: LdpcLink, blocks: int, snr_db: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, link.k), generator=g).float()
    with torch.no_grad():
        x = link.modulate(link.encode(u))
        w = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(0.5)
        no = 10.0 ** (-snr_db / 10.0)
        llr = link.demodulate(x + math.sqrt(no) * w, no)
    return llr, u


def _decode_seconds(link: LdpcLink, llr: torch.Tensor, u: torch.Tensor) -> tuple[float, float, float]:
    """(CPU seconds of this process, BLER, mean iterations) of one decoder run.

    CPU time rather than wall time: on a shared machine other processes' load changes
    wall times several-fold between runs but barely changes the work done here.
    """
    t0 = time.process_time()
    res = link.decode(llr, u)
    return time.process_time() - t0, float((~res.ok).float().mean()), float(res.iterations.float().mean())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=16, help="code blocks per timed decoder call")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (best per configuration is kept)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd decoders")
    p.add_argument("--sweep", action="store_true", help="also print BLER vs Es/N0 per configuration")
    p.add_argument("--image", default=None, help="image for the BPG rate search (default kodim01 if found)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = work)")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")

    thresholds = {0.5: 1.2, 0.75: 4.3}  # Es/N0 (dB) near each waterfall
    configs = [
        ("ref boxplus-phi it20", dict(cn_update="boxplus-phi", num_iter=20, chunk=0)),
        ("minsum it20", dict(cn_update="minsum", num_iter=20, chunk=0)),
        ("boxplus(tanh) it20", dict(cn_update="boxplus", num_iter=20, chunk=0)),
        ("boxplus-phi it20 early-stop", dict(cn_update="boxplus-phi", num_iter=20, chunk=2)),
        ("boxplus-phi it50 early-stop", dict(cn_update="boxplus-phi", num_iter=50, chunk=2)),
    ]
    if args.compile:
        configs += [
            ("boxplus-phi it20 compiled", dict(cn_update="boxplus-phi", num_iter=20, chunk=0, compile=True)),
            ("boxplus-phi it20 early-stop compiled", dict(cn_update="boxplus-phi", num_iter=20, chunk=2, compile=True)),
        ]
    for rate, thr in thresholds.items():
        seg = segment(N_SYMBOLS, rate)
        print(f"\n== rate {rate}: C={seg.num_blocks} blocks, k={seg.k}, n_cb={seg.n_cb}, "
              f"budget {seg.info_bits} bits; timing {args.blocks} blocks at Es/N0 = {thr + 1:.1f} dB "
              f"(waterfall ≈ {thr} dB); best of {args.repeats} interleaved rounds")
        links, setup = [], []
        for _, kw in configs:
            t0 = time.perf_counter()
            link = LdpcLink(seg.k, seg.n_cb, **kw)
            llr, u = _channel_llr(link, args.blocks, thr + 1.0, seed=1)
            link.decode(llr[:2], u[:2])  # warm-up (and compilation)
            links.append((link, llr, u))
            setup.append(time.perf_counter() - t0)
        best = [math.inf] * len(configs)
        stats = [(0.0, 0.0)] * len(configs)
        for _ in range(args.repeats):  # rounds interleave the configurations: load drift hits all alike
            for i, (link, llr, u) in enumerate(links):
                seconds, bler, iters = _decode_seconds(link, llr, u)
                best[i] = min(best[i], seconds)
                stats[i] = (bler, iters)
        for i, (name, _) in enumerate(configs):
            mbps = args.blocks * seg.k / best[i] / 1e6
            print(f"  {name:38s} {mbps:7.3f} info Mbit/s per CPU-s  ×{best[0] / best[i]:5.2f} vs ref  "
                  f"BLER {stats[i][0]:.3f}  mean it {stats[i][1]:4.1f}  (setup+warm-up {setup[i]:5.1f} s)")
        if args.sweep:
            for i, (name, _) in enumerate(configs):
                if "compiled" in name:
                    continue
                row = []
                for off in (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0):
                    llr_s, u_s = _channel_llr(links[i][0], args.blocks, thr + off, seed=2)
                    row.append(f"{thr + off:4.2f}dB:{float((~links[i][0].decode(llr_s, u_s).ok).float().mean()):.2f}")
                print(f"  BLER {name:33s} " + "  ".join(row))

    image_path = args.image or "/work/shared/datasets/kodak/kodim01.png"
    if Path(image_path).exists():
        from simulator.data import load_image

        image = load_image(image_path)
    else:
        image_path = "synthetic 512x768"
        g = torch.Generator().manual_seed(0)
        image = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 12, generator=g), size=(512, 768),
                                                mode="bicubic", align_corners=False)[0].clamp(0, 1)
    print(f"\n== BPG rate search on {image_path}")
    with tempfile.TemporaryDirectory() as tmp:
        codec = BPGCodec(cache_dir=tmp)
        print(f"  codec {codec.info()}")
        for rate in thresholds:
            budget = segment(N_SYMBOLS, rate).info_bits
            t0 = time.perf_counter()
            enc = codec.encode_to_budget(image, budget)
            cold = time.perf_counter() - t0
            warm_codec = BPGCodec(cache_dir=tmp)  # fresh memory, warm disk cache
            t0 = time.perf_counter()
            warm_codec.encode_to_budget(image, budget)
            warm = time.perf_counter() - t0
            print(f"  rate {rate}: budget {budget} bits → QP {enc.qp}, {enc.bits} bits; "
                  f"search {cold:.2f} s cold ({codec.stats.encodes} encodes so far), {warm * 1e3:.1f} ms from disk cache")
            t0 = time.perf_counter()
            codec.decode(enc.payload)
            print(f"  decode {1e3 * (time.perf_counter() - t0):.1f} ms")


if __name__ == "__main__":
    main()
