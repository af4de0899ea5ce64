"""``--train-channel``: training phases 1–3 under fading, one step each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from simulator.channels import AWGNChannel, RayleighBlockChannel, RayleighFastChannel
from simulator.link import random_awgn_latent
from simulator.models.denoiser import DENOISER_CONFIGS, cosine_similarity, initial_similarity
from simulator.models.jscc import JSCC_CONFIGS
from simulator.train_cli import main
from simulator.training.channel import random_channel_latent
from simulator.training.denoiser_task import DenoiserTask, FinetuneTask
from simulator.training.jscc_task import JSCCTask
from tests.conftest import optimise, write_images


def test_awgn_training_channel_is_unchanged() -> None:
    y = torch.randn(3, 8, 4, 4)
    torch.manual_seed(0)
    z, snr = random_channel_latent(y, torch.tensor([0.0, 5.0, 10.0]), AWGNChannel())
    torch.manual_seed(0)
    assert torch.equal(z, random_awgn_latent(y, torch.tensor([0.0, 5.0, 10.0])))
    assert snr.tolist() == [0.0, 5.0, 10.0]


def test_block_fading_training_channel_matches_the_sweeps_receiver() -> None:
    y = torch.randn(4, 96, 16, 16)
    y = y / y.pow(2).flatten(1).sum(1).div(y[0].numel() / 2).sqrt().view(-1, 1, 1, 1)  # Es = 1
    z, snr_eff = random_channel_latent(y, 5.0, RayleighBlockChannel())
    assert z.shape == y.shape and snr_eff.shape == (4,) and len(set(snr_eff.tolist())) == 4
    # one block: cos(y, ẑ) = √a = 1/√(1 + 1/η_eff), the denoiser's s₁ at the effective SNR
    torch.testing.assert_close(cosine_similarity(y, z), initial_similarity(snr_eff), atol=0.01, rtol=0)
    z_fast, snr_fast = random_channel_latent(y, 5.0, RayleighFastChannel())
    assert (snr_fast < 5.0).all()


def test_one_step_of_each_phase_under_fading(tiny_checkpoints: Path) -> None:
    images = torch.rand(2, 3, 32, 32)
    snr = torch.tensor([0.0, 10.0])
    channel = RayleighBlockChannel()
    jscc = JSCCTask(JSCC_CONFIGS["tiny"], "tiny", channel=channel)
    (loss, _), = optimise(jscc, images, snr, steps=1, lr=1e-3)
    assert loss == loss and jscc.export()[1]["train_channel"] == {"name": "rayleigh-block", "coherence": None}
    assert "train_channel" not in JSCCTask(JSCC_CONFIGS["tiny"], "tiny").export()[1]
    den = DenoiserTask(tiny_checkpoints / "jscc-t-tiny.safetensors", DENOISER_CONFIGS["tiny"], "tiny",
                       channel=RayleighFastChannel())
    (loss, logs), = optimise(den, images, snr, steps=1, lr=1e-3)
    assert loss == loss and 0 < logs["cos"] <= 1 and "val_psnr" in den.validate(images)
    fine = FinetuneTask(tiny_checkpoints / "jscc-t-tiny.safetensors", tiny_checkpoints / "denoiser-tiny-alpha1.safetensors",
                        "tiny", channel=channel)
    before = [p.clone() for p in fine.trainable()]
    (loss, _), = optimise(fine, images, snr, steps=1, lr=1e-3)
    assert loss == loss and any(not torch.equal(a, b) for a, b in zip(before, fine.trainable()))
    assert fine.export()[1]["train_channel"]["name"] == "rayleigh-block"


def test_cli_trains_jscc_under_fading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_images(tmp_path / "train", [(48, 48), (48, 48)])
    out = tmp_path / "out.safetensors"
    common = ["--config", "tiny", "--train-data", str(data), "--val-data", str(data), "--val-count", "2",
              "--iters", "1", "--batch", "2", "--crop", "32", "--run-dir", str(tmp_path / "run"), "--out", str(out),
              "--precision", "fp32"]
    assert main(["jscc", *common, "--train-channel", "rayleigh-block", "--train-coherence", "4"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["train_channel"] == {"name": "rayleigh-block", "coherence": 4}
    assert main(["jscc", *common, "--train-channel", "rayleigh-fast", "--train-coherence", "4"]) == 2
    assert "rayleigh-block only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cddm", *common, "--train-channel", "rayleigh-block"])  # CDDM's ε-network trains off the channel
