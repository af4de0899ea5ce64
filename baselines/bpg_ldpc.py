"""Classical separate link: BPG source coding + 5G NR LDPC + QAM over the shared channel.

Schemes
-------
``bpg-ldpc-1/2``, ``bpg-ldpc-3/4``, ``bpg-ldpc:rate=R:qam=M``
    The paper's two 4-QAM links and the family of every MCS (R ∈ :data:`MCS_RATES`,
    M ∈ :data:`MCS_QAMS`, Gray M-QAM, Es = 1; the 4-QAM rates 1/2 and 3/4 *are* the paper's
    schemes).  Aliases: ``bpg-ldpc`` (the paper's pair), ``bpg-ldpc-all`` (all 15) and
    ``bpg-ldpc-best`` (all 15 and their envelope, the best MCS per SNR, in the summary).
    BPG payload (see :mod:`bpg_tools`, 4:2:0 like ``bpgenc``) → 5G transport block with
    CRCs (:mod:`baselines.ldpc_tb`) → 5G LDPC (Sionna ``LDPC5GEncoder``) → Gray M-QAM
    (Sionna ``Mapper("qam", log2 M)``, Es = 1) → the sweep's channel (``y = h·x + sqrt(N0)·w``,
    h = 1 over AWGN) → ``Demapper("app", "qam", log2 M)`` on the zero-forced ``y/h`` with the
    per-symbol noise variance ``no = N0/|h|²`` (exact LLRs; ``y`` and ``no = N0`` over AWGN,
    :func:`simulator.channels.demapper_input`) → BP decoder (:mod:`baselines.ldpc_link`: numba
    flooding by default, 50 iterations with syndrome early stop) → BPG decoder.  Each code
    block gets 5G's bit interleaver for its QAM order (TS 38.212 §5.4.2.2, Sionna's
    ``num_bits_per_symbol``) and no other interleaving: block j is sent on consecutive
    channel uses.
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
from fractions import Fraction
from typing import Any, ClassVar

import torch

from baselines import ldpc_decoder
from baselines.ldpc_link import CN_UPDATES, DECODERS, LdpcLink, shared_link
from baselines.ldpc_tb import Segmentation, payload_from_blocks, segment, tb_bits
from bpg_tools import BPGCodec, BPGDecodeError, BPGError, EncodedImage, get_codec, to_uint8_rgb
from simulator.channels import ChannelOutput, capacity_bits, demapper_input
from simulator.options import Option
from simulator.registry import register_alias, register_scheme
from simulator.schemes.base import Reception, Scheme, Transmission

__all__ = [
    "FALLBACK_VALUE",
    "LdpcTransmission",
    "fallback_image",
    "BpgLdpcHalf",
    "BpgLdpcThreeQuarter",
    "BpgLdpcMcs",
    "MCS_RATES",
    "MCS_QAMS",
    "PAPER_MCS",
    "mcs_specs",
    "mcs_of",
    "BpgCapacity",
]

#: Pixel value of the fallback image shown when an image is lost.
FALLBACK_VALUE = 0.5


def fallback_image(height: int, width: int) -> torch.Tensor:
    """The lost-image display: ``[3, H, W]`` filled with :data:`FALLBACK_VALUE`."""
    return torch.full((3, height, width), FALLBACK_VALUE, dtype=torch.float32)


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

    options_schema: ClassVar[dict[str, Option]] = {
        "backend": Option("auto", "BPG backend: heif (pillow-heif), bpg (bpgenc/bpgdec) or auto",
                          choices=("auto", "heif", "bpg")),
        "chroma": Option("420", "chroma format of the BPG encoding (420: bpgenc's default)",
                         choices=("420", "422", "444")),
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
    """BPG + 5G LDPC (rate :attr:`rate`) + Gray QAM (:attr:`bits_per_symbol`); see the module docstring."""

    rate: Fraction = Fraction(1, 2)
    bits_per_symbol: int = 2
    implementation_version: ClassVar[int] = 2  # 2: TB/CB CRCs charged, payload-block delivery rule
    options_schema: ClassVar[dict[str, Option]] = {
        **_BpgCodecScheme.options_schema,
        "decoder": Option("flooding", "BP decoder: flooding (numba, matches Sionna), layered (numba, "
                                      "stronger) or sionna (Sionna LDPC5GDecoder, the reference)", choices=DECODERS),
        "iters": Option("50", "maximum BP decoder iterations", kind="int", minimum=1),
        "early_stop": Option("on", "stop a block once decoded (syndrome; decoder=sionna: info bits every 2 it.)",
                             kind="bool"),
        "cn": Option("boxplus-phi", "check-node rule of decoder=sionna", choices=CN_UPDATES),
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.decoder: str = self.values["decoder"]
        self.num_iter: int = self.values["iters"]
        self.cn_update: str = self.values["cn"]
        if self.decoder != "sionna" and self.cn_update != "boxplus-phi":
            raise ValueError(f"scheme {self.name!r}: cn={self.cn_update} needs decoder=sionna; "
                             "flooding and layered are exact boxplus")
        self.early_stop: bool = self.values["early_stop"]
        if self.decoder != "sionna":
            ldpc_decoder.warm_up()  # numba compilation now, not in the first row's receiver_ms

    def config(self) -> dict[str, Any]:
        return super().config() | {
            "rate": float(self.rate),
            "modulation": f"{2 ** self.bits_per_symbol}-QAM Gray (Sionna Mapper qam {self.bits_per_symbol})",
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
        return segment(self.channel_uses(height, width), self.rate, self.bits_per_symbol)

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
        """The n QAM symbols of the code blocks (+ known pad symbols), ``[0]`` if nothing fits."""
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
    rate = Fraction(1, 2)


@register_scheme("bpg-ldpc-3/4")
class BpgLdpcThreeQuarter(_BpgLdpc):
    """BPG + rate-3/4 5G LDPC + 4-QAM."""

    description = "BPG + 5G NR LDPC rate 3/4 + 4-QAM (TB + CB CRCs), lost image → grey fallback"
    rate = Fraction(3, 4)


#: Code rates of the ``bpg-ldpc:rate=R:qam=M`` family (5G LDPC base graphs 1/2 cover them all).
MCS_RATES: dict[str, Fraction] = {r: Fraction(r) for r in ("1/3", "1/2", "2/3", "3/4", "5/6")}
#: QAM orders of the family (Sionna Gray QAM: 2, 4, 6 bits per symbol).
MCS_QAMS: tuple[str, ...] = ("4", "16", "64")
#: The paper's two links inside the family: (rate, QAM order) → their scheme names.
PAPER_MCS: dict[tuple[str, str], str] = {("1/2", "4"): "bpg-ldpc-1/2", ("3/4", "4"): "bpg-ldpc-3/4"}


@register_scheme("bpg-ldpc")
class BpgLdpcMcs(_BpgLdpc):
    """BPG + 5G LDPC at any rate of :data:`MCS_RATES` + any QAM of :data:`MCS_QAMS`.

    The 4-QAM rates 1/2 and 3/4 are the paper's ``bpg-ldpc-1/2`` and ``bpg-ldpc-3/4``: the
    registry rewrites those specs to these names (:meth:`named_variant`), so they share one
    result file.  Bare ``bpg-ldpc`` (no options) is the alias for that pair.
    """

    description = "BPG + 5G NR LDPC rate R + M-QAM, any MCS (bpg-ldpc:rate=R:qam=M; bare: the paper's pair)"
    options_schema: ClassVar[dict[str, Option]] = {
        "rate": Option(None, "LDPC code rate", choices=tuple(MCS_RATES)),
        "qam": Option(None, "QAM order (Gray mapping)", choices=MCS_QAMS),
        **_BpgLdpc.options_schema,
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.rate = MCS_RATES[self.values["rate"]]
        self.bits_per_symbol = int(self.values["qam"]).bit_length() - 1

    @classmethod
    def named_variant(cls, options: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        """4-QAM at rate 1/2 or 3/4 → ``bpg-ldpc-1/2`` / ``bpg-ldpc-3/4`` (:data:`PAPER_MCS`) with the other options."""
        name = PAPER_MCS.get((options.get("rate", ""), options.get("qam", "")))
        if name is None:
            return None
        return name, {k: v for k, v in options.items() if k not in ("rate", "qam")}


def mcs_specs() -> list[str]:
    """Every MCS of the family as canonical specs, 4-QAM rate 1/2 and 3/4 under their paper names."""
    return [PAPER_MCS.get((r, q), f"bpg-ldpc:rate={r}:qam={q}") for q in MCS_QAMS for r in MCS_RATES]


def mcs_of(spec: str) -> tuple[Fraction, int]:
    """(code rate, QAM order) of a spec of the family, other options allowed:
    ``bpg-ldpc-1/2`` → (1/2, 4), ``bpg-ldpc:rate=2/3:qam=16:decoder=layered`` → (2/3, 16)."""
    name, *opts = spec.split(":")
    options = dict(opt.split("=", 1) for opt in opts)
    by_name = {named: mcs for mcs, named in PAPER_MCS.items()}
    rate, qam = by_name.get(name) or (options["rate"], options["qam"])
    return MCS_RATES[rate], int(qam)


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
    ``floor(Σ_i log2(1 + |h_i|²·SNR))`` under fading (:func:`simulator.channels.capacity_bits`:
    the transmitter is granted the receiver's CSI).  Nothing is sent; the receiver uses only
    the CSI.  The rate search runs in :meth:`receive` (the budget depends on the channel) and
    is cached per (image, QP).
    """

    description = "BPG at the Shannon budget n·log2(1+SNR), error-free (separate-coding bound)"

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


register_alias("bpg-ldpc", tuple(PAPER_MCS.values()))
register_alias("bpg-ldpc-all", tuple(mcs_specs()))
register_alias("bpg-ldpc-best", tuple(mcs_specs()), envelope=True)
