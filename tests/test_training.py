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
from simulator.training.loop import TrainSettings, learning_rate, poly_lr, train
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


def test_learning_rate_schedules(tmp_path: Path) -> None:
    def lrs(**kw: object) -> list[float]:
        s = TrainSettings(data_dir=tmp_path, run_dir=tmp_path, output=tmp_path / "w.safetensors", lr=1.0, **kw)
        return [learning_rate(s, it) for it in range(s.iters)]

    assert lrs(iters=4, warmup=4, schedule="constant") == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs(iters=6, warmup=2, schedule="wsd", decay_iters=2) == pytest.approx([0.5, 1, 1, 1, 1, 0.5])
    cosine = lrs(iters=5, warmup=1, schedule="cosine")
    assert cosine[1] == pytest.approx(1.0) and cosine[3] == pytest.approx(0.5) and cosine[-1] < 0.2
    # extending a wsd run before its decay changes none of the rates already used
    assert lrs(iters=20, warmup=2, schedule="wsd", decay_iters=5)[:15] == lrs(iters=40, warmup=2, schedule="wsd", decay_iters=5)[:15]
    with pytest.raises(ValueError, match="accepted: poly, cosine, constant, wsd"):
        lrs(iters=4, schedule="step")
    with pytest.raises(ValueError, match="decay iterations"):
        lrs(iters=4, schedule="wsd")


def test_validation_and_test_splits_are_never_trained_on(tmp_path: Path) -> None:
    from simulator.data import RandomCropDataset

    write_images(tmp_path / "bsds" / "train", [(40, 40)])
    write_images(tmp_path / "bsds" / "val", [(40, 40), (40, 40)])
    write_images(tmp_path / "bsds" / "test", [(40, 40)])
    data = RandomCropDataset(tmp_path, crop=32, exclude=("val", "test"))
    assert [it.image_id for it in data.items] == ["bsds/train/img0.png"]


def test_ema_bf16_run_resumes_exactly_and_keeps_best(tmp_path: Path, train_folder: Path) -> None:
    val = torch.rand(1, 3, 32, 32)
    extra = dict(ema=0.9, bf16=True, optimizer="adamw", weight_decay=0.01, schedule="wsd", warmup=1,
                 decay_iters=2, keep_best=True)

    def run(folder: Path, progress=None) -> None:
        torch.manual_seed(0)
        settings = _settings(train_folder, folder, iters=6)
        for key, value in extra.items():
            setattr(settings, key, value)
        train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), settings, val, progress=progress)

    class Killed(Exception):
        pass

    def kill_at_5(done: int, total: int, logs: dict) -> None:
        if done == 5:
            raise Killed

    run(tmp_path / "straight")
    with pytest.raises(Killed):
        run(tmp_path / "killed", kill_at_5)
    run(tmp_path / "killed")
    a = load_file(str(tmp_path / "straight" / "out.safetensors"))
    b = load_file(str(tmp_path / "killed" / "out.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    import json

    card = json.loads((tmp_path / "straight" / "out.json").read_text())
    best = max(h["val_psnr"] for h in card["validation_history"])
    assert card["validation"]["val_psnr"] == best and card["iterations"] == card["validation"]["iteration"]
    assert all(h["cpu_hours"] > 0 and h["wall_s"] > 0 for h in card["validation_history"])


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


def test_campaign_continues_from_its_shipped_weights(tmp_path: Path, train_folder: Path) -> None:
    """A new session starts from the exported EMA weights + card: iterations, CPU time and the
    learning curve continue; the optimizer restarts with a fresh warm-up."""
    import json

    val = torch.rand(1, 3, 32, 32)

    def settings(folder: Path, iters: int, init: Path | None = None) -> TrainSettings:
        s = _settings(train_folder, folder, iters=iters)
        s.schedule, s.decay_iters, s.warmup, s.ema, s.init_from = "wsd", 2, 2, 0.9, init
        return s

    torch.manual_seed(0)
    train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), settings(tmp_path / "s1", 4), val)
    first = json.loads((tmp_path / "s1" / "out.json").read_text())
    lrs: list[float] = []
    torch.manual_seed(1)
    task = JSCCTask(JSCC_CONFIGS["tiny"], "tiny")
    card = train(task, settings(tmp_path / "s2", 8, init=tmp_path / "s1" / "out.safetensors"), val,
                 progress=lambda done, total, logs: lrs.append(done))
    assert lrs == [5, 6, 7, 8]  # iterations 1-4 were done in the first session
    assert [h["iteration"] for h in card["validation_history"]] == [2, 4, 6, 8]
    assert card["validation_history"][:2] == first["validation_history"]
    assert card["cpu_hours"] >= first["cpu_hours"] and card["iterations"] == 8
    with pytest.raises(NotImplementedError, match="cannot start from an exported checkpoint"):
        from simulator.training.loop import Task

        Task.load_exported(task, {})
