"""Phase-1 (JSCC-T) training throughput on this CPU: which levers pay, and how to use 2 cores.

Two parts, each printed as images/s and as a ratio to a reference run made in the same
process invocation (rounds interleaved, medians), so a loaded machine shifts all numbers
alike:

1. **Levers** (in process, one thread, batch × crop² random crops, forward + backward +
   Adam step of :class:`~simulator.training.jscc_task.JSCCTask`), per codec config:
   ``sdpa-fp32`` (the reference: ``F.scaled_dot_product_attention`` with a float mask,
   float32), ``explicit-fp32`` (softmax(q·kᵀ + bias + mask)·v written out) and
   ``explicit-bf16`` (plus ``torch.autocast(dtype=bfloat16)``).
2. **Cores** (``--parallel``): the real training command (``semcom-train jscc``) run for a
   few iterations as ``today`` (1 process × 1 thread, sdpa, fp32: the recipe of the shipped
   weights — the reference), ``1x1`` (1 × 1, explicit + bf16), ``1x2`` (one process, 2
   threads) and ``2x1`` (``torchrun`` with 2 processes × 1 thread, data parallel).  Images/s
   counts the crops of all processes; the loop's own wall time (data loading excluded) is used.
3. **Loader** (``--workers 0,1,2``): the ``1x1`` run with its crops built by that many
   DataLoader worker processes (0 = in the training thread, as before the DataLoader), the
   first as the reference; the loop's wall time includes the workers' start.

Usage::

    python benchmarks/bench_train.py [--configs cpu,mid,large,paper] [--steps 4] [--rounds 3]
                                     [--batch 8] [--crop 128] [--parallel] [--parallel-iters 30]
                                     [--workers 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.models.jscc import JSCC_CONFIGS  # noqa: E402
from simulator.models.swin import set_attention_path  # noqa: E402
from simulator.training.jscc_task import JSCCTask  # noqa: E402

LEVERS = {"sdpa-fp32": ("sdpa", False), "explicit-fp32": ("explicit", False), "explicit-bf16": ("explicit", True)}
PARALLEL = {  # name → (processes, threads per process, extra training flags)
    "today": (1, 1, ["--attention", "sdpa", "--precision", "fp32"]),
    "1x1": (1, 1, []),
    "1x2": (1, 2, []),
    "2x1": (2, 1, []),
}


def lever_step_seconds(config: str, lever: str, batch: int, crop: int, steps: int) -> float:
    """Median seconds of one training step (after one warm-up step)."""
    attention, bf16 = LEVERS[lever]
    set_attention_path(attention)
    torch.manual_seed(0)
    task = JSCCTask(JSCC_CONFIGS[config], config)
    opt = torch.optim.Adam(task.trainable(), lr=1e-4)
    images = torch.rand(batch, 3, crop, crop)
    snr = torch.full((batch,), 13.0)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = task.loss(images, snr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_levers(configs: list[str], batch: int, crop: int, steps: int, rounds: int) -> None:
    torch.set_num_threads(1)
    print(f"## Levers: images/s, 1 thread, batch {batch} × {crop}², median of {rounds} interleaved rounds")
    print("| config | params (M) | " + " | ".join(LEVERS) + " | " + " | ".join(f"{k} / sdpa-fp32" for k in list(LEVERS)[1:]) + " |")
    print("|" + " --- |" * (2 + 2 * len(LEVERS) - 1))
    for config in configs:
        per: dict[str, list[float]] = {k: [] for k in LEVERS}
        for _ in range(rounds):
            for lever in LEVERS:
                per[lever].append(lever_step_seconds(config, lever, batch, crop, steps))
        speed = {k: batch / statistics.median(v) for k, v in per.items()}
        params = sum(p.numel() for p in JSCCTask(JSCC_CONFIGS[config], config).trainable()) / 1e6
        ratios = [speed[k] / speed["sdpa-fp32"] for k in list(LEVERS)[1:]]
        print(f"| {config} | {params:.2f} | " + " | ".join(f"{speed[k]:.2f}" for k in LEVERS) + " | "
              + " | ".join(f"{r:.2f}×" for r in ratios) + " |", flush=True)
    set_attention_path("explicit")


def _train_images_per_s(name: str, config: str, iters: int, batch: int, crop: int, data_dir: str | None,
                        more: tuple[str, ...] = ()) -> float:
    procs, threads, extra = PARALLEL[name]
    extra = [*extra, *more]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.safetensors"
        args = ["jscc", "--config", config, "--iters", str(iters), "--batch", str(batch), "--crop", str(crop),
                "--threads", str(threads), "--val-every", str(iters), "--val-count", "1", "--save-every", str(iters),
                "--run-dir", str(Path(tmp) / "run"), "--out", str(out), *extra]
        if data_dir:
            args += ["--data-dir", data_dir]
        launcher = [sys.executable, "-m", "simulator.train_cli"]
        if procs > 1:
            launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
                        "--master_port", "29517", "-m", "simulator.train_cli"]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        proc = subprocess.run(launcher + args, capture_output=True, text=True, env=env,
                              cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode:
            raise RuntimeError(f"{name}: training failed: {proc.stderr[-1500:]}")
        card = json.loads(out.with_suffix(".json").read_text())
        return iters * batch * procs / card["wall_time_s"]


def run_parallel(config: str, iters: int, batch: int, crop: int, rounds: int, data_dir: str | None) -> None:
    print(f"\n## Cores: `semcom-train jscc --config {config}`, {iters} iterations of batch {batch} × {crop}² "
          f"per process, median of {rounds} interleaved rounds")
    per: dict[str, list[float]] = {k: [] for k in PARALLEL}
    for _ in range(rounds):
        for name in PARALLEL:
            per[name].append(_train_images_per_s(name, config, iters, batch, crop, data_dir))
    ref = statistics.median(per["today"])
    print("| run | processes × threads | images/s | ratio to today |")
    print("| --- | --- | --- | --- |")
    for name, (procs, threads, _) in PARALLEL.items():
        speed = statistics.median(per[name])
        print(f"| {name} | {procs} × {threads} | {speed:.2f} | {speed / ref:.2f}× |", flush=True)


def run_workers(config: str, workers: list[int], iters: int, batch: int, crop: int, rounds: int,
                data_dir: str | None) -> None:
    print(f"\n## Loader: `semcom-train jscc --config {config} --workers N`, 1 × 1, {iters} iterations of batch "
          f"{batch} × {crop}², median of {rounds} interleaved rounds")
    per: dict[int, list[float]] = {w: [] for w in workers}
    for _ in range(rounds):
        for w in workers:
            per[w].append(_train_images_per_s("1x1", config, iters, batch, crop, data_dir, ("--workers", str(w))))
    ref = statistics.median(per[workers[0]])
    print(f"| workers | images/s | ratio to {workers[0]} |")
    print("| --- | --- | --- |")
    for w in workers:
        speed = statistics.median(per[w])
        print(f"| {w} | {speed:.2f} | {speed / ref:.2f}× |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="cpu,mid,large,paper")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per lever and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--parallel", action="store_true", help="also time the training command on 1 and 2 cores")
    parser.add_argument("--parallel-config", default="cpu")
    parser.add_argument("--parallel-iters", type=int, default=30)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--workers", default="", help="also compare DataLoader worker counts, e.g. 0,1,2")
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in JSCC_CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; accepted: {', '.join(JSCC_CONFIGS)}")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if configs:
        run_levers(configs, args.batch, args.crop, args.steps, args.rounds)
    if args.parallel:
        run_parallel(args.parallel_config, args.parallel_iters, args.batch, args.crop, args.rounds, args.data_dir)
    if args.workers:
        run_workers(args.parallel_config, [int(w) for w in args.workers.split(",")], args.parallel_iters, args.batch,
                    args.crop, args.rounds, args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
