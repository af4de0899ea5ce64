"""The learned schemes end to end (tiny untrained weights): jscc-t, ours and its variants."""

from __future__ import annotations

import pytest
import torch

from simulator.channels import AWGNChannel
from simulator.checkpoints import CheckpointError
from simulator.registry import create_scheme
from simulator.schemes.base import Transmission


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
    h16, w16 = -(-size[0] // 16) * 16, -(-size[1] // 16) * 16
    assert scheme.channel_uses(*size) == h16 * w16 * 3 // 16
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
