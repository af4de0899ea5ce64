"""JSCC-T codec: shapes, bandwidth ratio, power normalisation, learning, checkpoint loading."""

from __future__ import annotations

import pytest
import torch

from simulator.checkpoints import CheckpointError, save_checkpoint
from simulator.link import normalize_latent
from simulator.models.jscc import JSCC_CONFIGS, STRIDE, JSCCCodec, latent_channels
from simulator.schemes.latent import load_jscc
from tests.conftest import optimise


@pytest.mark.parametrize("name", ["cpu", "paper"])
@pytest.mark.parametrize("size", [(128, 192), (192, 128)])
def test_shapes_landscape_and_portrait(name: str, size: tuple[int, int]) -> None:
    codec = JSCCCodec.from_name(name).eval()
    h, w = size
    with torch.no_grad():
        latent = codec.encoder(torch.rand(1, 3, h, w))
        assert latent.shape == (1, 96, h // STRIDE, w // STRIDE)
        assert codec.decoder(latent).shape == (1, 3, h, w)


def test_size_not_multiple_of_window() -> None:
    codec = JSCCCodec.from_name("cpu").eval()  # 80/16 = 5: stage maps smaller than the window
    with torch.no_grad():
        out = codec.decoder(codec.encoder(torch.rand(1, 3, 80, 112)))
    assert out.shape == (1, 3, 80, 112)


def test_bandwidth_ratio_exact() -> None:
    assert latent_channels(1 / 16) == 96
    assert latent_channels(1 / 32) == 48
    with pytest.raises(ValueError, match="bandwidth ratio"):
        latent_channels(1 / 7)
    codec = JSCCCodec.from_name("tiny")
    h, w = 512, 768
    latent = codec.encoder(torch.rand(1, 3, h, w))
    n = latent.numel() // 2  # complex channel uses
    assert n / (h * w * 3) == 1 / 16


def test_power_normalisation() -> None:
    latent = normalize_latent(torch.randn(3, 96, 4, 6) * torch.tensor([0.1, 1.0, 10.0])[:, None, None, None])
    n = latent[0].numel() / 2
    assert torch.allclose(latent.pow(2).flatten(1).sum(1) / n, torch.ones(3), atol=1e-5)


def test_training_steps_reduce_loss() -> None:
    from simulator.training.jscc_task import JSCCTask

    torch.manual_seed(0)
    task = JSCCTask(JSCC_CONFIGS["tiny"], "tiny")
    images = torch.nn.functional.interpolate(torch.rand(2, 3, 4, 4), size=64, mode="bilinear")  # smooth
    # same noise each step: a fixed problem
    losses = [loss for loss, _ in optimise(task, images, torch.full((2,), 13.0), steps=25, lr=3e-3, fixed_seed=1)]
    assert losses[-1] < 0.7 * losses[0]


def test_load_refuses_non_safetensors_and_mismatched_config(tmp_path, tiny_checkpoints) -> None:
    pickle_file = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(1)}, pickle_file)
    with pytest.raises(CheckpointError, match="only .safetensors"):
        load_jscc(pickle_file)
    codec, card = load_jscc(tiny_checkpoints / "jscc-t-tiny.safetensors")
    assert card["config_name"] == "tiny"
    wrong = tmp_path / "wrong.safetensors"
    cpu = JSCCCodec.from_name("cpu")
    save_checkpoint(wrong, dict(codec.state_dict()), {"kind": "jscc-t", "config": cpu.cfg.to_dict()})
    with pytest.raises(CheckpointError, match="do not match"):
        load_jscc(wrong)


def test_configs_survive_a_json_model_card() -> None:
    import json

    from baselines.cddm.model import CDDM_CONFIGS
    from simulator.models.denoiser import DENOISER_CONFIGS

    for configs in (JSCC_CONFIGS, CDDM_CONFIGS, DENOISER_CONFIGS):
        for cfg in configs.values():
            assert type(cfg).from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("size", [(32, 48), (40, 24)])  # shifted windows with masks; padded maps
def test_explicit_attention_equals_sdpa(size: tuple[int, int]) -> None:
    from simulator.models.swin import SwinStage, set_attention_path

    torch.manual_seed(0)
    stage = SwinStage(dim=16, depth=2, heads=2, window=8)  # block 2 is shifted (mask + roll)
    x = torch.randn(2, *size, 16)
    outputs, grads = [], []
    try:
        for path in ("sdpa", "explicit"):
            set_attention_path(path)
            stage.zero_grad()
            y = stage(x)
            y.square().sum().backward()
            outputs.append(y.detach())
            grads.append([p.grad.clone() for p in stage.parameters()])
    finally:
        set_attention_path("explicit")
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="accepted: explicit, sdpa"):
        set_attention_path("flash")
