"""Shared fixtures: a tiny "identity + noise" scheme registered for the tests, and tiny
generated image folders.

``test-identity`` sends the pixels themselves (ρ = 1/2: 3·H·W reals as 3·H·W/2 complex
channel uses), so its PSNR grows with the SNR; ``test-identity-b`` is the same link
under another name, to check that two schemes face the same noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from simulator.channels import ChannelOutput, complex_to_real, mmse_equalize, power_normalize, real_to_complex
from simulator.options import Option
from simulator.registry import register_scheme
from simulator.schemes.base import Reception, Scheme, Stopwatch, Transmission

# Tiny tensors: one thread is fastest, and keeps the tests from fighting other CPU jobs.
torch.set_num_threads(1)


@register_scheme("test-identity")
class IdentityScheme(Scheme):
    """Pixels over the channel; test hooks: ``fail_after`` (raise on that transmission),
    ``ckpt`` (pretend weights), and the list ``noises`` of the realisations' unit noise
    (``gains``: their fading gains)."""

    description = "test only: raw pixels over AWGN"
    options_schema = {"gain": Option("1", "scale of the reconstruction (changes the config)", kind="float")}

    def __init__(self, options: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(options, bandwidth_ratio=0.5)
        self.fail_after: int | None = None
        self.ckpt: str | None = None
        self.sent = 0
        self.encode_calls = 0
        self.noises: list[torch.Tensor] = []
        self.gains: list[torch.Tensor | None] = []

    def checkpoint_hash(self) -> str | None:
        return self.ckpt

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        self.encode_calls += 1
        return image.flatten() * 2 - 1

    def symbols(self, encoded: torch.Tensor) -> torch.Tensor:
        return real_to_complex(power_normalize(encoded[None]))[0]

    def transmit_batch(self, items: list[Transmission]) -> list[Reception]:
        for tx in items:
            self.noises.append(tx.channel.w.clone())
            self.gains.append(tx.channel.h)
        return super().transmit_batch(items)

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise RuntimeError("injected failure")
        self.sent += 1
        with Stopwatch() as sw:
            y = tx.encoded[None]
            scale = y.norm() / power_normalize(y).norm()
            y_hat = complex_to_real(mmse_equalize(rx)) * scale * self.values["gain"]
            image = ((y_hat + 1) / 2).reshape(tx.image.shape)
        return Reception(image, sw.seconds, {"delivered": rx.snr_db >= 0, "steps": 2 if rx.snr_db < 0 else 1})


@register_scheme("test-identity-b")
class IdentitySchemeB(IdentityScheme):
    description = "test only: the same link under another name"


def optimise(task, images: torch.Tensor, snr_db: torch.Tensor, steps: int, lr: float,
             fixed_seed: int | None = None) -> list[tuple[float, dict]]:
    """``steps`` Adam steps on ``task.loss(images, snr_db)`` over ``task.trainable()``; with
    ``fixed_seed`` the global RNG is reseeded before every step (the same noise each step: a
    fixed problem).  Returns ``(loss, logs)`` per step."""
    opt = torch.optim.Adam(task.trainable(), lr=lr)
    history = []
    for _ in range(steps):
        if fixed_seed is not None:
            torch.manual_seed(fixed_seed)
        loss, logs = task.loss(images, snr_db)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.item(), logs))
    return history


def write_images(folder: Path, sizes: list[tuple[int, int]]) -> Path:
    """Smooth random RGB PNGs ``img0.png, img1.png, …`` of the given (H, W) sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([np.sin(xx / (7 + 3 * c) + yy / (11 + c) + i) for c in range(3)], axis=-1)
        arr = np.clip(127.5 + 90 * base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Three 192×176 images (large enough for MS-SSIM)."""
    return write_images(tmp_path / "tiny", [(192, 176)] * 3)


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Two 64×48 images (too small for MS-SSIM)."""
    return write_images(tmp_path / "small", [(64, 48)] * 2)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder with untrained ``tiny`` JSCC-T, denoiser (α = 1 and 0) and
    phase-3 decoder weights, saved the way the training commands save them (the receivers'
    cards name the codec they belong to)."""
    from simulator.checkpoints import file_sha256, save_checkpoint
    from simulator.models.denoiser import DENOISER_CONFIGS, LatentDenoiser
    from simulator.models.jscc import JSCC_CONFIGS, JSCCCodec

    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    codec = JSCCCodec(JSCC_CONFIGS["tiny"])
    save_checkpoint(folder / "jscc-t-tiny.safetensors", dict(codec.state_dict()),
                    {"kind": "jscc-t", "config_name": "tiny", "config": codec.cfg.to_dict()})
    codec_sha = file_sha256(folder / "jscc-t-tiny.safetensors")
    for alpha in ("1", "0"):
        den = LatentDenoiser(DENOISER_CONFIGS["tiny"])
        save_checkpoint(folder / f"denoiser-tiny-alpha{alpha}.safetensors", dict(den.state_dict()),
                        {"kind": "denoiser", "config": den.cfg.to_dict(), "alpha": float(alpha), "t_max": 3,
                         "stop_margin_db": 0.0, "jscc_sha256": codec_sha})
    save_checkpoint(folder / "ours-decoder-tiny.safetensors", dict(codec.decoder.state_dict()),
                    {"kind": "jscc-decoder", "config": codec.cfg.to_dict(), "jscc_sha256": codec_sha})
    return folder
