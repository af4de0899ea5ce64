"""The learned schemes end to end (tiny untrained weights): jscc-t, ours and its variants."""

from __future__ import annotations

import shutil

import pytest
import torch

from simulator.channels import AWGNChannel, complex_to_real
from simulator.checkpoints import CheckpointError, CheckpointMismatchError, load_checkpoint, save_checkpoint
from simulator.data import list_images
from simulator.link import sent_mask
from simulator.registry import create_scheme
from simulator.schemes.base import Transmission
from simulator.sweep import SweepConfig, run_sweep

from tests.conftest import write_images


@pytest.fixture(autouse=True)
def _tiny_weights(monkeypatch: pytest.MonkeyPatch, tiny_checkpoints) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tiny_checkpoints))


def _send(spec: str, image: torch.Tensor, snr_db: float):
    scheme = create_scheme(spec)
    n = scheme.channel_uses(*image.shape[-2:])
    channel = AWGNChannel().realise(n, 0, "img", snr_db, 0)
    return scheme, scheme.transmit(Transmission(scheme.encode(image), image, channel))


@pytest.mark.parametrize("size", [(64, 96), (96, 64), (50, 70)])
def test_jscc_t_round_trip_any_size(size: tuple[int, int]) -> None:
    image = torch.rand(3, *size)
    scheme, rx = _send("jscc-t:config=tiny", image, 5.0)
    assert rx.image.shape == image.shape and 0 <= rx.image.min() and rx.image.max() <= 1
    assert scheme.channel_uses(*size) == round(size[0] * size[1] * 3 / 16)  # not the padded size's
    assert rx.receiver_s > 0 and scheme.checkpoint_hash()


def test_encoded_latent_has_unit_symbol_energy() -> None:
    scheme = create_scheme("jscc-t:config=tiny")
    enc = scheme.encode(torch.rand(3, 64, 64))
    n = enc.latent.numel() / 2
    assert enc.latent.pow(2).sum().item() / n == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("opts", ["", ":steps=2", ":steps=0", ":s1=random", ":s1=0", ":alpha=0", ":decoder=jscc"])
def test_ours_variants(opts: str) -> None:
    image = torch.rand(3, 64, 64)
    _, rx = _send(f"ours:config=tiny{opts}", image, 0.0)
    assert rx.image.shape == image.shape
    assert 0 <= rx.extras["steps"] <= 3 and len(rx.extras["similarities"]) >= 1


def test_ours_random_s1_is_reproducible() -> None:
    image = torch.rand(3, 64, 64)
    _, a = _send("ours:config=tiny:s1=random", image, 0.0)
    _, b = _send("ours:config=tiny:s1=random", image, 0.0)
    assert a.extras["similarities"] == b.extras["similarities"]


def test_ours_random_s1_is_keyed_by_the_channel_noise_not_the_latent() -> None:
    """The random s1 must not depend on the received latent's bits (they change with the thread
    count): two images under the same noise draw the same s1, another realisation another one."""
    scheme = create_scheme("ours:config=tiny:s1=random")
    first = []
    for image, realization in ((torch.rand(3, 64, 64), 0), (torch.rand(3, 64, 64), 0), (torch.rand(3, 64, 64), 1)):
        channel = AWGNChannel().realise(scheme.channel_uses(64, 64), 0, "img", 0.0, realization)
        rx = scheme.transmit(Transmission(scheme.encode(image), image, channel))
        first.append(rx.extras["similarities"][0])
    assert first[0] == first[1] != first[2]


def test_ours_with_zero_steps_equals_jscc_t_decoder() -> None:
    image = torch.rand(3, 64, 64)
    _, a = _send("ours:config=tiny:steps=0:decoder=jscc", image, 3.0)
    _, b = _send("jscc-t:config=tiny", image, 3.0)
    torch.testing.assert_close(a.image, b.image)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="bad steps='5'; accepted: adaptive"):
        create_scheme("ours:config=tiny:steps=5")
    with pytest.raises(ValueError, match="unknown option"):
        create_scheme("jscc-t:config=tiny:foo=1")
    with pytest.raises(ValueError, match="bad config='huge'"):
        create_scheme("jscc-t:config=huge")


def test_missing_weights_give_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tmp_path))
    with pytest.raises(CheckpointError, match="not found"):
        create_scheme("jscc-t:config=tiny")


def test_receivers_trained_on_another_codec_are_refused(monkeypatch: pytest.MonkeyPatch, tiny_checkpoints,
                                                        tmp_path) -> None:
    folder = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, folder)
    tensors, card = load_checkpoint(folder / "jscc-t-tiny.safetensors")
    retrained = {k: v + 0.01 for k, v in tensors.items()}  # a codec the receivers never saw
    save_checkpoint(folder / "jscc-t-tiny.safetensors", retrained, {k: card[k] for k in ("kind", "config_name", "config")})
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folder))
    create_scheme("jscc-t:config=tiny")  # the codec alone is fine
    with pytest.raises(CheckpointMismatchError, match="denoiser-tiny-alpha1.safetensors was trained behind"):
        create_scheme("ours:config=tiny")
    den_tensors, den_card = load_checkpoint(folder / "denoiser-tiny-alpha1.safetensors")  # the denoiser retrained too
    save_checkpoint(folder / "denoiser-tiny-alpha1.safetensors", den_tensors,
                    den_card | {"jscc_sha256": load_checkpoint(folder / "jscc-t-tiny.safetensors")[1]["sha256"]})
    with pytest.raises(CheckpointMismatchError, match="ours-decoder-tiny.safetensors was trained behind"):
        create_scheme("ours:config=tiny")
    create_scheme("ours:config=tiny:decoder=jscc")


# --- exact channel uses for sides that are not multiples of 16 --------------------------------


def test_sent_mask_keeps_the_positions_most_covered_by_pixels() -> None:
    assert sent_mask((96, 32, 48), 512, 768, 73728, 16) is None  # Kodak: every real is sent
    n = round(481 * 321 * 3 / 16)  # 28950; the padded 496×336 latent holds 31248 symbols (+7.9 %)
    mask = sent_mask((96, 21, 31), 321, 481, n, 16)
    assert mask.shape == (96, 21, 31) and int(mask.sum()) == 2 * n
    assert mask[:, :20, :30].all()  # every fully covered position is sent
    assert not mask[:, 20, 30].any()  # the corner block holds 1 real pixel of 256: dropped first
    assert int(mask[:, 20, :].sum() + mask[:, :20, 30].sum()) == 2 * n - 96 * 20 * 30
    with pytest.raises(ValueError, match="need 200 reals"):
        sent_mask((2, 5, 5), 80, 80, 100, 16)


def test_dropped_reals_are_not_sent_and_received_as_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    scheme = create_scheme("jscc-t:config=tiny")
    image = torch.rand(3, 81, 53)
    enc = scheme.encode(image)
    x = scheme.symbols(enc)
    assert x.shape == (805,)  # n = round(81·53·3/16), not the padded latent's 1152
    torch.testing.assert_close(complex_to_real(x), enc.latent[enc.mask])
    seen = {}

    def capture(z: torch.Tensor, snr_db: torch.Tensor, generators: object) -> tuple[torch.Tensor, list[dict]]:
        seen["z"] = z[0]
        return z, [{}]

    monkeypatch.setattr(scheme, "denoise", capture)
    realisation = AWGNChannel().realise(805, 0, "odd", 10.0, 0)
    scheme.transmit(Transmission(enc, image, realisation))
    assert not seen["z"][~enc.mask].any()  # the dropped reals are received as 0
    expected = complex_to_real(x + 10 ** -0.5 * realisation.w)
    torch.testing.assert_close(seen["z"][enc.mask], expected)


@pytest.mark.parametrize("spec", ["jscc-t:config=tiny", "ours:config=tiny"])
def test_odd_sized_image_uses_the_same_n_as_every_scheme(spec: str, tmp_path) -> None:
    folder = write_images(tmp_path / "odd", [(81, 53), (64, 48)])
    rows = run_sweep(create_scheme(spec), spec, list_images(folder),
                     SweepConfig(snrs=[0.0, 10.0], dataset="odd", results_dir=tmp_path / "res"))
    n = {(r["height"], r["width"]): r["channel_uses"] for r in rows}
    assert n == {(81, 53): round(81 * 53 * 3 / 16), (64, 48): 64 * 48 * 3 // 16}  # 805 (padded 96×64: 1152), 576
    assert create_scheme("bpg-capacity").channel_uses(81, 53) == n[(81, 53)]
    scheme = create_scheme(spec)
    enc = scheme.encode(torch.rand(3, 81, 53))
    assert enc.latent.shape[1:] == (6, 4) and int(enc.mask.sum()) == 2 * 805
    sent = enc.latent[enc.mask]
    assert sent.pow(2).sum().item() / 805 == pytest.approx(1.0, rel=1e-5)  # Es = 1 over what is sent
    assert not enc.latent[~enc.mask].any()
    assert scheme.encode(torch.rand(3, 64, 48)).mask is None


def test_ours_stop_margin_is_the_one_calibrated_through_the_decoder_in_use(tiny_checkpoints, tmp_path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.training.denoiser_task import FinetuneTask

    task = FinetuneTask(tiny_checkpoints / "jscc-t-tiny.safetensors", tiny_checkpoints / "denoiser-tiny-alpha1.safetensors",
                        "tiny")
    task.modules.eval()
    val = task.validate(torch.rand(2, 3, 32, 32))
    _, card = task.export()
    assert card["stop_margin_db"] == val["val_stop_margin_db"] and set(card["calibration"]) >= {"-3", "12"}
    assert card["training_stop_margin_db"] == 0.0  # trained behind the denoiser's rule

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoints, folder)
    tensors, dec_card = load_checkpoint(folder / "ours-decoder-tiny.safetensors", kind="jscc-decoder")
    keep = {k: v for k, v in dec_card.items() if k not in ("sha256", "file")}
    save_checkpoint(folder / "ours-decoder-tiny.safetensors", tensors, keep | {"stop_margin_db": 0.75})
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folder))
    assert create_scheme("ours:config=tiny").margin_db == 0.75  # the phase-3 decoder's
    assert create_scheme("ours:config=tiny:decoder=jscc").margin_db == 0.0  # the denoiser's
    assert create_scheme("ours:config=tiny:margin=0.2").margin_db == 0.2


def test_ours_decodes_each_item_with_the_decoder_of_its_snr_band(tiny_checkpoints, tmp_path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The phase-3 decoder's card splits the SNR axis: below 3 dB its own decoder, from 3 dB a mid-band
    checkpoint (hash-checked), from 5 dB the phase-1 decoder; item by item in one batch, each item
    equal to what that decoder alone gives, and each band's stop margin in the config."""
    tensors, dec_card = load_checkpoint(tiny_checkpoints / "ours-decoder-tiny.safetensors", kind="jscc-decoder")
    keep = {k: v for k, v in dec_card.items() if k not in ("sha256", "file")} | {"stop_margin_db": 0.0}
    torch.manual_seed(1)
    low, mid = ({k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v for k, v in tensors.items()}
                for _ in range(2))
    folders = {name: tmp_path / name for name in ("low", "mid", "bands")}
    for name, weights in (("low", low), ("mid", mid), ("bands", low)):
        shutil.copytree(tiny_checkpoints, folders[name])
        save_checkpoint(folders[name] / "ours-decoder-tiny.safetensors", weights, keep)
    save_checkpoint(folders["bands"] / "ours-decoder-mid-tiny.safetensors", mid, keep)
    _, mid_card = load_checkpoint(folders["bands"] / "ours-decoder-mid-tiny.safetensors")
    bands = [{"from_snr_db": 3.0, "decoder": "ours-decoder-mid-tiny", "sha256": mid_card["sha256"], "stop_margin_db": 0.0},
             {"from_snr_db": 5.0, "decoder": "phase1", "stop_margin_db": 0.0}]
    save_checkpoint(folders["bands"] / "ours-decoder-tiny.safetensors", low, keep | {"bands": bands})
    image = torch.rand(3, 64, 96)

    def received(folder, spec: str, snrs: list[float]) -> list[torch.Tensor]:
        monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folder))
        scheme = create_scheme(spec)
        scheme.max_batch = len(snrs)  # one forward pass: items of every band together
        n = scheme.channel_uses(64, 96)
        txs = [Transmission(scheme.encode(image), image, AWGNChannel().realise(n, 0, "img", snr, 0)) for snr in snrs]
        return [r.image for r in scheme.transmit_batch(txs)]

    snrs = [0.0, 8.0, 2.9, 3.0, 4.9, 5.0]
    banded = received(folders["bands"], "ours:config=tiny", snrs)
    alone = {"low": received(folders["low"], "ours:config=tiny", snrs), "mid": received(folders["mid"], "ours:config=tiny", snrs),
             "phase1": received(folders["low"], "ours:config=tiny:decoder=jscc", snrs)}
    for i, snr in enumerate(snrs):
        expected = alone["phase1" if snr >= 5 else "mid" if snr >= 3 else "low"][i]
        torch.testing.assert_close(banded[i], expected, atol=1e-6, rtol=0)
    assert not torch.allclose(alone["low"][1], alone["mid"][1])  # the decoders differ, so the test can fail
    assert not torch.allclose(alone["low"][1], alone["phase1"][1])
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folders["bands"]))
    assert [b["decoder"] for b in create_scheme("ours:config=tiny").config()["bands"]] == ["ours-decoder-mid-tiny", "phase1"]
    bands[1]["stop_margin_db"] = 0.4
    save_checkpoint(folders["bands"] / "ours-decoder-tiny.safetensors", low, keep | {"stop_margin_db": 0.75, "bands": bands})
    assert create_scheme("ours:config=tiny").band_margins == [0.75, 0.0, 0.4]
    assert create_scheme("ours:config=tiny:margin=0.2").band_margins == [0.2, 0.2, 0.2]
    bands[0]["sha256"] = "0" * 64  # the band was calibrated with other weights
    save_checkpoint(folders["bands"] / "ours-decoder-tiny.safetensors", low, keep | {"bands": bands})
    with pytest.raises(ValueError, match="ours-decoder-mid-tiny.safetensors: sha256"):
        create_scheme("ours:config=tiny")


def test_pick_bands_maximises_summed_psnr_and_gives_ties_to_the_higher_band() -> None:
    from simulator.training.calibrate import pick_bands

    low = {-3.0: 21.0, 0.0: 23.0, 3.0: 25.0, 6.0: 26.0, 9.0: 27.0}
    high = {-3.0: 20.0, 0.0: 22.5, 3.0: 25.0, 6.0: 26.5, 9.0: 28.0}
    assert pick_bands([low, high]) == [3.0]  # tie at 3 dB: the higher band
    mid = {snr: v + 0.2 if snr in (0.0, 3.0) else v - 1.0 for snr, v in low.items()}
    assert pick_bands([low, mid, high]) == [0.0, 6.0]
    assert pick_bands([low, {s: v - 1 for s, v in low.items()}, high]) == [None, 3.0]  # a decoder that never wins
    assert pick_bands([high, low]) == [-3.0]  # bands keep the given order; equal sums: the later takes all
