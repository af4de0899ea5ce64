"""Sweep throughput on 1 and 2 local Dask workers, and the Dask overhead per task.

For each CPU-bound scheme family (``cddm``; ``bpg-ldpc`` = both LDPC rates) it sweeps the same
Kodak images and SNR points, nothing stored (``results_dir=None``, every point computed):

* in this process, one torch and one numba thread, one image per task as on the workers
  (``batch_size=1``; the reference for the overhead);
* on a ``LocalCluster`` of 1, then 2 single-thread worker processes (schemes built and warmed on
  every worker first, so start-up is not in the rate);

(each process — this one and every worker — first sweeps the bpg-ldpc images at one SNR, so every
run finds the same BPG caches, in memory and on disk),
and prints rows/s, the 2-worker / 1-worker ratio, the overhead per task
((1-worker time − in-process time) / tasks) and the round trip of an empty Dask task.
Measure with nothing else running (see docs/cluster.md for the numbers and how they were taken)::

    python benchmarks/bench_cluster.py                    # ~4 min on a 2-core machine
    python benchmarks/bench_cluster.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from simulator.data import ImageItem, find_dataset, list_images
from simulator.sweep import SweepConfig, parse_snr_spec, run_sweeps
from simulator.sweep.distributed import WORKER_ENV, local_client, log_to_stderr
from simulator.sweep.execute import execute_task
from simulator.sweep.plan import make_tasks, plan_scheme
from simulator.sweep.schemes import cached_scheme

FAMILIES = {"cddm": ["cddm"], "bpg-ldpc": ["bpg-ldpc-1/2", "bpg-ldpc-3/4"]}


def _warm(specs: list[str], item: ImageItem, ldpc_images: list[ImageItem], snr: float) -> int:
    """Build every scheme of ``specs`` in this process and run one tiny point of each (JIT, caches), then
    the bpg-ldpc images at one SNR (fills this process's in-memory BPG cache, as every run must find it)."""
    for spec in specs:
        scheme = cached_scheme(spec)
        config = SweepConfig(snrs=[10.0], dataset="warm", results_dir=None)
        plan = plan_scheme(scheme, spec, [item], config, [])
        for task in make_tasks(plan, [item], config, 1):
            list(execute_task(task, scheme))
    run_sweeps(FAMILIES["bpg-ldpc"], ldpc_images, SweepConfig(snrs=[snr], dataset="kodak", results_dir=None))
    return os.getpid()


def _noop(i: int) -> int:
    return i


def _timed_sweep(specs: list[str], images: list[ImageItem], snrs: list[float], executor: object) -> tuple[int, float]:
    t0 = time.perf_counter()
    config = SweepConfig(snrs=snrs, dataset="kodak", results_dir=None, batch_size=1)  # in-process: one image a task too
    rows = run_sweeps(specs, images, config, executor=executor)
    return len(rows), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="kodak", help="data-set name or folder (default kodak)")
    p.add_argument("--cddm-images", type=int, default=4, help="images of the cddm sweep (default 4)")
    p.add_argument("--cddm-snr", default="0", help="SNR points of the cddm sweep (default 0)")
    p.add_argument("--ldpc-images", type=int, default=8, help="images of the bpg-ldpc sweep (default 8)")
    p.add_argument("--ldpc-snr", default="0:10:2", help="SNR points of the bpg-ldpc sweep (default 0:10:2)")
    p.add_argument("--noop-tasks", type=int, default=200, help="empty tasks timed for the round trip")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    log_to_stderr("bench_cluster")  # per-worker rows/s of every sweep

    folder = find_dataset(args.dataset)
    cases = {"cddm": (list_images(folder, args.cddm_images), parse_snr_spec(args.cddm_snr)),
             "bpg-ldpc": (list_images(folder, args.ldpc_images), parse_snr_spec(args.ldpc_snr))}
    specs = [s for family in FAMILIES.values() for s in family]
    with tempfile.TemporaryDirectory() as tmp:
        warm_path = Path(tmp) / "warm.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(warm_path)
        warm_item = ImageItem("warm.png", warm_path)

        torch.set_num_threads(1)
        os.environ.update(WORKER_ENV)
        import numba

        numba.set_num_threads(1)
        ldpc_images, ldpc_snrs = cases["bpg-ldpc"]
        _warm(specs, warm_item, ldpc_images, ldpc_snrs[0])
        result: dict[str, dict] = {name: {"tasks": len(imgs)} for name, (imgs, _) in cases.items()}
        for name, (imgs, snrs) in cases.items():
            rows, seconds = _timed_sweep(FAMILIES[name], imgs, snrs, None)
            result[name]["in_process"] = {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}
            print(f"{name:9s} in-process (1 thread): {rows} rows in {seconds:.1f} s = {rows / seconds:.3f} rows/s",
                  file=sys.stderr)
        noop = {}
        for workers in (1, 2):
            with local_client(workers) as client:
                client.run(_warm, specs, warm_item, ldpc_images, ldpc_snrs[0])
                for name, (imgs, snrs) in cases.items():
                    rows, seconds = _timed_sweep(FAMILIES[name], imgs, snrs, client)
                    result[name][f"workers_{workers}"] = {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}
                    print(f"{name:9s} {workers} worker(s): {rows} rows in {seconds:.1f} s = {rows / seconds:.3f} rows/s",
                          file=sys.stderr)
                t0 = time.perf_counter()
                client.gather(client.map(_noop, range(args.noop_tasks), pure=False))
                noop[workers] = (time.perf_counter() - t0) / args.noop_tasks
    for name, r in result.items():
        r["ratio_2_over_1"] = r["workers_2"]["rows_per_s"] / r["workers_1"]["rows_per_s"]
        r["overhead_per_task_s"] = (r["workers_1"]["seconds"] - r["in_process"]["seconds"]) / r["tasks"]
    result["noop_task_s"] = {str(k): v for k, v in noop.items()}
    print(f"{'family':9s} {'in-proc rows/s':>14s} {'1 worker':>9s} {'2 workers':>9s} {'2/1':>6s} {'overhead/task':>13s}")
    for name in cases:
        r = result[name]
        print(f"{name:9s} {r['in_process']['rows_per_s']:14.3f} {r['workers_1']['rows_per_s']:9.3f} "
              f"{r['workers_2']['rows_per_s']:9.3f} {r['ratio_2_over_1']:6.2f} {r['overhead_per_task_s']:12.3f}s")
    print(f"empty task round trip: {noop[1] * 1e3:.1f} ms (1 worker), {noop[2] * 1e3:.1f} ms (2 workers)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
