"""Training over a continuous SNR range (``--snr-range``) and the no-denoiser reference decoder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from simulator.train_cli import build_parser, parse_snr_range
from simulator.training.loop import TrainSettings, sample_snr_db, train
from tests.conftest import write_images


def _settings(tmp_path: Path, **kw: object) -> TrainSettings:
    return TrainSettings(data_dir=tmp_path, run_dir=tmp_path / "run", output=tmp_path / "w.safetensors", **kw)


def test_continuous_snrs_are_in_range_continuous_and_reproducible(tmp_path: Path) -> None:
    s = _settings(tmp_path, snr_range_db=(-3.0, 12.0))
    torch.manual_seed(7)
    a = sample_snr_db(s, 4096)
    torch.manual_seed(7)
    b = sample_snr_db(s, 4096)
    assert torch.equal(a, b) and a.dtype == torch.float32 and a.shape == (4096,)
    assert a.min() >= -3.0 and a.max() <= 12.0
    assert a.unique().numel() > 4000  # continuous, not a grid
    assert a.mean().item() == pytest.approx(4.5, abs=0.3)  # uniform in dB
    assert (a < 0).float().mean().item() == pytest.approx(0.2, abs=0.03)


def test_grid_sampling_is_unchanged(tmp_path: Path) -> None:
    s = _settings(tmp_path, snrs_db=(0.0, 2.0, 4.0))
    torch.manual_seed(3)
    got = sample_snr_db(s, 64)
    torch.manual_seed(3)
    snrs = torch.tensor([0.0, 2.0, 4.0])
    assert torch.equal(got, snrs[torch.randint(3, (64,))])  # the draws of the shipped weights' recipe


@pytest.mark.parametrize("bad", [(3.0, 1.0), (2.0, 2.0), (float("nan"), 1.0), (0.0, float("inf"))])
def test_bad_range_is_refused(tmp_path: Path, bad: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="not an interval"):
        _settings(tmp_path, snr_range_db=bad)


def test_cli_parses_range_and_refuses_bad_ones() -> None:
    assert parse_snr_range("0:10") == (0.0, 10.0)
    assert parse_snr_range("-3:12.5") == (-3.0, 12.5)
    for bad in ("10:0", "0", "0:5:1", "a:b", "1:1", "nan:3"):
        with pytest.raises(argparse.ArgumentTypeError, match="accepted: LO:HI"):
            parse_snr_range(bad)
    args = build_parser().parse_args(["denoiser", "--snr-range=-3:12"])
    assert args.snr_range == (-3.0, 12.0)
    assert build_parser().parse_args(["denoiser"]).snr_range is None


def test_cli_exit_2_names_bad_range(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.train_cli import main

    with pytest.raises(SystemExit) as exc:
        main(["denoiser", "--snr-range", "5:1"])
    assert exc.value.code == 2 and "bad SNR range '5:1'" in capsys.readouterr().err


class _Recorder:
    """A task that records the SNRs the loop hands it (and trains one scalar)."""

    kind = "recorder"

    def __init__(self) -> None:
        from torch import nn

        self.modules = nn.ModuleDict({"p": nn.Linear(1, 1)})
        self.seen: list[torch.Tensor] = []

    def trainable(self) -> list[torch.nn.Parameter]:
        return list(self.modules.parameters())

    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        self.seen.append(snr_db.clone())
        return self.modules["p"](images.mean().view(1, 1)).sum(), {}

    def validate(self, images: torch.Tensor) -> dict[str, float]:
        return {"val_psnr": 0.0}

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
        return dict(self.modules.state_dict()), {}


def test_resumed_run_draws_the_same_continuous_snrs(tmp_path: Path) -> None:
    data = write_images(tmp_path / "train", [(40, 40)])

    def run(folder: str, iters: int) -> list[torch.Tensor]:
        task = _Recorder()
        train(task, TrainSettings(data_dir=data, run_dir=tmp_path / folder, output=tmp_path / folder / "w.safetensors",
                                  iters=iters, batch=3, crop=32, snr_range_db=(0.0, 10.0), save_every=2, val_every=100),
              torch.rand(1, 3, 32, 32))
        return task.seen

    straight = run("a", 6)
    first, rest = run("b", 2), run("b", 6)  # a second command resumes from iteration 2
    assert len(first) == 2 and len(rest) == 4
    for x, y in zip(straight, first + rest):
        assert torch.equal(x, y)
    assert all(((s >= 0) & (s <= 10)).all() for s in straight)


def test_reference_decoder_trains_only_the_decoder_on_raw_latents(tiny_checkpoints: Path) -> None:
    from simulator.training.reference_decoder import ReferenceDecoderTask

    task = ReferenceDecoderTask(tiny_checkpoints / "jscc-t-tiny.safetensors", "tiny", val_snr_db=-3.0)
    assert [id(p) for p in task.trainable()] == [id(p) for p in task.modules["decoder"].parameters()]
    enc = {k: v.clone() for k, v in task.modules["encoder"].state_dict().items()}
    dec = {k: v.clone() for k, v in task.modules["decoder"].state_dict().items()}
    opt = torch.optim.Adam(task.trainable(), lr=1e-2)
    for _ in range(2):
        loss, logs = task.loss(torch.rand(2, 3, 32, 32), torch.tensor([-3.0, -3.0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(v, task.modules["encoder"].state_dict()[k]) for k, v in enc.items())
    assert any(not torch.equal(v, task.modules["decoder"].state_dict()[k]) for k, v in dec.items())
    z = torch.randn(1, 96, 2, 2)
    assert task.denoise_latent(z, torch.tensor([-3.0])) is z
    with torch.no_grad():
        val = task.validate(torch.rand(1, 3, 32, 32))
    assert set(val) == {"val_psnr_-3dB", "val_psnr_0dB", "val_psnr_5dB", "val_psnr_12dB", "val_psnr"}
    assert val["val_psnr"] == val["val_psnr_-3dB"]
    tensors, card = task.export()
    assert card["reference"] and card["jscc_sha256"] and set(tensors) == set(task.modules["decoder"].state_dict())


def test_receiver_runs_continue_from_their_snapshot_with_init(tiny_checkpoints: Path, tmp_path: Path) -> None:
    """``--init`` works for the denoiser and decoder phases (a campaign's next session starts from
    the candidate snapshot when runs/ is gone): weights, iterations and curve continue."""
    from simulator.checkpoints import load_checkpoint
    from simulator.models.denoiser import DENOISER_CONFIGS
    from simulator.training.denoiser_task import DenoiserTask
    from simulator.training.reference_decoder import ReferenceDecoderTask

    data = write_images(tmp_path / "train", [(40, 40)])
    jscc = tiny_checkpoints / "jscc-t-tiny.safetensors"
    makers = {"den": lambda: DenoiserTask(jscc, DENOISER_CONFIGS["tiny"], "tiny"),
              "ref": lambda: ReferenceDecoderTask(jscc, "tiny", -3.0)}
    for name, make in makers.items():
        def settings(folder: str, iters: int, init: Path | None = None) -> TrainSettings:
            return TrainSettings(data_dir=data, run_dir=tmp_path / name / folder, output=tmp_path / name / folder / "w.safetensors",
                                 iters=iters, batch=2, crop=32, snr_range_db=(0.0, 10.0), schedule="wsd", decay_iters=1,
                                 ema=0.9, save_every=2, val_every=2, init_from=init)

        torch.manual_seed(0)
        first = train(make(), settings("s1", 2), torch.rand(1, 3, 32, 32))
        task = make()
        card = train(task, settings("s2", 4, tmp_path / name / "s1" / "w.safetensors"), torch.rand(1, 3, 32, 32))
        assert card["iterations"] == 4 and card["validation_history"][0] == first["validation_history"][0], name
        tensors, _ = load_checkpoint(tmp_path / name / "s1" / "w.safetensors")
        assert tensors.keys() == dict(task.export()[0]).keys()
