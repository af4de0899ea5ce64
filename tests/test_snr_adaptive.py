"""SNR-conditioned modulation (SwinJSCC/WITT style): identity at initialisation, SNR-dependent once trained."""

from __future__ import annotations

import pytest
import torch

from simulator.models.jscc import JSCC_CONFIGS, JSCCCodec
from simulator.models.snr_adaptive import SNRAdaptiveCodec, SNRModulatedDecoder, SNRModulation, load_unmodulated


def test_modulation_is_identity_at_init_and_scales_channels() -> None:
    mod = SNRModulation(8)
    x = torch.randn(2, 3, 5, 8)
    assert torch.equal(mod(x, torch.tensor([-3.0, 12.0])), x)
    with torch.no_grad():
        mod.net[-1].bias.fill_(10.0)  # σ → 1: every channel doubled
    torch.testing.assert_close(mod(x, torch.tensor([0.0, 0.0])), 2 * x, rtol=1e-4, atol=1e-4)


def test_adaptive_codec_from_shipped_weights_computes_the_shipped_codec() -> None:
    torch.manual_seed(0)
    codec = JSCCCodec(JSCC_CONFIGS["tiny"]).eval()
    sa = SNRAdaptiveCodec.from_codec(codec).eval()
    x, snr = torch.rand(2, 3, 32, 48), torch.tensor([-3.0, 12.0])
    with torch.no_grad():
        latent = codec.encoder(x)
        torch.testing.assert_close(sa.encoder(x, snr), latent, rtol=0, atol=0)
        torch.testing.assert_close(sa.decoder(latent, snr), codec.decoder(latent), rtol=0, atol=0)
    assert set(codec.state_dict()) < set(sa.state_dict())
    assert all(".mods." in f".{k}" for k in set(sa.state_dict()) - set(codec.state_dict()))


def test_trained_modulation_makes_the_output_depend_on_snr() -> None:
    torch.manual_seed(0)
    dec = SNRModulatedDecoder(JSCC_CONFIGS["tiny"])
    latent = torch.randn(1, 96, 2, 2)
    opt = torch.optim.Adam(dec.mods.parameters(), lr=1e-2)
    for _ in range(3):  # push the output towards 0 at −3 dB only
        loss = dec(latent, torch.tensor([-3.0])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert not torch.allclose(dec(latent, torch.tensor([-3.0])), dec(latent, torch.tensor([12.0])))


def test_load_unmodulated_refuses_other_weights() -> None:
    dec = SNRModulatedDecoder(JSCC_CONFIGS["tiny"])
    with pytest.raises(RuntimeError, match="do not match"):
        load_unmodulated(dec, {"nonsense.weight": torch.zeros(1)})


def _step(task, images: torch.Tensor, snr: torch.Tensor, steps: int = 2) -> None:
    opt = torch.optim.Adam(task.trainable(), lr=1e-2)
    for _ in range(steps):
        loss, _ = task.loss(images, snr)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_snr_conditioned_phase3_starts_at_the_phase1_decoder_and_trains_only_it(tiny_checkpoints) -> None:
    from simulator.training.denoiser_task import FinetuneTask
    from simulator.training.snr_tasks import WIDE_VAL_SNRS_DB, SNRFinetuneTask

    jscc, den = tiny_checkpoints / "jscc-t-tiny.safetensors", tiny_checkpoints / "denoiser-tiny-alpha1.safetensors"
    task, plain = SNRFinetuneTask(jscc, den, "tiny"), FinetuneTask(jscc, den, "tiny")
    images, snr = torch.rand(2, 3, 32, 32), torch.tensor([-3.0, 12.0])
    torch.manual_seed(1)
    a = task._reconstruct(images, snr)
    torch.manual_seed(1)
    torch.testing.assert_close(a, plain._reconstruct(images, snr), rtol=0, atol=0)  # identity modulation
    frozen = {n: {k: v.clone() for k, v in task.modules[n].state_dict().items()} for n in ("encoder", "denoiser")}
    mods = {k: v.clone() for k, v in task.modules["decoder"].mods.state_dict().items()}
    _step(task, images, snr)
    for name, before in frozen.items():
        assert all(torch.equal(v, task.modules[name].state_dict()[k]) for k, v in before.items()), name
    assert any(not torch.equal(v, task.modules["decoder"].mods.state_dict()[k]) for k, v in mods.items())
    with torch.no_grad():
        val = task.validate(images)
    assert set(val) == {f"val_psnr_{s:g}dB" for s in WIDE_VAL_SNRS_DB} | {"val_psnr"}
    tensors, card = task.export()
    assert any(k.startswith("mods.") for k in tensors) and card["denoiser_sha256"] and card["mod_hidden"] > 0
    assert "val_psnr_12dB" in plain.validate(images)  # the plain phase 3 also reports the top of the sweep


def test_jscc_sa_task_trains_from_the_shipped_codec_and_round_trips(tiny_checkpoints, tmp_path) -> None:
    from simulator.checkpoints import load_checkpoint, save_checkpoint
    from simulator.link import normalize_latent
    from simulator.schemes.latent import load_jscc
    from simulator.training.snr_tasks import JSCCSATask

    task = JSCCSATask(tiny_checkpoints / "jscc-t-tiny.safetensors", "tiny")
    codec, card = load_jscc(tiny_checkpoints / "jscc-t-tiny.safetensors")
    images, snr = torch.rand(2, 3, 32, 32), torch.tensor([-3.0, 12.0])
    with torch.no_grad():
        torch.testing.assert_close(normalize_latent(task.codec.encoder(images, snr)),
                                   normalize_latent(codec.encoder(images)), rtol=0, atol=0)
    _step(task, images, snr)
    tensors, extra = task.export()
    assert extra["init_jscc_sha256"] == card["sha256"]
    save_checkpoint(tmp_path / "sa.safetensors", tensors, {"kind": task.kind, **extra})
    again = JSCCSATask(tiny_checkpoints / "jscc-t-tiny.safetensors", "tiny")
    again.load_exported(load_checkpoint(tmp_path / "sa.safetensors", kind="jscc-t-sa")[0])
    with torch.no_grad():
        torch.testing.assert_close(again.codec.encoder(images, snr), task.codec.encoder(images, snr), rtol=0, atol=0)
    assert set(task.validate(images)) >= {"val_psnr", "val_psnr_-3dB", "val_psnr_12dB"}


def test_cli_defaults_of_the_snr_phases() -> None:
    from simulator.train_cli import build_parser

    for phase in ("finetune-snr", "jscc-sa"):
        assert build_parser().parse_args([phase]).snr_range == (-3.0, 12.0)
    assert build_parser().parse_args(["jscc-sa"]).precision == "bf16"
    assert build_parser().parse_args(["finetune"]).snr_range is None


@pytest.fixture()
def sa_checkpoints(tiny_checkpoints, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The tiny weights plus a tiny jscc-t-sa made from the tiny JSCC-T, its modulations perturbed
    so that the SNR matters."""
    import shutil

    from simulator.checkpoints import save_checkpoint
    from simulator.schemes.latent import load_jscc

    for path in tiny_checkpoints.iterdir():
        shutil.copy(path, tmp_path / path.name)
    codec, card = load_jscc(tiny_checkpoints / "jscc-t-tiny.safetensors")
    sa = SNRAdaptiveCodec.from_codec(codec)
    torch.manual_seed(0)
    with torch.no_grad():
        for mod in [*sa.encoder.mods, *sa.decoder.mods]:
            mod.net[-1].weight.normal_(0, 0.5)
    save_checkpoint(tmp_path / "jscc-t-sa-tiny.safetensors", dict(sa.state_dict()),
                    {"kind": "jscc-t-sa", "config_name": "tiny", "config": codec.cfg.to_dict(), "mod_hidden": 64,
                     "init_jscc_sha256": card["sha256"]})
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tmp_path))
    return tmp_path, sa.eval()


@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_jscc_t_sa_scheme_conditions_both_ends_on_the_snr(sa_checkpoints, size: tuple[int, int]) -> None:
    from simulator.channels import AWGNChannel
    from simulator.link import normalize_latent
    from simulator.registry import create_scheme
    from simulator.schemes.base import Transmission

    _, sa = sa_checkpoints
    scheme = create_scheme("jscc-t-sa:config=tiny")
    image = torch.rand(3, *size)
    n = scheme.channel_uses(*size)
    enc = scheme.encode(image)

    def send(snr: float):
        return scheme.transmit(Transmission(enc, image, AWGNChannel().realise(n, 0, "img", snr, 0)))

    lo, hi = send(-3.0), send(12.0)
    assert lo.image.shape == image.shape and 0 <= lo.image.min() and lo.image.max() <= 1 and lo.receiver_s > 0
    assert not torch.allclose(lo.image, hi.image)
    sent = scheme.encode_at(enc, 5.0)  # the transmitter: the modulated encoder at the link's SNR, Es = 1
    assert sent.latent.pow(2).sum().item() / n == pytest.approx(1.0, rel=1e-5)
    if enc.mask is None:
        with torch.no_grad():
            want = normalize_latent(sa.encoder(enc.image, torch.tensor([5.0])))[0]
        torch.testing.assert_close(sent.latent, want)
    assert scheme.checkpoint_hash() and scheme.config()["mod_hidden"] == 64
    again = send(-3.0)
    assert torch.equal(again.image, lo.image)


def test_ours_with_the_snr_conditioned_decoder(sa_checkpoints) -> None:
    from simulator.channels import AWGNChannel
    from simulator.checkpoints import save_checkpoint
    from simulator.registry import create_scheme
    from simulator.schemes.base import Transmission
    from simulator.training.snr_tasks import SNRFinetuneTask

    folder, _ = sa_checkpoints
    task = SNRFinetuneTask(folder / "jscc-t-tiny.safetensors", folder / "denoiser-tiny-alpha1.safetensors", "tiny")
    tensors, card = task.export()
    save_checkpoint(folder / "ours-decoder-snr-tiny.safetensors", tensors, {"kind": task.kind, **card})
    image = torch.rand(3, 64, 64)

    def send(spec: str):
        scheme = create_scheme(spec)
        channel = AWGNChannel().realise(scheme.channel_uses(64, 64), 0, "img", 2.0, 0)
        return scheme, scheme.transmit(Transmission(scheme.encode(image), image, channel))

    snr_scheme, rx = send("ours:config=tiny:decoder=snr")
    _, ref = send("ours:config=tiny:decoder=jscc")
    torch.testing.assert_close(rx.image, ref.image)  # untrained modulation = the phase-1 decoder
    assert len(snr_scheme.weight_hashes) == 3


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda:0", marks=[
    pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")])])
def test_jscc_t_sa_runs_on_the_device_given(sa_checkpoints, device: str) -> None:
    """Image, mask, SNR and models all on the scheme's device (the CPU row is the reference)."""
    from simulator.channels import AWGNChannel
    from simulator.registry import create_scheme
    from simulator.schemes.base import Transmission

    image = torch.rand(3, 50, 70)
    rows = []
    for dev in dict.fromkeys(["cpu", device]):
        scheme = create_scheme("jscc-t-sa:config=tiny", device=dev)
        n = scheme.channel_uses(50, 70)
        rx = scheme.transmit(Transmission(scheme.encode(image), image, AWGNChannel().realise(n, 0, "img", 2.0, 0)))
        rows.append(rx.image.cpu())
    torch.testing.assert_close(rows[-1], rows[0], atol=1e-4, rtol=0)
