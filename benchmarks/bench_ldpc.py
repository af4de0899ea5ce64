"""Throughput of the classical link's pieces: LDPC decoding backends and BPG rate search.

Prints, for the code shapes of a 768×512 image at ρ = 1/16 (rates 1/2 and 3/4):

* LDPC decoding throughput in info Mbit/s per CPU-second (process CPU time, one thread for
  torch and numba by default, so the numbers hold on a loaded machine) for each decoder
  backend, as a ratio to the Sionna reference (``LDPC5GDecoder``, boxplus-phi, 20
  iterations, no early stop) measured in the same process, at two Es/N0 points: 0.5 dB
  below the waterfall (every block runs all iterations) and 1 dB above it (the operating
  point: early stop pays);
* BPG rate-search time per image (cold cache and warm cache) for both budgets.

``--sweep`` adds a BLER-vs-Es/N0 table per backend (Sionna 20 and 50 iterations, flooding,
layered).  No assertions: numbers only.

Usage::

    python benchmarks/bench_ldpc.py [--blocks 16] [--sweep] [--image PATH] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numba
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baselines.ldpc_link import LdpcLink  # noqa: E402
from baselines.ldpc_tb import segment  # noqa: E402
from bpg_tools import BPGCodec  # noqa: E402

N_SYMBOLS = 3 * 768 * 512 // 16  # 73 728 channel uses
WATERFALL_DB = {0.5: 1.0, 0.75: 4.0}  # Es/N0 near each waterfall (768×512 shapes, 20 iterations)
CONFIGS = [  # (label, LdpcLink options); the first is the reference
    ("sionna it20 (reference)", dict(decoder="sionna", num_iter=20, early_stop=False)),
    ("sionna it50 early-stop", dict(decoder="sionna", num_iter=50)),
    ("flooding it20 no stop", dict(decoder="flooding", num_iter=20, early_stop=False)),
    ("flooding it50 (default)", dict(decoder="flooding", num_iter=50)),
    ("layered it50", dict(decoder="layered", num_iter=50)),
]


def _channel_llr(link: LdpcLink, blocks: int, snr_db: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, link.k), generator=g).float()
    x = link.modulate(link.encode(u))
    w = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(0.5)
    no = 10.0 ** (-snr_db / 10.0)
    return link.demodulate(x + math.sqrt(no) * w, no), u


def _decode_seconds(link: LdpcLink, llr: torch.Tensor, u: torch.Tensor) -> tuple[float, float, float]:
    """(CPU seconds of this process, BLER, mean iterations) of one decoder call."""
    t0 = time.process_time()
    res = link.decode(llr, u)
    return time.process_time() - t0, float((~res.ok).float().mean()), float(res.iterations.float().mean())


def _throughput(rate: float, blocks: int, repeats: int) -> None:
    seg = segment(N_SYMBOLS, rate)
    links = [LdpcLink(seg.k, seg.n_cb, **kw) for _, kw in CONFIGS]
    for offset in (-0.5, 1.0):
        snr = WATERFALL_DB[rate] + offset
        llr, u = _channel_llr(links[0], blocks, snr, seed=1)
        for link in links:
            link.decode(llr[:2], u[:2])  # warm-up (numba: load the cached kernel)
        best = [math.inf] * len(links)
        stats = [(0.0, 0.0)] * len(links)
        for _ in range(repeats):  # rounds interleave the backends: load drift hits all alike
            for i, link in enumerate(links):
                seconds, bler, iters = _decode_seconds(link, llr, u)
                best[i] = min(best[i], seconds)
                stats[i] = (bler, iters)
        print(f"  Es/N0 {snr:.2f} dB (waterfall {offset:+.1f} dB), {blocks} blocks, best of {repeats}:")
        for i, (name, _) in enumerate(CONFIGS):
            mbps = blocks * seg.k / best[i] / 1e6
            print(f"    {name:26s} {mbps:8.3f} info Mbit/s per CPU-s  x{best[0] / best[i]:7.1f} vs reference  "
                  f"BLER {stats[i][0]:.3f}  mean it {stats[i][1]:4.1f}")


def _bler_sweep(rate: float, blocks: int) -> None:
    seg = segment(N_SYMBOLS, rate)
    configs = [("sionna it20", dict(decoder="sionna", num_iter=20, early_stop=False)),
               ("flooding it20", dict(decoder="flooding", num_iter=20)),
               ("layered it20", dict(decoder="layered", num_iter=20)),
               ("sionna it50", dict(decoder="sionna", num_iter=50)),
               ("flooding it50", dict(decoder="flooding", num_iter=50)),
               ("layered it50", dict(decoder="layered", num_iter=50))]
    links = [(name, LdpcLink(seg.k, seg.n_cb, **kw)) for name, kw in configs]
    offsets = (-0.6, -0.4, -0.2, 0.0, 0.2, 0.4)
    print(f"  BLER of {blocks} blocks vs Es/N0 (dB): " + "  ".join(f"{WATERFALL_DB[rate] + o:5.2f}" for o in offsets))
    data = [_channel_llr(links[0][1], blocks, WATERFALL_DB[rate] + o, seed=2) for o in offsets]
    for name, link in links:
        row = [float((~link.decode(llr, u).ok).float().mean()) for llr, u in data]
        print(f"    {name:14s} " + "  ".join(f"{b:5.2f}" for b in row))


def _bpg_search(image_path: str | None) -> None:
    path = image_path or "/work/shared/datasets/kodak/kodim01.png"
    if Path(path).exists():
        from simulator.data import load_image

        image = load_image(path)
    else:
        path = "synthetic 512x768"
        g = torch.Generator().manual_seed(0)
        image = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 12, generator=g), size=(512, 768),
                                                mode="bicubic", align_corners=False)[0].clamp(0, 1)
    print(f"\n== BPG rate search on {path}")
    with tempfile.TemporaryDirectory() as tmp:
        codec = BPGCodec(cache_dir=tmp)
        print(f"  codec {codec.info()}")
        for rate in WATERFALL_DB:
            budget = segment(N_SYMBOLS, rate).payload_bits
            t0 = time.perf_counter()
            enc = codec.encode_to_budget(image, budget)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            BPGCodec(cache_dir=tmp).encode_to_budget(image, budget)  # fresh memory, warm disk cache
            warm = time.perf_counter() - t0
            print(f"  rate {rate}: budget {budget} bits → QP {enc.qp}, {enc.bits} bits; "
                  f"search {cold:.2f} s cold ({codec.stats.encodes} encodes so far), {warm * 1e3:.1f} ms warm")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=16, help="code blocks per timed decoder call")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (best per backend is kept)")
    p.add_argument("--sweep", action="store_true", help="also print BLER vs Es/N0 per backend")
    p.add_argument("--sweep-blocks", type=int, default=64, help="code blocks per BLER point")
    p.add_argument("--image", default=None, help="image for the BPG rate search (default kodim01 if found)")
    p.add_argument("--threads", type=int, default=1, help="torch and numba threads (1: CPU time = work)")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(f"torch {torch.__version__}, numba {numba.__version__}, threads {args.threads}")
    for rate in WATERFALL_DB:
        seg = segment(N_SYMBOLS, rate)
        print(f"\n== rate {rate}: C={seg.num_blocks} blocks, k={seg.k}, n_cb={seg.n_cb}")
        _throughput(rate, args.blocks, args.repeats)
        if args.sweep:
            _bler_sweep(rate, args.sweep_blocks)
    _bpg_search(args.image)


if __name__ == "__main__":
    main()
