"""Classical separate link: BPG source coding + 5G NR LDPC + 4-QAM over the shared channel.

Schemes
-------
``bpg-ldpc-1/2``, ``bpg-ldpc-3/4``
    BPG payload (see :mod:`bpg_tools`, 4:2:0 like ``bpgenc``) → 5G transport block with
    CRCs (:mod:`baselines.ldpc_tb`) → 5G LDPC (Sionna ``LDPC5GEncoder``) → Gray 4-QAM
    (Sionna ``Mapper("qam", 2)``, Es = 1) → the sweep's channel (``y = h·x + sqrt(N0)·w``,
    h = 1 over AWGN) → ``Demapper("app", "qam", 2)`` on the zero-forced ``y/h`` with the
    per-symbol noise variance ``no = N0/|h|²`` (exact LLRs; ``y`` and ``no = N0`` over AWGN,
    :func:`simulator.csi.demapper_input`) → BP decoder (:mod:`baselines.ldpc_link`: numba
    flooding by default, 50 iterations with syndrome early stop) → BPG decoder.  No
    interleaver: code block j is sent on consecutive channel uses.
``bpg-capacity``
    BPG at the budget ``floor(Σ_i log2(1 + |h_i|²·SNR))`` bits of the image's own channel
    realisation (``floor(n·log2(1 + SNR))`` over AWGN), delivered error-free: the upper bound of
    any separate source/channel scheme on this channel (for one fading block per image the
    outage-aware bound, BPG at log2(1 + |h|²·SNR) bits per use for that image's h).

768×512 (n = 73 728): R = 1/2 → C = 9 blocks, k = 8192, n_cb = 16 384, payload budget
73 728 − 9·24 − 24 = 73 488 bits; R = 3/4 → C = 14, k = 7899, n_cb = 10 532, budget
110 586 − 14·24 − 24 = 110 226 bits, 4 leftover symbols.

Reception, failure and fallback
-------------------------------
A code block is decoded when its info bits are right (a genie standing in for its CRC).
The image is delivered when every block that carries payload decodes; otherwise the
receiver shows the **fallback, a constant mid-grey image (0.5)**, and
``extras["delivered"]`` is ``False``.  An empty encoding (even BPG QP 51 exceeds the
budget) is never sent and always shows the fallback.  A delivered image is decoded from
the *received* bits; a BPG decoding error (impossible for correct bits, but never fatal)
also yields the fallback.  ``receiver_s`` is the image's share of the batched
demap+decode time plus its own BPG decoding time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from baselines.ldpc_link import CN_UPDATES, DECODERS, LdpcLink, shared_link
from baselines.ldpc_tb import Segmentation, payload_from_blocks, segment, tb_bits
from bpg_tools import BPGCodec, BPGDecodeError, BPGError, EncodedImage, get_codec, to_uint8_rgb
from simulator.channels import ChannelOutput
from simulator.csi import capacity_bits, demapper_input
from simulator.registry import register_scheme
from simulator.schemes.base import Reception, Scheme, Transmission

__all__ = [
    "FALLBACK_VALUE",
    "LdpcTransmission",
    "fallback_image",
    "BpgLdpcHalf",
    "BpgLdpcThreeQuarter",
    "BpgCapacity",
]

#: Pixel value of the fallback image shown when an image is lost.
FALLBACK_VALUE = 0.5
_BITS_PER_SYMBOL = 2


def fallback_image(height: int, width: int) -> torch.Tensor:
    """The lost-image display: ``[3, H, W]`` filled with :data:`FALLBACK_VALUE`."""
    return torch.full((3, height, width), FALLBACK_VALUE, dtype=torch.float32)


def _parse_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "on", "true", "yes"):
        return True
    if v in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"option {name} must be on or off, got {value!r}")


# --------------------------------------------------------------------------- schemes
@dataclass
class LdpcTransmission:
    """What :meth:`_BpgLdpc.encode` returns for one image (SNR independent).

    :ivar encoded: the BPG payload chosen for the budget.
    :ivar seg: the transport-block segmentation.
    :ivar info: ``[C, k]`` float {0,1} info bits (payload, padding, CRCs).
    :ivar symbols: ``[n]`` complex64 transmitted symbols (Es = 1); empty when nothing is sent.
    """

    encoded: EncodedImage
    seg: Segmentation
    info: torch.Tensor
    symbols: torch.Tensor


class _BpgCodecScheme(Scheme):
    """Shared option handling for the BPG schemes."""

    _codec_options: ClassVar[dict[str, tuple[str, str]]] = {
        "backend": ("auto", "BPG backend: auto | heif (pillow-heif) | bpg (bpgenc/bpgdec)"),
        "chroma": ("420", "chroma format of the BPG encoding: 420 (bpgenc's default) | 422 | 444"),
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        try:
            self.codec: BPGCodec = get_codec(self.options["backend"], self.options["chroma"])
        except BPGError as exc:  # bad backend/chroma value: a one-line option error
            raise ValueError(f"scheme {self.name!r}: {exc}") from None

    def versions(self) -> dict[str, str]:
        import numba
        import sionna

        return {"sionna": str(sionna.__version__), "torch": torch.__version__, "numba": numba.__version__,
                **self.codec.info()}

    def _decode_or_fallback(self, payload: bytes, height: int, width: int) -> tuple[torch.Tensor, str | None]:
        try:
            image = self.codec.decode(payload)
        except BPGDecodeError as exc:
            return fallback_image(height, width), str(exc)
        if image.shape[-2:] != (height, width):
            return fallback_image(height, width), f"decoded size {tuple(image.shape[-2:])} != {(height, width)}"
        return image, None


class _BpgLdpc(_BpgCodecScheme):
    """BPG + 5G LDPC (rate :attr:`rate`) + 4-QAM; see the module docstring."""

    rate: ClassVar[float] = 0.5
    implementation_version: ClassVar[int] = 2  # 2: TB/CB CRCs charged, payload-block delivery rule
    options_help: ClassVar[dict[str, tuple[str, str]]] = {
        **_BpgCodecScheme._codec_options,
        "decoder": ("flooding", "BP decoder: flooding (numba, matches Sionna) | layered (numba, stronger) "
                                "| sionna (Sionna LDPC5GDecoder, reference)"),
        "iters": ("50", "maximum BP decoder iterations"),
        "early_stop": ("on", "stop a block once decoded (syndrome; decoder=sionna: info bits every 2 it.): on | off"),
        "cn": ("boxplus-phi", "check-node rule of decoder=sionna: boxplus-phi | boxplus | minsum | offset-minsum"),
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.decoder = self.options["decoder"]
        if self.decoder not in DECODERS:
            raise ValueError(f"option decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        try:
            self.num_iter = int(self.options["iters"])
        except ValueError:
            raise ValueError(f"option iters must be an integer >= 1, got {self.options['iters']!r}") from None
        if self.num_iter < 1:
            raise ValueError(f"option iters must be an integer >= 1, got {self.options['iters']!r}")
        self.cn_update = self.options["cn"]
        if self.cn_update not in CN_UPDATES:
            raise ValueError(f"option cn must be one of {', '.join(CN_UPDATES)}, got {self.cn_update!r}")
        if self.decoder != "sionna" and self.cn_update != "boxplus-phi":
            raise ValueError(f"option cn={self.cn_update} needs decoder=sionna; flooding and layered are exact boxplus")
        self.early_stop = _parse_bool(self.options["early_stop"], "early_stop")

    def config(self) -> dict[str, Any]:
        return super().config() | {
            "rate": self.rate,
            "modulation": "4-QAM Gray (Sionna Mapper qam 2)",
            "code": "5G NR LDPC (Sionna LDPC5GEncoder)",
            "decoder": self.decoder,
            "decoder_iterations": self.num_iter,
            "cn_update": self.cn_update,
            "early_termination": "on" if self.early_stop else "off",
            "transport_block": "TS 38.212: TB CRC24A (CRC16 if A <= 3824), CB CRC24B if C > 1, charged to the budget",
            "delivery": "every code block carrying payload decodes (genie = block CRC)",
            "fallback": f"constant grey {FALLBACK_VALUE}",
            "codec": self.codec.backend,
            "chroma": self.options["chroma"],
        }

    def segmentation(self, height: int, width: int) -> Segmentation:
        """The code blocks for an ``H×W`` image."""
        return segment(self.channel_uses(height, width), self.rate, _BITS_PER_SYMBOL)

    def link(self, seg: Segmentation) -> LdpcLink:
        """The (shared) LDPC link for a segmentation."""
        return shared_link(seg.k, seg.n_cb, decoder=self.decoder, num_iter=self.num_iter,
                           early_stop=self.early_stop, cn_update=self.cn_update,
                           bits_per_symbol=seg.bits_per_symbol)

    def encode(self, image: torch.Tensor) -> LdpcTransmission:
        """BPG at the payload budget A, transport block with CRCs, LDPC-encode, map to n symbols.

        :param image: ``[3, H, W]`` float in [0, 1].
        """
        h, w = image.shape[-2:]
        seg = self.segmentation(h, w)
        enc = self.codec.encode_to_budget(image, seg.payload_bits)
        if enc.empty:
            return LdpcTransmission(enc, seg, torch.zeros(0, seg.k), torch.zeros(0, dtype=torch.complex64))
        link = self.link(seg)
        info = tb_bits(enc.payload, seg)
        coded = link.encode(info).reshape(-1)
        pad = torch.zeros(seg.bits_per_symbol * seg.pad_symbols)
        symbols = link.modulate(torch.cat([coded, pad])).to(torch.complex64)
        return LdpcTransmission(enc, seg, info, symbols)

    def symbols(self, encoded: LdpcTransmission) -> torch.Tensor:
        """The n 4-QAM symbols of the code blocks (+ known pad symbols), ``[0]`` if nothing fits."""
        return encoded.symbols

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        return self.receive_batch([(tx, rx)])[0]

    def receive_batch(self, pairs: list[tuple[Transmission, ChannelOutput]]) -> list[Reception]:
        """All code blocks of all images with the same segmentation go through one decoder call."""
        items = [tx for tx, _ in pairs]
        out: list[Reception | None] = [None] * len(items)
        groups: dict[Segmentation, list[int]] = {}
        for i, item in enumerate(items):
            tx: LdpcTransmission = item.encoded
            if tx.encoded.empty:
                h, w = item.image.shape[-2:]
                out[i] = Reception(fallback_image(h, w), 0.0, self._extras(tx, False, None, "nothing fits the budget"))
            else:
                groups.setdefault(tx.seg, []).append(i)
        for seg, idx in groups.items():
            link = self.link(seg)
            t0 = time.perf_counter()
            llrs = []
            used = seg.coded_bits // seg.bits_per_symbol
            for i in idx:
                y, no = demapper_input(pairs[i][1])
                llr = link.demodulate(y[:used], no if isinstance(no, float) else no[:used])
                llrs.append(llr.reshape(seg.num_blocks, seg.n_cb))
            demap_s = time.perf_counter() - t0
            result = link.decode(torch.cat(llrs), torch.cat([items[i].encoded.info for i in idx]))
            share = (demap_s + result.seconds) / len(idx)
            for j, i in enumerate(idx):
                tx = items[i].encoded
                h, w = items[i].image.shape[-2:]
                rows = slice(j * seg.num_blocks, (j + 1) * seg.num_blocks)
                ok = result.ok[rows]
                carrying = torch.from_numpy(seg.payload_blocks(tx.encoded.bits))
                t1 = time.perf_counter()
                error = None
                if bool(ok[carrying].all()):
                    image, error = self._decode_or_fallback(payload_from_blocks(result.bits[rows], seg), h, w)
                    delivered = error is None
                else:
                    image, delivered = fallback_image(h, w), False
                blocks = (int((~ok).sum()), int((~ok & carrying).sum()), float(result.iterations[rows].float().mean()))
                out[i] = Reception(image, share + time.perf_counter() - t1, self._extras(tx, delivered, blocks, error))
        return [r for r in out if r is not None]

    def _extras(self, tx: LdpcTransmission, delivered: bool, blocks: tuple[int, int, float] | None,
                error: str | None) -> dict[str, Any]:
        seg = tx.seg
        carrying = int(seg.payload_blocks(tx.encoded.bits).sum())
        extras: dict[str, Any] = {
            "delivered": delivered,
            "payload_bits": tx.encoded.bits,
            "budget_bits": seg.payload_bits,
            "crc_bits": seg.num_blocks * seg.cb_crc_bits + seg.tb_crc_bits,
            "qp": tx.encoded.qp,
            "code_blocks": seg.num_blocks,
            "payload_blocks": carrying,
            "block_k": seg.k,
            "block_n": seg.n_cb,
            "block_errors": seg.num_blocks if blocks is None else blocks[0],
            "payload_block_errors": carrying if blocks is None else blocks[1],
            "mean_iterations": 0.0 if blocks is None else blocks[2],
        }
        if error:
            extras["error"] = error
        return extras


@register_scheme("bpg-ldpc-1/2")
class BpgLdpcHalf(_BpgLdpc):
    """BPG + rate-1/2 5G LDPC + 4-QAM."""

    description = "BPG + 5G NR LDPC rate 1/2 + 4-QAM (TB + CB CRCs), lost image → grey fallback"
    rate = 0.5


@register_scheme("bpg-ldpc-3/4")
class BpgLdpcThreeQuarter(_BpgLdpc):
    """BPG + rate-3/4 5G LDPC + 4-QAM."""

    description = "BPG + 5G NR LDPC rate 3/4 + 4-QAM (TB + CB CRCs), lost image → grey fallback"
    rate = 0.75


@dataclass
class CapacityTransmission:
    """What :meth:`BpgCapacity.encode` returns.

    :ivar image: ``[3, H, W]`` uint8, the source quantised to 8 bits.
    :ivar n_symbols: complex channel uses n of the image.
    """

    image: torch.Tensor
    n_symbols: int


@register_scheme("bpg-capacity")
class BpgCapacity(_BpgCodecScheme):
    """BPG at the capacity budget of the image's channel realisation, delivered error-free.

    Bound for separate source/channel coding: no channel code can carry more bits
    reliably.  The budget is ``floor(n·log2(1 + SNR))`` over AWGN and
    ``floor(Σ_i log2(1 + |h_i|²·SNR))`` under fading (:func:`simulator.csi.capacity_bits`:
    the transmitter is granted the receiver's CSI).  Nothing is sent; the receiver uses only
    the CSI.  The rate search runs in :meth:`receive` (the budget depends on the channel) and
    is cached per (image, QP).
    """

    description = "BPG at the Shannon budget n·log2(1+SNR), error-free (separate-coding bound)"
    options_help: ClassVar[dict[str, tuple[str, str]]] = dict(_BpgCodecScheme._codec_options)

    def config(self) -> dict[str, Any]:
        return super().config() | {
            "budget": "floor(n*log2(1+10^(snr/10))) bits, error-free",
            "fallback": f"constant grey {FALLBACK_VALUE}",
            "codec": self.codec.backend,
            "chroma": self.options["chroma"],
        }

    @staticmethod
    def budget_bits(n_symbols: int, snr_db: float) -> int:
        """``floor(n·log2(1 + 10^(snr_db/10)))``."""
        return int(math.floor(n_symbols * math.log2(1.0 + 10.0 ** (snr_db / 10.0))))

    def encode(self, image: torch.Tensor) -> CapacityTransmission:
        """Keep the 8-bit image (the budget is only known per SNR)."""
        h, w = image.shape[-2:]
        q = torch.from_numpy(to_uint8_rgb(image)).permute(2, 0, 1).contiguous()
        return CapacityTransmission(q, self.channel_uses(h, w))

    def symbols(self, encoded: CapacityTransmission) -> torch.Tensor:
        """Nothing is sent (a bound): ``[0]``."""
        return torch.zeros(0, dtype=torch.complex64)

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        cap: CapacityTransmission = tx.encoded
        h, w = cap.image.shape[-2:]
        if rx.fading:
            budget = int(math.floor(capacity_bits(rx)))
        else:
            budget = self.budget_bits(cap.n_symbols, rx.snr_db)
        enc = self.codec.encode_to_budget(cap.image, budget)
        t0 = time.perf_counter()
        error = None
        if enc.empty:
            image, delivered = fallback_image(h, w), False
        else:
            image, error = self._decode_or_fallback(enc.payload, h, w)
            delivered = error is None
        extras: dict[str, Any] = {"delivered": delivered, "payload_bits": enc.bits, "budget_bits": budget, "qp": enc.qp}
        if error:
            extras["error"] = error
        return Reception(image, time.perf_counter() - t0, extras)
