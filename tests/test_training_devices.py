"""Training on every device present: one step of every phase for every codec config, the
DataLoader's per-iteration determinism (workers or not, resumed or not), precision and device
choice, and the ``--device`` errors of ``semcom-train``.  CUDA cases are marked ``cuda``
(``scripts/gpu_check.sh`` runs ``pytest -m cuda``) and skipped without CUDA."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from baselines.cddm.model import CDDM_CONFIGS
from simulator.data import RandomCropDataset
from simulator.models.denoiser import DENOISER_CONFIGS
from simulator.models.jscc import JSCC_CONFIGS
from simulator.train_cli import PHASES, main
from simulator.training.data_loader import batch_loader, enter_iteration
from simulator.training.loop import training_device, training_precision
from tests.conftest import write_images

HAS_CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="no CUDA here")])]

#: every phase in the order its inputs exist, with the checkpoints it reads (besides --jscc).
PHASE_INPUTS = {"jscc": [], "denoiser": [], "cddm": [], "decoder": [], "jscc-sa": [],
                "finetune": ["--denoiser"], "finetune-snr": ["--denoiser"], "cddm-finetune": ["--cddm"]}
INPUT_PHASE = {"--denoiser": "denoiser", "--cddm": "cddm"}
#: mid, large and paper take 6-14, 12-21 and 20-52 s here (load-dependent; 10-50 M parameters per phase): slow.
CONFIGS = [c if c in ("tiny", "cpu") else pytest.param(c, marks=pytest.mark.slow) for c in JSCC_CONFIGS]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_images(root / "train", [(32, 48), (40, 32)])
    write_images(root / "val", [(32, 32)])
    return root


def test_every_phase_and_config_is_listed() -> None:
    assert set(PHASE_INPUTS) == set(PHASES), "a new semcom-train phase: add it to PHASE_INPUTS"
    assert set(JSCC_CONFIGS) <= set(DENOISER_CONFIGS) and set(JSCC_CONFIGS) <= set(CDDM_CONFIGS)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", CONFIGS)
def test_one_step_of_every_phase(config: str, device: str, data_dir: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``semcom-train PHASE --config CONFIG --device DEVICE --iters 1`` for every phase, each
    phase reading the checkpoints the previous ones wrote (16² crops, batch 1).  The CDDM
    schedule is cut to 20 steps so that its sampler (validation, cddm-finetune) stays short; the
    ε-network is the config's."""
    monkeypatch.setitem(CDDM_CONFIGS, config, replace(CDDM_CONFIGS[config], steps=20))
    ck = tmp_path / "ck"
    common = ["--config", config, "--device", device, "--data-dir", str(data_dir), "--train-data", "train",
              "--val-data", "val", "--val-count", "1", "--iters", "1", "--batch", "1", "--crop", "16",
              "--snr", "12", "--threads", "1"]
    for phase, inputs in PHASE_INPUTS.items():
        argv = [phase, *common, "--run-dir", str(tmp_path / "runs" / phase), "--out", str(ck / f"{phase}.safetensors")]
        argv += [] if phase == "jscc" else ["--jscc", str(ck / "jscc.safetensors")]
        for flag in inputs:
            argv += [flag, str(ck / f"{INPUT_PHASE[flag]}.safetensors")]
        assert main(argv) == 0, phase
        card = json.loads((ck / f"{phase}.json").read_text())
        assert card["iterations"] == 1 and card["device"].startswith(device), (phase, card["device"])
        assert card["config_name"] == config and "val_psnr" in card["validation"]


def _batches(root: Path, start: int, stop: int, workers: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(crops, CPU RNG state, the first draw after entering the iteration) of iterations start … stop−1."""
    crops = RandomCropDataset(root / "train", crop=16)
    out = []
    for it, (images, state) in zip(range(start, stop), batch_loader(crops, 3, seed=7, rank=1, start=start, stop=stop,
                                                                      workers=workers)):
        enter_iteration(7, 1, it, state)
        out.append((images, state, torch.rand(4)))
    return out


def test_batches_depend_only_on_seed_rank_and_iteration(data_dir: Path) -> None:
    """Two workers, no worker, and a run resumed at iteration 3 see the same batches, and the
    main thread's RNG continues as if the crops had been drawn there (the pre-DataLoader stream)."""
    straight = _batches(data_dir, 0, 6, workers=0)
    for other in (_batches(data_dir, 0, 6, workers=2), [None] * 3 + _batches(data_dir, 3, 6, workers=2)):
        for a, b in zip(straight, other):
            if b is not None:
                assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(straight[0][0], straight[1][0])
    from simulator.training.data_loader import iteration_seed

    crops = RandomCropDataset(data_dir / "train", crop=16)
    torch.manual_seed(iteration_seed(7, 1, 4))  # what the loop did in its own thread before
    inline = torch.stack([crops[k] for k in range(3)])
    assert torch.equal(inline, straight[4][0]) and torch.equal(torch.rand(4), straight[4][2])


def test_training_with_workers_equals_training_without(data_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from simulator.training.jscc_task import JSCCTask
    from simulator.training.loop import TrainSettings, train

    class Killed(Exception):
        pass

    def kill_at_2(done: int, total: int, logs: dict[str, float]) -> None:
        if done == 2:
            raise Killed

    def run(name: str, workers: int, progress=None) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        settings = TrainSettings(data_dir=data_dir / "train", run_dir=tmp_path / name, output=tmp_path / f"{name}.safetensors",
                                 iters=4, batch=2, crop=16, lr=1e-3, snrs_db=(5.0, 13.0), save_every=1, val_every=10,
                                 workers=workers, device="cpu", log_every=2)
        train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), settings, torch.rand(1, 3, 16, 16), progress=progress)
        return load_file(str(tmp_path / f"{name}.safetensors"))

    a, b = run("w0", 0), run("w2", 2)
    with pytest.raises(Killed):  # killed with two workers, resumed with none
        run("resumed", 2, kill_at_2)
    c = run("resumed", 0)
    assert a.keys() == b.keys() == c.keys() and all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)


def test_logs_are_read_back_every_log_every_iterations(data_dir: Path, tmp_path: Path) -> None:
    from simulator.training.jscc_task import JSCCTask
    from simulator.training.loop import TrainSettings, train

    seen: list[tuple[int, dict[str, float]]] = []
    settings = TrainSettings(data_dir=data_dir / "train", run_dir=tmp_path / "r", output=tmp_path / "o.safetensors",
                             iters=5, batch=1, crop=16, save_every=10, val_every=10, log_every=2, device="cpu")
    train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), settings, torch.rand(1, 3, 16, 16),
          progress=lambda done, total, logs: seen.append((done, logs)))
    assert [done for done, logs in seen if logs] == [2, 4, 5]
    assert all(isinstance(v, float) for _, logs in seen for v in logs.values())


def test_precision_and_device_choice() -> None:
    cpu = torch.device("cpu")
    assert training_precision(cpu, False) == "fp32" and training_precision(cpu, True) == "bf16"
    assert training_device("cpu") == cpu and training_device("auto", distributed=True).type == ("cuda" if HAS_CUDA else "cpu")
    if HAS_CUDA:
        expected = "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
        assert training_precision(torch.device("cuda"), True) == expected
        with pytest.raises(ValueError, match="LOCAL_RANK"):
            training_device("cuda:0", distributed=True)
    else:
        with pytest.raises(ValueError, match="CUDA is not available"):
            training_device("cuda")


def test_cuda_choices_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    """With (pretended) 2 GPUs each rank takes cuda:LOCAL_RANK; a rank beyond them and cuda:N are errors."""
    from simulator.training import loop

    monkeypatch.setattr(loop, "cuda_devices", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert training_device("auto", distributed=True) == training_device("cuda", distributed=True) == torch.device("cuda", 1)
    assert training_device("cpu", distributed=True) == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(ValueError, match="LOCAL_RANK 2 but only 2"):
        training_device("cuda", distributed=True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert training_precision(torch.device("cuda", 0), True) == "fp16"


def test_fp16_with_grad_scaler_resumes_exactly(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fp16 + GradScaler path (GPUs without bf16), run on the CPU: the scaler's state is saved
    in state.pt and a killed run resumes bit-exactly; the card says fp16."""
    from safetensors.torch import load_file

    from simulator.training import loop
    from simulator.training.jscc_task import JSCCTask

    monkeypatch.setattr(loop, "training_precision", lambda device, mixed: "fp16" if mixed else "fp32")

    class Killed(Exception):
        pass

    def kill_at_2(done: int, total: int, logs: dict[str, float]) -> None:
        if done == 2:
            raise Killed

    def run(name: str, progress=None) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        settings = loop.TrainSettings(data_dir=data_dir / "train", run_dir=tmp_path / name, output=tmp_path / f"{name}.safetensors",
                                      iters=3, batch=2, crop=16, lr=1e-3, save_every=1, val_every=10, bf16=True, device="cpu")
        loop.train(JSCCTask(JSCC_CONFIGS["tiny"], "tiny"), settings, torch.rand(1, 3, 16, 16), progress=progress)
        return load_file(str(tmp_path / f"{name}.safetensors"))

    a = run("straight")
    with pytest.raises(Killed):
        run("resumed", kill_at_2)
    assert "scaler" in torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)
    b = run("resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "straight.json").read_text())["precision"] == "fp16"


@pytest.mark.skipif(HAS_CUDA, reason="checks the error where CUDA is absent")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "tpu"])
def test_cuda_without_cuda_is_a_one_line_error(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jscc", "--device", device, "--iters", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and device in err and "semcom-train: error" in err


@pytest.mark.slow
def test_torchrun_two_gloo_processes_through_the_cli(data_dir: Path, tmp_path: Path) -> None:
    """``torchrun --nproc_per_node 2 -m simulator.train_cli jscc --device cpu --workers 1`` (≈ 25 s here)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "w.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "simulator.train_cli", "jscc", "--config", "tiny", "--device", "cpu", "--workers", "1",
           "--data-dir", str(data_dir), "--train-data", "train", "--val-data", "val", "--val-count", "1",
           "--iters", "2", "--batch", "2", "--crop", "16", "--threads", "1", "--run-dir", str(tmp_path / "run"),
           "--out", str(out)]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300, cwd=root,
                          env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["world_size"] == 2 and card["device"] == "cpu" and card["iterations"] == 2
