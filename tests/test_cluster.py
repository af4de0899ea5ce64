"""Sweeps on a real Dask ``LocalCluster`` of 2 worker processes: the same rows as in-process for
every scheme family, a worker killed mid-sweep, a task that raises, a worker whose noise differs,
the store lock between processes, and the Slurm job script of the dask-jobqueue path.

Workers import this module at start (``preload``), which registers the test schemes here and in
``conftest.py`` in every worker process, restarted ones included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from simulator.data import list_images
from simulator.registry import register_scheme
from simulator.sweep import (
    SweepConfig,
    SweepError,
    WorkerMismatchError,
    build_scheme,
    run_sweeps,
)
from simulator.sweep.distributed import ClusterError, jobqueue_cluster, local_client
from simulator.sweep.store import StoreLockedError, read_rows, row_key, store_lock
from tests.conftest import IdentityScheme, write_images

REPO = Path(__file__).resolve().parents[1]


@register_scheme("test-slow")
class SlowScheme(IdentityScheme):
    """The identity link, 0.4 s per transmission: tasks long enough to kill a worker in one."""

    description = "test only: the identity link, slowly"

    def receive(self, tx, rx):  # noqa: ANN001, ANN201
        time.sleep(0.4)
        return super().receive(tx, rx)


def _close(a: list[dict], b: list[dict]) -> None:
    """Rows of the same points, the same config, PSNR to 1e-4 dB."""
    assert [row_key(r) for r in a] == [row_key(r) for r in b]
    for x, y in zip(a, b):
        assert x["config_hash"] == y["config_hash"] and x["channel_uses"] == y["channel_uses"]
        assert x["psnr"] == pytest.approx(y["psnr"], abs=1e-4), (x["spec"], x["image_id"], x["snr_db"])
        assert x.get("extras", {}).keys() == y.get("extras", {}).keys()


@pytest.fixture(scope="module")
def weights(tiny_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny JSCC-T, denoiser, ours-decoder and CDDM weights in one folder (``SEMCOM_CHECKPOINTS``)."""
    from baselines.cddm.model import CDDM
    from simulator.checkpoints import save_checkpoint
    from tests.test_cddm import TINY

    folder = tmp_path_factory.mktemp("cluster-ckpt")
    for path in tiny_checkpoints.iterdir():
        shutil.copy(path, folder)
    torch.manual_seed(1)
    model = CDDM(TINY)
    save_checkpoint(folder / "cddm-tiny.safetensors", dict(model.state_dict()),
                    {"kind": "cddm", "config": TINY.to_dict(), "train_t_max": TINY.steps})
    return folder


@pytest.fixture(scope="module")
def client(weights: Path):  # noqa: ANN201
    """2 single-thread workers that see the tiny weights and the test schemes."""
    old = os.environ.get("SEMCOM_CHECKPOINTS")
    os.environ["SEMCOM_CHECKPOINTS"] = str(weights)
    try:
        with local_client(2, preload=["tests.test_cluster"]) as c:
            yield c
    finally:
        if old is None:
            os.environ.pop("SEMCOM_CHECKPOINTS", None)
        else:
            os.environ["SEMCOM_CHECKPOINTS"] = old


@pytest.fixture
def images(tmp_path: Path) -> list:
    return list_images(write_images(tmp_path / "imgs", [(32, 48), (48, 32)]))


SPECS = ["jscc-t:config=tiny", "ours:config=tiny", "cddm:config=tiny", "bpg-ldpc-1/2", "bpg-capacity"]


def test_worker_rows_equal_in_process_rows_for_every_scheme_family(client, images, tmp_path: Path) -> None:
    snrs = [0.0, 8.0]
    local = run_sweeps(SPECS, images, SweepConfig(snrs=snrs, results_dir=tmp_path / "local"))
    half = run_sweeps(SPECS, images, SweepConfig(snrs=snrs[:1], results_dir=tmp_path / "dask"), executor=client)
    rows = run_sweeps(SPECS, images, SweepConfig(snrs=snrs, results_dir=tmp_path / "dask"), executor=client)
    assert len(rows) == len(SPECS) * 2 * 2 and {r["dataset"] for r in rows} == {"imgs"}
    _close(local, rows)
    assert [r for r in rows if r["snr_db"] == 0.0] == half  # resumed: stored rows reused
    for spec in SPECS:
        stored = read_rows(SweepConfig(snrs=snrs, dataset="imgs", results_dir=tmp_path / "dask").result_file(spec))
        assert len(stored) == 4 and len({row_key(r) for r in stored}) == 4  # each point once
    assert all(r["torch_threads"] == 1 for r in rows)


def test_a_task_that_raises_names_scheme_and_image_and_keeps_other_rows(client, images, tmp_path: Path) -> None:
    bad = images[0].path.parent / "broken.png"
    bad.write_bytes(b"not a png")
    config = SweepConfig(snrs=[0.0, 5.0], results_dir=tmp_path / "r")
    with pytest.raises(SweepError, match=r"^test-identity on broken\.png: DataError: .*broken\.png"):
        run_sweeps(["test-identity"], list_images(bad.parent), config, executor=client)
    stored = read_rows(tmp_path / "r" / "imgs" / "test-identity.jsonl")
    assert sorted({r["image_id"] for r in stored}) == ["img0.png", "img1.png"] and len(stored) == 4


def test_a_worker_with_other_channel_noise_is_refused(client, images, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.sweep.commit as commit

    monkeypatch.setattr(commit, "noise_fingerprint", lambda channel, seed: "0123456789abcdef")
    with pytest.raises(WorkerMismatchError, match="refused: its channel noise differs"):
        run_sweeps(["test-identity"], images, SweepConfig(snrs=[0.0], results_dir=tmp_path / "r"), executor=client)
    assert not (tmp_path / "r" / "imgs" / "test-identity.jsonl").exists()


def test_run_task_refuses_other_noise_and_other_weights(images) -> None:
    from dataclasses import replace

    from simulator.sweep.execute import run_task
    from simulator.sweep.plan import make_tasks, plan_scheme
    from simulator.sweep.schemes import build_scheme

    config = SweepConfig(snrs=[0.0], dataset="imgs", results_dir=None)
    plan = plan_scheme(build_scheme("test-identity"), "test-identity", images, config, [])
    task = make_tasks(plan, images, config, 1)[0]
    with pytest.raises(WorkerMismatchError, match="channel noise differs"):
        run_task(replace(task, fingerprint="0" * 16))
    with pytest.raises(WorkerMismatchError, match="config hash"):
        run_task(replace(task, static=task.static | {"config_hash": "feedfacefeedface"}))
    assert len(run_task(task).rows) == 1


def test_worker_killed_mid_sweep_every_point_stored_once(client, tmp_path: Path) -> None:
    images = list_images(write_images(tmp_path / "imgs", [(16, 16)] * 6))
    config = SweepConfig(snrs=[0.0, 5.0], results_dir=tmp_path / "r")
    out: dict[str, object] = {}
    sweep = threading.Thread(target=lambda: out.update(rows=run_sweeps(["test-slow"], images, config, executor=client)))
    sweep.start()
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:  # a worker in the middle of a task
        busy = [addr for addr, keys in client.processing().items() if keys]
        victim = busy[0] if busy else None
        time.sleep(0.2)
    assert victim is not None
    time.sleep(0.3)
    os.kill(pids[victim], signal.SIGKILL)
    sweep.join(timeout=180)
    assert not sweep.is_alive() and len(out["rows"]) == 12
    stored = read_rows(tmp_path / "r" / "imgs" / "test-slow.jsonl")
    assert len(stored) == 12 and len({row_key(r) for r in stored}) == 12


def _driver(images: str, results: str) -> None:
    """A driver process for the test below: a slow sweep on its own 2-worker cluster."""
    with local_client(2, preload=["tests.test_cluster"]) as c:
        run_sweeps(["test-slow"], list_images(Path(images)), SweepConfig(snrs=[0.0, 5.0], results_dir=results),
                   executor=c)


def test_driver_killed_the_same_call_resumes(tmp_path: Path) -> None:
    import psutil

    folder = write_images(tmp_path / "imgs", [(16, 16)] * 6)
    path = tmp_path / "r" / "imgs" / "test-slow.jsonl"
    driver = subprocess.Popen([sys.executable, "-c", "import sys; from tests.test_cluster import _driver; "
                               "_driver(*sys.argv[1:])", str(folder), str(tmp_path / "r")], cwd=REPO)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while len(read_rows(path)) < 2 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
        children = psutil.Process(driver.pid).children(recursive=True)
        driver.kill()  # no clean-up: its nanny and worker processes go by pid below
        driver.wait()
    finally:
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    before = len(read_rows(path))
    assert 2 <= before < 12
    scheme = build_scheme("test-slow")
    rows = run_sweeps(["test-slow"], list_images(folder), SweepConfig(snrs=[0.0, 5.0], results_dir=tmp_path / "r"),
                      schemes={"test-slow": scheme})
    stored = read_rows(path)
    assert len(rows) == len(stored) == 12 and len({row_key(r) for r in stored}) == 12
    assert scheme.sent == 12 - before


def test_store_lock_stops_a_second_writer_and_dies_with_its_holder(images, tmp_path: Path) -> None:
    config = SweepConfig(snrs=[0.0], results_dir=tmp_path / "r")
    path = tmp_path / "r" / "imgs" / "test-identity.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from simulator.sweep.store import store_lock\n"
         "with store_lock([sys.argv[1]]):\n    print('held', flush=True); time.sleep(60)", str(path)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match=rf"test-identity\.jsonl is being written by pid {holder.pid} on "):
            run_sweeps(["test-identity"], images, config)
        assert not path.exists()
        from simulator.cli import main

        assert main(["--scheme", "test-identity", "--dataset", str(images[0].path.parent), "--snr", "0",
                     "--results-dir", str(tmp_path / "r"), "--no-progress"]) == 1
    finally:
        holder.kill()
        holder.wait()
    assert len(run_sweeps(["test-identity"], images, config)) == 2  # the lock died with its holder
    with store_lock([path]), pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
        run_sweeps(["test-identity"], images, config)


def test_slurm_job_script_without_slurm() -> None:
    cluster = jobqueue_cluster("slurm", cores=4, memory="8GB", queue="short", walltime="01:00:00",
                               scheduler_options={"dashboard_address": ":0"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -t 01:00:00" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script  # one single-thread worker per core
    assert "export NUMBA_NUM_THREADS=1" in script


def test_cluster_flags_bad_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                 tiny_dataset: Path) -> None:
    import simulator.sweep.distributed as distributed
    from simulator.cli import main

    monkeypatch.setattr(distributed, "SCHEDULER_TIMEOUT_S", 1)
    for argv, message in ((["--workers", "0"], "'0' must be >= 1"),
                          (["--workers", "2", "--cluster", "slurm"], "--workers and --cluster given"),
                          (["--jobs", "2"], "--jobs needs --cluster"),
                          (["--scheduler", "tcp://127.0.0.1:9"], "within 1 s")):
        assert main(["--scheme", "bpg-capacity", "--snr", "0", "--dataset", str(tiny_dataset), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(ClusterError, match=r"pip install -e '\.\[cluster\]'"):
        jobqueue_cluster("slurm")
