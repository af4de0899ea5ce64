"""CDDM baseline: schedule, start-step matching, sampler algebra, shapes, training, scheme."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from baselines.cddm.model import CDDM, CDDM_CONFIGS, CDDMConfig, EpsilonUNet, NoiseSchedule, SelfAttention, channel_std
from baselines.cddm.training import CDDMFinetuneTask, CDDMTask, load_cddm
from simulator.channels import AWGNChannel
from simulator.checkpoints import CheckpointError, save_checkpoint
from simulator.registry import create_scheme
from simulator.schemes.base import Transmission

from tests.conftest import optimise, write_images

TINY = CDDM_CONFIGS["tiny"]


@pytest.fixture(scope="module")
def cddm_checkpoints(tiny_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny JSCC-T weights plus an untrained tiny CDDM and a 'finetuned' decoder."""
    folder = tmp_path_factory.mktemp("cddm-ckpt")
    for suffix in (".safetensors", ".json"):
        shutil.copy(tiny_checkpoints / f"jscc-t-tiny{suffix}", folder)
    torch.manual_seed(1)
    model = CDDM(TINY)
    for p in model.net.out[-1].parameters():  # make ε_θ non-zero so sampling does something
        torch.nn.init.normal_(p, std=0.05)
    save_checkpoint(folder / "cddm-tiny.safetensors", dict(model.state_dict()),
                    {"kind": "cddm", "config": TINY.to_dict(), "train_t_max": TINY.steps})
    from simulator.schemes.latent import load_jscc

    codec, _ = load_jscc(folder / "jscc-t-tiny.safetensors")
    tensors = {k: v + 0.01 for k, v in codec.decoder.state_dict().items()}
    save_checkpoint(folder / "cddm-decoder-tiny.safetensors", tensors, {"kind": "jscc-decoder", "config": codec.cfg.to_dict()})
    return folder


# --- forward process ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 7, 30])
def test_forward_chain_matches_closed_form(k: int) -> None:
    """Iterating q(x_t | x_{t−1}) k times has the mean √ᾱ_k·x₀ and variance 1 − ᾱ_k of q(x_k | x₀)."""
    sched = NoiseSchedule(TINY.steps, TINY.beta_start, TINY.beta_end)
    g = torch.Generator().manual_seed(0)
    n = 40_000
    x0 = torch.tensor([1.5, -0.5, 0.0]).repeat(n, 1)
    x = x0.clone()
    for t in range(1, k + 1):
        x = sched.q_step(x, torch.full((n,), t), torch.randn(x.shape, generator=g))
    ab = float(sched.alpha_bar[k])
    closed = sched.q_sample(x0, torch.full((n,), k), torch.randn(x.shape, generator=g))
    for sample in (x, closed):
        assert torch.allclose(sample.mean(0), ab ** 0.5 * x0[0], atol=0.02)
        assert torch.allclose(sample.var(0), torch.full((3,), 1 - ab), rtol=0.04, atol=2e-4)
    assert abs(float(sched.alpha_bar[k]) - float(torch.prod(1 - sched.betas[1 : k + 1]))) < 1e-12


def test_schedule_validation() -> None:
    with pytest.raises(ValueError, match="bad schedule"):
        NoiseSchedule(10, 0.1, 1.0)
    s = NoiseSchedule(200, 5e-4, 0.1)
    assert s.alpha_bar[0] == 1 and torch.all(s.noise_ratio[1:] > s.noise_ratio[:-1])


# --- start step -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_start_step_monotone_and_matched(name: str) -> None:
    cfg = CDDM_CONFIGS[name]
    sched = NoiseSchedule(cfg.steps, cfg.beta_start, cfg.beta_end)
    snrs = torch.arange(-10.0, 40.0, 0.25, dtype=torch.float64)
    m = sched.match_step(channel_std(snrs))
    assert torch.all(m[1:] <= m[:-1]), "lower SNR must never start at a smaller step"
    assert m[0] > m[-1] >= 1
    r = sched.noise_ratio
    sigma = channel_std(snrs)
    for mi, s in zip(m.tolist(), sigma.tolist()):
        assert r[mi - 1] <= s * (1 + 1e-12) or mi == 1
        assert s <= r[min(mi + 1, cfg.steps)] * (1 + 1e-12) or mi == cfg.steps
    # σ exactly at a step's noise ratio picks that step; σ = 0 means no denoising
    assert sched.match_step(r[17]).item() == 17
    assert sched.match_step(0.0).item() == 0
    with pytest.raises(ValueError):
        sched.match_step(-1.0)


def test_channel_std_convention() -> None:
    """Es/N0 = 0 dB: N0 = 1, variance N0/2 per real value."""
    assert abs(float(channel_std(0.0)) - 0.5 ** 0.5) < 1e-12
    assert abs(float(channel_std(10.0)) ** 2 - 0.05) < 1e-12


def test_snr_floor_caps_steps() -> None:
    model = CDDM(TINY)
    assert model.start_step(-3.0, snr_floor_db=10.0).item() == model.start_step(10.0).item()
    assert model.start_step(15.0, snr_floor_db=10.0).item() == model.start_step(15.0).item()


def _closed_form_start(snr_db: float, steps: int, beta_start: float, beta_end: float) -> float:
    """The official rule's step, continuous: ᾱ_t/(1−ᾱ_t) = 10^(SNR/10) with ᾱ_t ≈ exp(−Σ_{s≤t} β_s)
    for the linear β, a quadratic in t."""
    ratio = 10 ** (snr_db / 10)
    d = (beta_end - beta_start) / (steps - 1)
    a, b, c = d / 2, beta_start - d / 2, math.log(1 + 1 / ratio)
    return (-b + math.sqrt(b * b + 4 * a * c)) / (2 * a)


@pytest.mark.parametrize("name", ["cpu", "paper"])
@pytest.mark.parametrize(("snr", "steps"), [(-3.0, 93), (2.0, 93), (7.0, 93), (10.0, 93), (12.0, 74)])
def test_official_start_rule_t1000(name: str, snr: float, steps: int) -> None:
    """CDDM's official sampler, T = 1000, β 1e-4 … 0.02: 93 steps at every SNR ≤ 10 dB (t_max cap), 74 at 12 dB."""
    cfg = CDDM_CONFIGS[name]
    assert (cfg.steps, cfg.beta_start, cfg.beta_end) == (1000, 1e-4, 0.02)
    sched = NoiseSchedule(cfg.steps, cfg.beta_start, cfg.beta_end)
    assert sched.match_step_db(max(snr, 10.0)).item() == steps
    assert steps == round(_closed_form_start(max(snr, 10.0), 1000, 1e-4, 0.02))


@pytest.mark.parametrize(("snr", "steps"), [(-3.0, 259), (2.0, 161), (7.0, 93), (12.0, 51)])
def test_matched_start_rule_t1000(snr: float, steps: int) -> None:
    """The exact rule at T = 1000: (1−ᾱ_m)/ᾱ_m = N0/2, i.e. the official rule's dB match at SNR + 3.01 dB."""
    cfg = CDDM_CONFIGS["cpu"]
    model = CDDM(replace(cfg, width=8, mult=(1,), res_blocks=1, attention_levels=(), groups=4))  # schedule only
    assert model.start_step(snr).item() == steps
    assert abs(steps - _closed_form_start(snr + 10 * math.log10(2), 1000, 1e-4, 0.02)) < 1


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_official_rule_is_the_exact_rule_3db_lower(name: str) -> None:
    """10·log10(ᾱ/(1−ᾱ)) = SNR means (1−ᾱ)/ᾱ = N0, twice the channel's σ² = N0/2 per real value."""
    model = CDDM(replace(CDDM_CONFIGS[name], width=8, mult=(1,), res_blocks=1, attention_levels=(), groups=4))
    snrs = torch.arange(10.0, 30.0, 0.5, dtype=torch.float64)
    official = model.start_step(snrs, start="official")
    assert torch.equal(official, model.start_step(snrs - 10 * math.log10(2)))
    assert torch.all(official >= model.start_step(snrs))
    low = model.start_step(torch.arange(-10.0, 10.0, 1.0), start="official")
    assert torch.all(low == model.start_step(10.0, start="official"))  # capped at t_max = 10 dB
    assert model.start_step(-3.0, start="official", snr_floor_db=0.0).item() == model.schedule.match_step_db(0.0).item()
    with pytest.raises(ValueError, match="bad CDDM start rule 'x'; accepted: matched, official"):
        model.start_step(0.0, start="x")


@pytest.mark.parametrize("start", ["matched", "official"])
def test_start_scaling_closed_form(start: str) -> None:
    """With ε_θ ≡ 0 the deterministic sampler returns x_m/√ᾱ_m: z for the exact rule (x_m = √ᾱ_m·z),
    z/√((1 + σ²)·ᾱ_m) for the official one (x_m = z/√(1 + σ²))."""
    model = CDDM(TINY).eval()
    z = torch.randn(2, 96, 3, 3)
    res = model.sample(z, 4.0, start=start)
    m = int(res.steps[0])
    assert m == model.start_step(4.0, start=start).item()
    scale = 1.0 if start == "matched" else 1 / math.sqrt((1 + float(channel_std(4.0)) ** 2) * float(model.schedule.alpha_bar[m]))
    torch.testing.assert_close(res.latent, z * scale, atol=1e-5, rtol=1e-5)


# --- ε-network ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cpu", "paper"])
def test_shipped_configs_have_the_official_structure(name: str) -> None:
    """CDDM's official ε-network: DDPM U-Net, mult (1, 2, 2), 2 ResBlocks, attention at level 1, dropout 0.1."""
    cfg = CDDM_CONFIGS[name]
    structure = (cfg.mult, cfg.res_blocks, cfg.attention_levels, cfg.mid_attention, cfg.dropout)
    assert structure == ((1, 2, 2), 2, (1,), True, 0.1)
    assert CDDM_CONFIGS["paper"].width == 128


def test_attention_sits_at_the_configured_level() -> None:
    """Official structure at a test width: one attention block after each ResBlock of level 1 (2 down,
    3 up) plus the middle one; level i runs at 1/2^i of the latent size."""
    cfg = replace(CDDM_CONFIGS["paper"], width=8, groups=4)
    net = EpsilonUNet(cfg).eval()
    sizes: list[tuple[int, int, int]] = []
    for module in net.modules():
        if isinstance(module, SelfAttention):
            module.register_forward_hook(lambda _m, inp, _out: sizes.append(tuple(inp[0].shape[1:])))
    x = torch.randn(1, 96, 8, 12)
    assert net(x, torch.tensor([5])).shape == x.shape
    level1 = (8 * 2, 4, 6)
    assert sorted(sizes) == sorted([level1] * 5 + [(8 * 2, 2, 3)])  # 5 at level 1, 1 in the middle (level 2)
    assert sum(isinstance(m, SelfAttention) for m in net.modules()) == 6
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.1 for m in net.modules()) > 0
    with pytest.raises(ValueError, match="attention_levels"):
        replace(cfg, attention_levels=(3,))


def test_old_cards_without_attention_levels_load(tmp_path: Path) -> None:
    """Cards written before ``attention_levels`` had ``attention: bool`` = the middle block only; the
    parameter names of such a network are unchanged."""
    old = TINY.to_dict()
    del old["attention_levels"], old["mid_attention"]
    old["attention"] = True
    cfg = CDDMConfig.from_dict(old)
    assert cfg.attention_levels == () and cfg.mid_attention
    model = CDDM(cfg)
    save_checkpoint(tmp_path / "cddm-old.safetensors", dict(model.state_dict()), {"kind": "cddm", "config": old})
    loaded, _ = load_cddm(tmp_path / "cddm-old.safetensors")
    assert loaded.cfg == cfg
    with pytest.raises(ValueError, match="both the old 'attention'"):
        CDDMConfig.from_dict(old | {"mid_attention": True})


# --- sampler --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 96, 5, 7), (1, 96, 1, 1), (3, 96, 4, 6)])
def test_shapes_odd_sizes(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = CDDM(TINY).eval()
    x = torch.randn(shape)
    assert model.net(x, torch.full((shape[0],), 3)).shape == x.shape
    res = model.sample(x, torch.tensor([2.0, 5.0, 9.0])[: shape[0]])
    assert res.latent.shape == x.shape
    assert res.steps.tolist() == model.start_step(torch.tensor([2.0, 5.0, 9.0])[: shape[0]]).tolist()


def test_untrained_model_is_identity() -> None:
    """ε_θ starts at zero (zero-initialised output), so the deterministic sampler returns z."""
    model = CDDM(TINY).eval()
    z = torch.randn(2, 96, 3, 5)
    assert torch.allclose(model.sample(z, 0.0).latent, z, atol=1e-5)


def test_oracle_noise_recovers_latent_exactly() -> None:
    """With ε_θ = the true (scaled) noise, CDDM's update returns x₀ at any SNR."""
    model = CDDM(TINY).eval()
    torch.manual_seed(0)
    y = torch.randn(2, 96, 3, 3)
    snr = 2.0
    z = y + float(channel_std(snr)) * torch.randn_like(y)
    ab = model.schedule.alpha_bar

    def oracle(x: torch.Tensor, t: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        a = float(ab[int(t[0])])
        return (x - a ** 0.5 * y[: x.shape[0]]) / (1 - a) ** 0.5

    model.net.forward = oracle  # type: ignore[method-assign]
    res = model.sample(z, snr)
    assert res.steps.tolist() == [model.start_step(snr).item()] * 2
    assert torch.allclose(res.latent, y, atol=1e-4)


def test_per_item_snrs_match_single_runs() -> None:
    torch.manual_seed(0)
    model = CDDM(TINY).eval()
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.05)
    z = torch.randn(3, 96, 2, 3)
    snrs = torch.tensor([-3.0, 4.0, 12.0])
    joint = model.sample(z, snrs)
    for i in range(3):
        single = model.sample(z[i : i + 1], float(snrs[i]))
        assert torch.allclose(joint.latent[i], single.latent[0], atol=1e-5)
        assert joint.steps[i] == single.steps[0]


def test_stochastic_sampler_is_deterministic_under_a_generator() -> None:
    torch.manual_seed(0)
    model = CDDM(TINY).eval()
    z = torch.randn(1, 96, 2, 2)
    a = model.sample(z, 0.0, eta=1.0, generator=torch.Generator().manual_seed(5)).latent
    b = model.sample(z, 0.0, eta=1.0, generator=torch.Generator().manual_seed(5)).latent
    c = model.sample(z, 0.0, eta=1.0, generator=torch.Generator().manual_seed(6)).latent
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(model.sample(z, 0.0).latent, model.sample(z, 0.0).latent)


# --- training -------------------------------------------------------------------------------


def test_training_steps_reduce_loss(cddm_checkpoints: Path) -> None:
    task = CDDMTask(cddm_checkpoints / "jscc-t-tiny.safetensors", TINY, "tiny", min_snr_db=-3.0)
    assert task.t_max == task.cddm.start_step(-3.0).item() < TINY.steps
    torch.manual_seed(0)
    images = torch.rand(4, 3, 32, 32)
    # same t and ε every step: a fixed batch
    losses = [logs["loss"] for _, logs in optimise(task, images, torch.zeros(4), steps=25, lr=3e-3, fixed_seed=1)]
    assert losses[-1] < 0.7 * losses[0]
    task.modules.eval()
    with torch.no_grad():
        val = task.validate(images)
    assert {"val_psnr", "val_mse_0dB", "val_mse_in_0dB"} <= set(val)
    tensors, card = task.export()
    assert card["config"] == TINY.to_dict() and card["train_t_max"] == task.t_max


def test_finetune_reduces_loss_and_exports(cddm_checkpoints: Path) -> None:
    task = CDDMFinetuneTask(cddm_checkpoints / "jscc-t-tiny.safetensors", cddm_checkpoints / "cddm-tiny.safetensors", "tiny")
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32)
    history = optimise(task, images, torch.tensor([0.0, 6.0]), steps=8, lr=3e-3, fixed_seed=1)
    losses = [logs["mse"] for _, logs in history]
    assert losses[-1] < losses[0]
    assert all(not p.requires_grad for p in task.modules["denoiser"].parameters())
    tensors, card = task.export()
    assert set(tensors) == set(task.modules["decoder"].state_dict()) and "cddm_sha256" in card


def test_export_load_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = CDDM(TINY)
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.05)
    path = tmp_path / "cddm-tiny.safetensors"
    save_checkpoint(path, dict(model.state_dict()), {"kind": "cddm", "config": TINY.to_dict()})
    loaded, card = load_cddm(path)
    z = torch.randn(1, 96, 3, 3)
    assert torch.equal(loaded.sample(z, 1.0).latent, model.eval().sample(z, 1.0).latent)
    save_checkpoint(tmp_path / "bad.safetensors", dict(model.state_dict()), {"kind": "cddm", "config": CDDM_CONFIGS["cpu"].to_dict()})
    with pytest.raises(CheckpointError):
        load_cddm(tmp_path / "bad.safetensors")


# --- scheme ---------------------------------------------------------------------------------


def _send(scheme, image: torch.Tensor, snr: float):  # noqa: ANN001, ANN202
    tx = scheme.encode(image)
    n = scheme.channel_uses(*image.shape[-2:])
    return scheme.transmit(Transmission(tx, image, AWGNChannel().realise(n, 0, "img", snr, 0)))


def test_scheme_end_to_end(cddm_checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(cddm_checkpoints))
    image = torch.rand(3, 40, 56)  # not a multiple of 16: padded to 48×64 → latent 3×4
    scheme = create_scheme("cddm:config=tiny")
    assert scheme.decoder_weights == "finetuned" and len(scheme.checkpoint_hash().split(",")) == 3
    out = _send(scheme, image, -3.0)
    assert out.image.shape == image.shape and 0 <= out.image.min() and out.image.max() <= 1
    assert out.extras["steps"] == scheme.cddm.start_step(-3.0).item()
    assert _send(scheme, image, 12.0).extras["steps"] < out.extras["steps"]
    assert torch.equal(_send(scheme, image, -3.0).image, out.image)  # deterministic

    stochastic = create_scheme("cddm:config=tiny:eta=1")
    a, b = _send(stochastic, image, 0.0), _send(stochastic, image, 0.0)
    assert torch.equal(a.image, b.image)

    jscc_dec = create_scheme("cddm:config=tiny:decoder=jscc")
    assert jscc_dec.decoder_weights == "jscc" and jscc_dec.config() != scheme.config()
    assert not torch.equal(_send(jscc_dec, image, -3.0).image, out.image)
    capped = create_scheme("cddm:config=tiny:snr_floor=10")
    assert _send(capped, image, -3.0).extras["steps"] == scheme.cddm.start_step(10.0).item()
    official = create_scheme("cddm:config=tiny:start=official")
    assert _send(official, image, -3.0).extras["steps"] == scheme.cddm.start_step(10.0, start="official").item()
    assert official.config()["options"]["start"] == "official"
    # the default rule is left out of the config, so rows stored before the option existed keep their hash
    assert "start" not in scheme.config()["options"]
    assert create_scheme("cddm:config=tiny:start=matched").config() == scheme.config()


def test_scheme_options_and_missing_weights(cddm_checkpoints: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(cddm_checkpoints))
    for spec, match in (("cddm:config=tiny:decoder=x", "decoder"), ("cddm:config=tiny:eta=abc", "eta"),
                        ("cddm:config=tiny:snr_floor=x", "snr_floor"), ("cddm:config=tiny:steps=3", "unknown"),
                        ("cddm:config=tiny:start=paper", "bad start='paper'; accepted: matched, official")):
        with pytest.raises(ValueError, match=match):
            create_scheme(spec)
    partial = tmp_path / "ckpt"
    partial.mkdir()
    for name in ("jscc-t-tiny", "cddm-tiny"):
        for suffix in (".safetensors", ".json"):
            shutil.copy(cddm_checkpoints / f"{name}{suffix}", partial)
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(partial))
    assert create_scheme("cddm:config=tiny").decoder_weights == "jscc"  # auto falls back
    with pytest.raises(ValueError, match="finetuned decoder"):
        create_scheme("cddm:config=tiny:decoder=finetuned")
    (partial / "cddm-tiny.safetensors").unlink()
    with pytest.raises(ValueError, match="semcom-train cddm"):
        create_scheme("cddm:config=tiny")


@pytest.mark.slow
def test_train_cli_both_phases(cddm_checkpoints: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.train_cli import main

    data = write_images(tmp_path / "imgs", [(64, 64)] * 4)
    common = ["--config", "tiny", "--iters", "2", "--batch", "2", "--crop", "64", "--train-data", str(data),
              "--val-data", str(data), "--jscc", str(cddm_checkpoints / "jscc-t-tiny.safetensors"), "--threads", "1"]
    out1 = tmp_path / "out" / "cddm-tiny.safetensors"
    assert main(["cddm", *common, "--out", str(out1), "--run-dir", str(tmp_path / "run1")]) == 0
    model, card = load_cddm(out1)
    assert card["kind"] == "cddm" and card["iterations"] == 2 and "val_psnr_0dB" in card["validation"]
    monkeypatch.setattr("baselines.cddm.training.CHECKPOINT_DIR", out1.parent)  # default --cddm location
    out2 = tmp_path / "out" / "cddm-decoder-tiny.safetensors"
    assert main(["cddm-finetune", *common, "--out", str(out2), "--run-dir", str(tmp_path / "run2")]) == 0
    assert out2.with_suffix(".json").is_file()


def test_scheme_under_block_fading_starts_at_the_effective_snr(cddm_checkpoints: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """CDDM gets the MMSE-equalised latent and matches its start step to |h|²·SNR."""
    from simulator.channels import RayleighBlockChannel

    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(cddm_checkpoints))
    scheme = create_scheme("cddm:config=tiny")
    image = torch.rand(3, 48, 64)
    real = RayleighBlockChannel().realise(scheme.channel_uses(48, 64), 0, "img", 3.0, 2)
    out = scheme.transmit(Transmission(scheme.encode(image), image, real))
    gamma_db = 3.0 + 10 * math.log10(float(real.h[0].abs().square()))
    assert out.extras["steps"] == scheme.cddm.start_step(gamma_db).item()
    assert out.extras["effective_snr_db"] == pytest.approx(gamma_db, abs=1e-4)
