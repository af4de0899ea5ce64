"""Shared machinery of the learned schemes: JSCC encoder → channel → (latent denoiser) → decoder.

:class:`LatentScheme` does the transmitter (encode once per image, SNR independent; the
power-normalised latent's 2n reals as n complex symbols) and the receiver: the MMSE-equalised
channel output (:func:`simulator.channels.mmse_equalize`; the output itself over AWGN) back in the
latent's layout, then :meth:`LatentScheme.denoise` (identity for JSCC-T) conditioned on the
effective SNR (:func:`simulator.channels.effective_snr_db`; the SNR over AWGN), then the decoder.
A subclass may swap the decoder weights (the phase-3 finetuned decoders of ``ours`` and ``cddm``).

Every scheme sends ``n = round(ρ·3·H·W)`` complex symbols per image.  Image sizes that are
not multiples of 16 are replicate-padded at the bottom/right before encoding and the
reconstruction is cropped back; the padded latent holds more than 2n reals, so only the 2n
of the latent positions most covered by real pixels are sent and the receiver fills the
others with zeros (:func:`simulator.link.sent_mask`; its cost is measured in
``docs/channel.md``).

Device and batching: the codec, the denoiser and the channel application run on the scheme's
``device`` (constructor argument; the channel realisations are drawn on the CPU and moved, so
every device sees the same h and w).  :meth:`LatentScheme.receive_batch` stacks the
transmissions of one latent shape into forward passes of at most :attr:`LatentScheme.max_batch`
items, each with its own (effective) SNR and random-number generator; a batch that runs out of
GPU memory is split and retried (:func:`simulator.devices.map_splitting_on_oom`).  Each item's
``receiver_s`` is its batch's synchronised wall time over the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from simulator.channels import AWGNChannel, ChannelOutput, complex_to_real, effective_snr_db, mmse_equalize, real_to_complex
from simulator.checkpoints import CheckpointError, checkpoint_dir, load_checkpoint
from simulator.data import pad_to_multiple
from simulator.devices import map_splitting_on_oom, resolve_device
from simulator.link import normalize_latent, sent_mask
from simulator.models.jscc import JSCC_CONFIGS, STRIDE, JSCCCodec, JSCCConfig
from simulator.options import Option
from simulator.schemes.base import Reception, Scheme, Stopwatch, Transmission

__all__ = ["EncodedLatent", "LatentScheme", "load_jscc", "receiver_generator", "GPU_BATCH"]

#: Forward-pass batch of the learned receivers on CUDA (halved on out-of-memory).
GPU_BATCH = 64


def receiver_generator(rx: ChannelOutput) -> torch.Generator:
    """A CPU generator for a receiver's random draws (``ours:s1=random``, ``cddm:eta>0``), seeded
    by :attr:`ChannelOutput.key` (a hash of the realisation): the draws repeat exactly for the
    same (seed, image, SNR, realisation), whatever the thread count or sweep order, and differ
    between realisations.  (The received latent is no key: its low bits change with the
    number of threads.)"""
    return torch.Generator().manual_seed(rx.key)


def load_jscc(path: Path) -> tuple[JSCCCodec, dict[str, Any]]:
    """A JSCC codec from a safetensors checkpoint whose card's config builds the model.

    :raises CheckpointError: if the file is not safetensors, or its tensors do not match
        the architecture its card describes.
    """
    tensors, card = load_checkpoint(path, kind="jscc-t")
    codec = JSCCCodec(JSCCConfig.from_dict(card["config"]))
    try:
        codec.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[1:2] or [str(exc)]
        raise CheckpointError(f"{path}: weights do not match the card's config ({first[0].strip()})") from exc
    return codec.eval(), card


@dataclass
class EncodedLatent:
    """Transmitter output for one image.

    :ivar latent: ``[C, h, w]`` float32 latent, Es = 1 over its 2n sent reals (0 elsewhere).
    :ivar height, width: the original image size (for cropping the reconstruction).
    :ivar mask: ``[C, h, w]`` bool of the sent reals, ``None`` if all C·h·w = 2n are sent.
    """

    latent: torch.Tensor
    height: int
    width: int
    mask: torch.Tensor | None = None


class LatentScheme(Scheme):
    """Base of ``jscc-t``, ``ours`` and ``cddm``; option ``config`` picks the weights set."""

    options_schema = {"config": Option("cpu", "codec configuration whose weights to use", choices=tuple(JSCC_CONFIGS))}

    #: forward-pass batch on the CPU: 1 (one item per pass) unless ``benchmarks/bench_sweep.py``
    #: shows batching faster there for the scheme.
    cpu_batch: ClassVar[int] = 1

    def __init__(self, options: dict[str, str] | None = None, *, device: str | torch.device = "cpu",
                 **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        #: the torch device of the models and of the channel application (see the module docstring).
        self.device = resolve_device(device)
        #: most transmissions per forward pass.
        self.max_batch = GPU_BATCH if self.device.type == "cuda" else self.cpu_batch
        self._placed = False
        self.config_name = self.values["config"]
        jscc_path = checkpoint_dir() / f"jscc-t-{self.config_name}.safetensors"
        self.codec, self.jscc_card = load_jscc(jscc_path)
        if abs(self.codec.cfg.bandwidth_ratio - self.bandwidth_ratio) > 1e-12:
            raise ValueError(f"weights are for ρ = {self.codec.cfg.bandwidth_ratio}, the sweep asks ρ = {self.bandwidth_ratio}")
        self.decoder = self.codec.decoder
        #: verified SHA-256 (from the cards, see :func:`load_checkpoint`) of every weights file used.
        self.weight_hashes: list[str] = [self.jscc_card["sha256"]]

    # --- hooks --------------------------------------------------------------------
    #: whether :meth:`denoise` draws random numbers (then it gets generators, see :meth:`receive_batch`).
    uses_randomness: bool = False

    def denoise(self, z: torch.Tensor, snr_db: torch.Tensor, generators: list[torch.Generator] | None
                ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Receiver-side latent processing before the decoder: ``[B, C, h, w]`` → same, and the
        extras of each item.  Items are independent: each one's output is what it would be alone.

        :param snr_db: ``[B]`` float64 (CPU), the effective SNR of each item in dB
            (:func:`simulator.channels.effective_snr_db`: the channel SNR over AWGN, |h|²·SNR for
            one fading block per image).
        :param generators: one CPU generator per item, the source of its random draws (``None``
            unless :attr:`uses_randomness`), keyed by its channel realisation.
        """
        return z, [{} for _ in range(z.shape[0])]

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """The decoder: ``[B, C, h, w]`` → ``[B, 3, H, W]`` in [0, 1] (an SNR-conditioned decoder
        also uses ``snr_db``, ``[B]`` float64 on the CPU, the effective SNRs of :meth:`denoise`)."""
        return self.decoder(latent)

    def _place(self) -> None:
        """Move every model of the scheme to :attr:`device` (once, before the first use: the
        subclasses load their weights after this class's constructor)."""
        if not self._placed:
            for value in list(vars(self).values()):
                if isinstance(value, nn.Module):
                    value.to(self.device)
            self._placed = True
            if self.device.type == "cuda":  # full float32 (no TF32): GPU rows agree with the CPU's
                torch.backends.cudnn.allow_tf32 = False
                torch.backends.cuda.matmul.allow_tf32 = False
                self._warm_up()

    def _warm_up(self) -> None:
        """One small transmission through the whole link, untimed: CUDA loads its kernels and
        creates its library handles on first use, one-time work that must not land in the first
        row's ``encode_ms`` / ``receiver_ms``."""
        image = torch.full((3, 64, 96), 0.5)
        channel = AWGNChannel().realise(self.channel_uses(64, 96), 0, "warm-up", 10.0, 0)
        self.transmit(Transmission(self.encode(image), image, channel))

    # --- Scheme contract ----------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return super().config() | {"jscc_config": self.codec.cfg.to_dict()}

    def checkpoint_hash(self) -> str:
        return ",".join(sha[:16] for sha in self.weight_hashes)

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> EncodedLatent:
        self._place()
        height, width = image.shape[-2:]
        latent = self.codec.encoder(pad_to_multiple(image.to(self.device), STRIDE).unsqueeze(0))
        mask = sent_mask(tuple(latent.shape[1:]), height, width, self.channel_uses(height, width), STRIDE)
        mask = None if mask is None else mask.to(self.device)
        return EncodedLatent(normalize_latent(latent, mask)[0], height, width, mask)

    def symbols(self, encoded: EncodedLatent) -> torch.Tensor:
        """The latent's 2n sent reals (all, or those of ``encoded.mask``) as ``[n]`` complex64
        symbols (first n reals = real parts)."""
        flat = encoded.latent.flatten()
        return real_to_complex(flat if encoded.mask is None else flat[encoded.mask.flatten()])

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        return self.receive_batch([(tx, rx)])[0]

    def receive_batch(self, items: list[tuple[Transmission, ChannelOutput]]) -> list[Reception]:
        """The receivers of many transmissions: those with the same latent layout (image size)
        go through :meth:`denoise` and the decoder together, :attr:`max_batch` at a time."""
        self._place()
        groups: dict[tuple, list[int]] = {}
        for i, (tx, _) in enumerate(items):
            enc: EncodedLatent = tx.encoded
            groups.setdefault((tuple(enc.latent.shape), enc.height, enc.width), []).append(i)
        out: list[Reception | None] = [None] * len(items)
        for idx in groups.values():
            for start in range(0, len(idx), self.max_batch):
                part = idx[start:start + self.max_batch]
                receptions = map_splitting_on_oom(self._receive_same_shape, [items[i] for i in part])
                for i, reception in zip(part, receptions):
                    out[i] = reception
        return [r for r in out if r is not None]

    @torch.no_grad()
    def _receive_same_shape(self, items: list[tuple[Transmission, ChannelOutput]]) -> list[Reception]:
        """One forward pass for transmissions of one latent layout."""
        enc: EncodedLatent = items[0][0].encoded
        generators = [receiver_generator(rx) for _, rx in items] if self.uses_randomness else None
        with Stopwatch(self.device) as sw:
            received = torch.stack([complex_to_real(mmse_equalize(rx)) for _, rx in items]).to(enc.latent)
            if enc.mask is None:
                z = received.view(len(items), *enc.latent.shape)
            else:  # the reals that were not sent are 0 (their prior mean)
                z = torch.zeros(len(items), enc.latent.numel(), dtype=received.dtype, device=received.device)
                z[:, enc.mask.flatten()] = received
                z = z.view(len(items), *enc.latent.shape)
            snr_eff = torch.tensor([effective_snr_db(rx) for _, rx in items], dtype=torch.float64)
            y_hat, extras = self.denoise(z, snr_eff, generators)
            images = self.decode(y_hat, snr_eff)[:, :, : enc.height, : enc.width]
        seconds = sw.seconds / len(items)
        out = []
        for j, (_, rx) in enumerate(items):
            extra = extras[j] | ({"effective_snr_db": float(snr_eff[j])} if rx.fading else {})
            out.append(Reception(images[j], seconds, extra))
        return out
