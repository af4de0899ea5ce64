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


def test_similarity_and_effective_snr_are_one_quantity() -> None:
    from simulator.models.denoiser import similarity_gain_db, similarity_to_snr_db

    snr_db = torch.tensor([-3.0, 0.0, 7.5, 12.0])
    torch.testing.assert_close(similarity_to_snr_db(initial_similarity(snr_db)), snr_db, atol=1e-3, rtol=0)
    s = initial_similarity(snr_db)
    torch.testing.assert_close(similarity_gain_db(s[:1], s[1:2]), torch.tensor([3.0]), atol=1e-3, rtol=0)


def test_similarity_predictor_moves_s_by_its_predicted_gain() -> None:
    from simulator.models.denoiser import similarity_to_snr_db

    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
    z0, z1 = torch.randn(2, 96, 3, 3), torch.randn(2, 96, 3, 3)
    s = torch.tensor([0.6, 0.95])
    gain = den.similarity.gain_db(s, z0, z1)
    s_next = den.similarity(s, z0, z1)
    torch.testing.assert_close(similarity_to_snr_db(s_next) - similarity_to_snr_db(s), gain, atol=1e-3, rtol=0)


@pytest.mark.parametrize("margin_db, expected_steps", [(0.0, 3), (0.5, 2), (1.5, 1), (5.0, 0)])
def test_adaptive_stop_margin(margin_db: float, expected_steps: int) -> None:
    # scripted gains of the three steps: +2, +1, +0.3 dB of effective SNR
    snrs = torch.tensor([0.0, 2.0, 3.0, 3.3])
    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
    _scripted(den, [initial_similarity(snrs).tolist()])
    res = den.run(torch.zeros(1, 96, 2, 2), initial_similarity(snrs[:1]), margin_db=margin_db)
    assert res.steps.tolist() == [expected_steps]


def test_calibrated_margin_saves_steps_only_where_they_do_not_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.training import calibrate as cal

    # step t adds a scripted gain per SNR; the PSNR after t steps is scripted per SNR
    gains = {-3.0: [2.0, 1.5, 1.0], 12.0: [1.0, 0.1, 0.05]}
    psnrs = {-3.0: [20.0, 21.0, 21.5, 21.8], 12.0: [30.0, 30.3, 30.29, 30.28]}
    state = {"snr": -3.0, "t": 0}

    class Encoder(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones(x.shape[0], 96, 2, 2)

    def scripted_psnr(images: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        return torch.full((images.shape[0],), psnrs[state["snr"]][state["t"]])

    den = LatentDenoiser(DENOISER_CONFIGS["tiny"])

    def step(z: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from simulator.models.denoiser import similarity_to_snr_db

        gain = gains[state["snr"]][state["t"]]
        state["t"] += 1
        return z, initial_similarity(similarity_to_snr_db(s) + gain)

    den.step = step  # type: ignore[method-assign]
    original = cal.random_awgn_latent

    def channel(y: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        state["snr"], state["t"] = float(snr_db[0]), 0
        return original(y, snr_db)

    monkeypatch.setattr(cal, "random_awgn_latent", channel)
    monkeypatch.setattr(cal, "psnr", scripted_psnr)
    result = cal.calibrate_margin(den, Encoder(), torch.nn.Identity(), torch.ones(2, 3, 8, 8), t_max=3,
                                  tolerance_db=0.05, snrs_db=(-3.0, 12.0))
    # at 12 dB steps 2 and 3 (gains 0.1, 0.05 dB) cost PSNR: a margin above 0.1 dB stops after 1;
    # at -3 dB every step pays (gain >= 1 dB): the margin must stay <= 1 dB
    assert 0.1 < result.margin_db <= 1.0
    assert result.adaptive_steps == {-3.0: 3.0, 12.0: 1.0}
    assert result.paper_steps == {-3.0: 3.0, 12.0: 3.0}
    assert result.adaptive_psnr[12.0] == pytest.approx(30.3, abs=1e-3)
    capped = cal.calibrate_margin(den, Encoder(), torch.nn.Identity(), torch.ones(2, 3, 8, 8), t_max=3,
                                  tolerance_db=0.05, snrs_db=(-3.0, 12.0), max_margin_db=0.0)
    assert capped.margin_db == 0.0 and capped.adaptive_steps == {-3.0: 3.0, 12.0: 3.0}  # lowered to the paper's rule: every step kept


def test_steps_profile_spans_never_to_always_step(tiny_checkpoints) -> None:
    from simulator.schemes.latent import load_jscc
    from simulator.training.calibrate import steps_profile
    from simulator.training.denoiser_task import load_denoiser

    codec, _ = load_jscc(tiny_checkpoints / "jscc-t-tiny.safetensors")
    den, _ = load_denoiser(tiny_checkpoints / "denoiser-tiny-alpha1.safetensors")
    images = torch.rand(2, 3, 32, 32)
    for margin, steps, last in ((1e9, 0.0, 0), (-1e9, 3.0, -1)):
        torch.manual_seed(0)
        prof = steps_profile(den, codec.encoder, codec.decoder, images, 3, margin, (-3.0, 12.0))
        assert set(prof) == {-3.0, 12.0}
        for adaptive, kept, fixed in prof.values():
            assert kept == steps and len(fixed) == 4 and adaptive == pytest.approx(fixed[last])
