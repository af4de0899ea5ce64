"""The SS-conditioned residual latent denoiser: formulas, stopping rule, shapes, freezing."""

from __future__ import annotations

import math

import pytest
import torch

from simulator.models.denoiser import (
    DENOISER_CONFIGS,
    LatentDenoiser,
    cosine_similarity,
    initial_similarity,
)
from tests.conftest import optimise


def test_s1_formula() -> None:
    snr_db = torch.tensor([-3.0, 0.0, 10.0])
    eta = 10 ** (snr_db / 10)
    expected = 1 / torch.sqrt(1 + 1 / eta)
    torch.testing.assert_close(initial_similarity(snr_db), expected)
    assert initial_similarity(torch.tensor([0.0])).item() == pytest.approx(1 / math.sqrt(2))
    torch.testing.assert_close(initial_similarity(snr_db, "0.5"), torch.full((3,), 0.5))
    r = initial_similarity(torch.zeros(1000), "random", torch.Generator().manual_seed(0))
    assert 0 <= r.min() and r.max() <= 1 and abs(r.mean().item() - 0.5) < 0.05
    with pytest.raises(ValueError, match="accepted: empirical"):
        initial_similarity(snr_db, "0.7")


def test_s1_estimates_cosine_of_gaussian_latent() -> None:
    # For a unit-power latent and independent AWGN, cos(y, y+n) → 1/sqrt(1 + 1/η): eq. (1) is exact for large n.
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1, 1_000_000, generator=g) * math.sqrt(0.5)
    for snr_db in (-3.0, 0.0, 7.0):
        n = torch.randn(1, 1_000_000, generator=g) * math.sqrt(0.5 * 10 ** (-snr_db / 10))
        assert cosine_similarity(y, y + n).item() == pytest.approx(initial_similarity(torch.tensor([snr_db])).item(), abs=3e-3)


def test_cosine_similarity_closed_form() -> None:
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    z = torch.tensor([[1.0, 1.0, 0.0, 0.0], [-2.0, -2.0, 0.0, 0.0]])
    torch.testing.assert_close(cosine_similarity(y, z), torch.tensor([1 / math.sqrt(2), -1.0]))
    assert (1 - cosine_similarity(y, 3 * y)).abs().max() < 1e-6  # SS loss is 0 for a scaled copy


@pytest.mark.parametrize("hw", [(8, 8), (5, 7), (32, 48)])
def test_shapes_and_identity_at_init(hw: tuple[int, int]) -> None:
    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
    z = torch.randn(2, 96, *hw)
    res = den.run(z, torch.tensor([0.5, 0.9]), steps=3)
    assert res.latent.shape == z.shape and res.similarities.shape == (2, 4)
    assert torch.equal(res.latent, z)  # the residual head starts at zero
    assert res.steps.tolist() == [3, 3]


def _scripted(den: LatentDenoiser, sequences: list[list[float]]) -> None:
    """Make step t add t to the latent and predict the scripted s_{t+1} per item."""
    state = {"t": 0}

    def step(z: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state["t"] += 1
        t = state["t"]
        return z + t, torch.tensor([seq[t] for seq in sequences])

    den.step = step  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "sequence, expected_steps",
    [([0.5, 0.6, 0.7, 0.8], 3),   # non-decreasing: T_max steps
     ([0.5, 0.6, 0.6, 0.9], 3),   # ties count as non-decreasing
     ([0.5, 0.6, 0.55, 0.9], 1),  # first decrease after step 2: step 2 discarded, output z_2
     ([0.5, 0.4, 0.9, 0.9], 0)],  # step 1 already lowers s: output the received z_1
)
def test_adaptive_stopping(sequence: list[float], expected_steps: int) -> None:
    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
    _scripted(den, [sequence, [0.5, 0.6, 0.7, 0.8]])
    z1 = torch.zeros(2, 96, 2, 2)
    res = den.run(z1, torch.tensor([sequence[0], 0.5]))
    assert res.steps.tolist() == [expected_steps, 3]
    # after k kept steps the scripted latent is 1 + 2 + … + k
    assert res.latent[0].unique().item() == sum(range(1, expected_steps + 1))
    assert res.latent[1].unique().item() == 6


def test_fixed_steps_ignore_similarity() -> None:
    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
    _scripted(den, [[0.5, 0.1, 0.05, 0.01]])
    res = den.run(torch.zeros(1, 96, 2, 2), torch.tensor([0.5]), steps=2)
    assert res.steps.tolist() == [2] and res.latent.unique().item() == 3


def test_phase2_trains_only_denoiser_and_phase3_only_decoder(tiny_checkpoints) -> None:
    from simulator.training.denoiser_task import DenoiserTask, FinetuneTask

    def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in module.state_dict().items()}

    images, snr = torch.rand(2, 3, 32, 32), torch.tensor([0.0, 10.0])
    task = DenoiserTask(tiny_checkpoints / "jscc-t-tiny.safetensors", DENOISER_CONFIGS["tiny"], "tiny")
    enc_before, den_before = snapshot(task.modules["encoder"]), snapshot(task.modules["denoiser"])
    optimise(task, images, snr, steps=3, lr=1e-2)
    assert all(torch.equal(v, task.modules["encoder"].state_dict()[k]) for k, v in enc_before.items())
    assert any(not torch.equal(v, task.modules["denoiser"].state_dict()[k]) for k, v in den_before.items())

    ft = FinetuneTask(tiny_checkpoints / "jscc-t-tiny.safetensors", tiny_checkpoints / "denoiser-tiny-alpha1.safetensors", "tiny")
    frozen = {name: snapshot(ft.modules[name]) for name in ("encoder", "denoiser")}
    dec_before = snapshot(ft.modules["decoder"])
    optimise(ft, images, snr, steps=2, lr=1e-2)
    for name, before in frozen.items():
        assert all(torch.equal(v, ft.modules[name].state_dict()[k]) for k, v in before.items()), name
    assert any(not torch.equal(v, ft.modules["decoder"].state_dict()[k]) for k, v in dec_before.items())
