"""Training infrastructure: exact resume after a kill, and 2-process data parallelism."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from simulator.models.jscc import JSCC_CONFIGS
from simulator.training.jscc_task import JSCCTask
from simulator.training.loop import TrainSettings, poly_lr, train
from tests.conftest import write_images


@pytest.fixture(scope="module")
def train_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_images(tmp_path_factory.mktemp("train"), [(48, 64), (64, 40), (40, 40)])


def _settings(folder: Path, run: Path, iters: int = 4) -> TrainSettings:
    return TrainSettings(data_dir=folder, run_dir=run / "state", output=run / "out.safetensors", iters=iters,
                         batch=2, crop=32, lr=1e-3, snrs_db=(5.0, 13.0), save_every=2, val_every=2)


def test_poly_lr() -> None:
    assert poly_lr(1e-4, 0, 100, 0.9) == pytest.approx(1e-4)
    assert poly_lr(1e-4, 50, 100, 1.0) == pytest.approx(5e-5)
    assert poly_lr(1e-4, 100, 100, 0.9) == 0.0


def test_killed_run_resumes_exactly(tmp_path: Path, train_folder: Path) -> None:
    val = torch.rand(1, 3, 32, 32)
    torch.manual_seed(0)
    train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), _settings(train_folder, tmp_path / "straight"), val)

    class Killed(Exception):
        pass

    def kill_at_3(done: int, total: int, logs: dict) -> None:
        if done == 3:
            raise Killed

    torch.manual_seed(0)
    with pytest.raises(Killed):
        train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), _settings(train_folder, tmp_path / "killed"), val, progress=kill_at_3)
    assert not (tmp_path / "killed" / "out.safetensors").exists()
    torch.manual_seed(123)  # a fresh process would start with other weights: the saved state wins
    card = train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), _settings(train_folder, tmp_path / "killed"), val)
    a = load_file(str(tmp_path / "straight" / "out.safetensors"))
    b = load_file(str(tmp_path / "killed" / "out.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert card["iterations"] == 4 and card["kind"] == "jscc-t" and "val_psnr" in card["validation"]


def test_two_process_data_parallel_keeps_ranks_identical(tmp_path: Path, train_folder: Path) -> None:
    script = tmp_path / "ddp_job.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, torch
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        torch.set_num_threads(1)
        from pathlib import Path
        from simulator.models.jscc import JSCC_CONFIGS
        from simulator.training.jscc_task import JSCCTask
        from simulator.training.loop import TrainSettings, train
        rank = int(os.environ["RANK"])
        torch.manual_seed(rank)  # different start: rank 0's weights must be broadcast
        task = JSCCTask(JSCC_CONFIGS["tiny"], "tiny")
        out = Path({str(tmp_path)!r})
        train(task, TrainSettings(data_dir=Path({str(train_folder)!r}), run_dir=out / "state", output=out / "w.safetensors",
                                  iters=2, batch=2, crop=32, save_every=10, val_every=10), torch.rand(1, 3, 32, 32))
        torch.save({{k: v.clone() for k, v in task.modules.state_dict().items()}}, out / f"rank{{rank}}.pt")
    """))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    fresh = JSCCTask(JSCC_CONFIGS["tiny"], "tiny").modules.state_dict()
    assert any(not torch.equal(w0[k], fresh[k]) for k in w0)  # it did train
    for key in w0:
        torch.testing.assert_close(w0[key], w1[key], rtol=0, atol=0)
