"""Classical separate link: BPG source coding + 5G NR LDPC + 4-QAM over the shared AWGN.

Schemes
-------
``bpg-ldpc-1/2``, ``bpg-ldpc-3/4``
    BPG payload (see :mod:`bpg_tools`) → 5G LDPC (Sionna ``LDPC5GEncoder``) → Gray 4-QAM
    (Sionna ``Mapper("qam", 2)``, Es = 1) → the sweep's channel (``y = h·x + sqrt(N0)·w``,
    h = 1 over AWGN) → ``Demapper("app", "qam", 2)`` on the zero-forced ``y/h`` with the
    per-symbol noise variance ``no = N0/|h|²`` (exact LLRs; ``y`` and ``no = N0`` over AWGN,
    :func:`simulator.csi.demapper_input`) → ``LDPC5GDecoder`` (belief propagation) → BPG
    decoder.  No interleaver: code block j is sent on consecutive channel uses.
``bpg-capacity``
    BPG at the budget ``floor(Σ_i log2(1 + |h_i|²·SNR))`` bits of the image's own channel
    realisation (``floor(n·log2(1 + SNR))`` over AWGN), delivered error-free: the upper bound of
    any separate source/channel scheme on this channel (for one fading block per image the
    outage-aware bound, BPG at log2(1 + |h|²·SNR) bits per use for that image's h).

Segmentation (one image = one transport block)
----------------------------------------------
With n complex channel uses (``Scheme.channel_uses``, ρ = 1/16 → n = 3HW/16) and rate R:

* coded bits ``N = 2n`` (4-QAM), nominal info budget ``B = floor(N·R)``;
* ``C = ceil(B / 8448)`` code blocks (8448 = 5G's largest LDPC block, base graph 1);
* every block gets ``s = floor(n / C)`` symbols, i.e. ``n_cb = 2s`` coded bits, and
  ``k = floor(n_cb·R)`` info bits; all blocks are identical, so every block of every
  image of one size shares one encoder/decoder and one batched decoder call;
* the BPG budget is ``C·k`` bits (at most C bits below B); the payload is padded with
  zero bits to ``C·k``, and the ``n − C·s`` (< C) spare channel uses carry known 4-QAM
  symbols so Es = 1 exactly.

768×512 (n = 73 728): R = 1/2 → C = 9, k = 8192, n_cb = 16 384, budget 73 728 bits;
R = 3/4 → C = 14, k = 7899, n_cb = 10 532, budget 110 586 bits, 4 spare symbols.

Reception, failure and fallback
-------------------------------
Every code block's decoded info bits are compared with the sent ones (a genie check
that stands in for the per-block CRC of 5G).  If any block of an image is wrong the
image is lost: the receiver shows the **fallback, a constant mid-grey image (0.5)**, and
``extras["delivered"]`` is ``False``.  An empty encoding (even BPG QP 51 exceeds the
budget) is never sent and always shows the fallback.  A delivered image is decoded
from the *received* bits; a BPG decoding error (impossible for correct bits, but never
fatal) also yields the fallback.  ``receiver_s`` is the image's share of the batched
demap+decode time plus its own BPG decoding time.

Decoder choices (measured with ``benchmarks/bench_ldpc.py``, 768×512 code shapes, 9 blocks)
-------------------------------------------------------------------------------------------
Throughput below is info Mbit/s per CPU-second, one torch thread (wall times on the
shared machine varied several-fold with other processes' load).

* ``cn=boxplus-phi`` (Sionna's default, exact sum-product, numerically robust): 0.055
  (R = 1/2) and 0.145 (R = 3/4) info Mbit/s/CPU-s for 20 full iterations.  ``boxplus``
  (tanh form) gave identical block errors at every tested SNR and is 1.13–1.23× faster
  (pass ``cn=boxplus``).  ``minsum`` is only 1.04–1.16× faster (the decoder is bound by
  gather/scatter memory traffic, not check-node arithmetic) and its waterfall sits
  ~0.7 dB (R = 1/2) / ~0.4 dB (R = 3/4) to the right (9 blocks at 1.70 dB, R = 1/2:
  BLER 0.89 vs 0.00), so it is not used.
* ``iters=20`` flooding iterations (Sionna's default): waterfalls near 1.0 dB (R = 1/2)
  and 4.0 dB (R = 3/4) for the 768×512 blocks; the tests check 1.2 dB and 4.3 dB for
  n = 7680.  ``iters=50`` moves them ~0.3–0.5 dB to the left (R = 1/2: BLER 0.00 at
  0.70 dB where 20 iterations give 1.00; R = 3/4: 0.00 at 3.80 dB vs 1.00).  With early
  termination the extra iterations cost nothing above the waterfall (same throughput
  measured), but 2.5× below it, where every block runs to the limit; pass ``iters=50``
  for the stronger baseline.
* CRC-aided early termination (``early_stop=on``): decoding runs in chunks of 2
  iterations; a block stops as soon as its info bits are correct (what a receiver
  checking the 5G code-block CRC does).  The decoder state is carried between chunks
  (flooding BP restarts exactly from its variable-to-check messages; tested), so a
  block that needs all iterations is decoded exactly as without chunking.  1 dB above
  the waterfall blocks need ~8–9 iterations: 2.2–2.3× the throughput; at high SNR 2–4
  iterations: roughly 5–10×.
* ``compile=off`` by default.  ``compile=on`` wraps the decoder in ``torch.compile``:
  1.5–2× faster per iteration on CPU, but the 2-iteration graph took 83–138 s to
  compile per code shape on the shared 2-core machine, and an unchunked 20-iteration
  graph did not finish compiling in 10 min.
* An edge-list rewrite of the BP kernels (no padded gather/scatter) gave the same
  decisions at only 1.4–1.6× the speed, so Sionna's decoder is used unmodified.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from bpg_tools import BPGCodec, BPGDecodeError, EncodedImage, get_codec, to_uint8_rgb
from simulator.channels import ChannelOutput
from simulator.csi import capacity_bits, demapper_input
from simulator.registry import register_scheme
from simulator.schemes.base import Reception, Scheme, Transmission

__all__ = [
    "K_MAX",
    "FALLBACK_VALUE",
    "Segmentation",
    "segment",
    "LdpcLink",
    "BlockDecodeResult",
    "fallback_image",
    "BpgLdpcHalf",
    "BpgLdpcThreeQuarter",
    "BpgCapacity",
]

#: Largest 5G NR LDPC code block (base graph 1), in info bits.
K_MAX = 8448
#: Pixel value of the fallback image shown when an image is lost.
FALLBACK_VALUE = 0.5
_BITS_PER_SYMBOL = 2
_CN_UPDATES = ("boxplus-phi", "boxplus", "minsum", "offset-minsum")


def fallback_image(height: int, width: int) -> torch.Tensor:
    """The lost-image display: ``[3, H, W]`` filled with :data:`FALLBACK_VALUE`."""
    return torch.full((3, height, width), FALLBACK_VALUE, dtype=torch.float32)


# --------------------------------------------------------------------------- segmentation
@dataclass(frozen=True)
class Segmentation:
    """How one image's channel uses are split into identical LDPC code blocks.

    :ivar n_symbols: complex channel uses n of the image.
    :ivar rate: nominal code rate R.
    :ivar num_blocks: C.
    :ivar k: info bits per block.
    :ivar n_cb: coded bits per block (even: whole 4-QAM symbols).
    """

    n_symbols: int
    rate: float
    num_blocks: int
    k: int
    n_cb: int

    @property
    def info_bits(self) -> int:
        """The BPG bit budget: ``C·k``."""
        return self.num_blocks * self.k

    @property
    def coded_bits(self) -> int:
        """``C·n_cb`` ≤ 2n."""
        return self.num_blocks * self.n_cb

    @property
    def pad_symbols(self) -> int:
        """Channel uses left over after the code blocks (carry known symbols)."""
        return self.n_symbols - self.coded_bits // _BITS_PER_SYMBOL


def segment(n_symbols: int, rate: float) -> Segmentation:
    """Split n complex channel uses at code rate ``rate`` into C identical 5G LDPC blocks.

    :raises ValueError: when n is too small for even one short block.
    """
    coded = _BITS_PER_SYMBOL * int(n_symbols)
    budget = math.floor(coded * rate)
    if budget < 1:
        raise ValueError(f"{n_symbols} channel uses carry no info bits at rate {rate}")
    blocks = math.ceil(budget / K_MAX)
    n_cb = _BITS_PER_SYMBOL * (int(n_symbols) // blocks)
    k = math.floor(n_cb * rate)
    if k < 12 or k >= n_cb:
        raise ValueError(f"segmentation of {n_symbols} channel uses at rate {rate} gives k={k}, n={n_cb}")
    return Segmentation(int(n_symbols), float(rate), blocks, k, n_cb)


# --------------------------------------------------------------------------- LDPC link
@dataclass
class BlockDecodeResult:
    """Outcome of decoding a batch of code blocks.

    :ivar ok: ``[N]`` bool, info bits all correct.
    :ivar iterations: ``[N]`` int, BP iterations spent (max when not converged).
    :ivar bits: ``[N, k]`` float {0, 1}, the decoded info bits.
    :ivar seconds: wall time of the decoding.
    """

    ok: torch.Tensor
    iterations: torch.Tensor
    bits: torch.Tensor
    seconds: float


class LdpcLink:
    """5G LDPC + Gray 4-QAM for one code shape (k, n_cb), built on Sionna.

    :param k: info bits per block (≤ 8448).
    :param n_cb: coded bits per block (even).
    :param cn_update: Sionna check-node rule (``boxplus-phi``, ``boxplus``, ``minsum``,
        ``offset-minsum``).
    :param num_iter: maximum BP iterations.
    :param chunk: iterations between early-termination checks (0 = no early stop).
    :param compile: wrap the decoder in ``torch.compile``.
    """

    def __init__(self, k: int, n_cb: int, cn_update: str = "boxplus-phi", num_iter: int = 20,
                 chunk: int = 2, compile: bool = False) -> None:
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import Demapper, Mapper

        if cn_update not in _CN_UPDATES:
            raise ValueError(f"cn_update must be one of {_CN_UPDATES}, got {cn_update!r}")
        self.k, self.n_cb, self.num_iter = int(k), int(n_cb), int(num_iter)
        self.chunk = int(chunk) if chunk and chunk < num_iter else int(num_iter)
        self.early_stop = bool(chunk) and self.chunk < self.num_iter
        self.encoder = LDPC5GEncoder(self.k, self.n_cb, num_bits_per_symbol=_BITS_PER_SYMBOL)
        self.decoder = LDPC5GDecoder(self.encoder, cn_update=cn_update, num_iter=self.chunk,
                                     hard_out=True, return_infobits=True, return_state=True)
        self.mapper = Mapper("qam", _BITS_PER_SYMBOL)
        self.demapper = Demapper("app", "qam", _BITS_PER_SYMBOL)
        self.compiled = False
        self._decode_fn: Any = self.decoder
        if compile:
            try:
                self._decode_fn = torch.compile(self.decoder, dynamic=True)
                self.compiled = True
            except Exception:  # no compiler toolchain: stay eager
                self._decode_fn = self.decoder

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        """``[N, k]`` float {0,1} info bits → ``[N, n_cb]`` coded bits."""
        return self.encoder(bits.float())

    def modulate(self, coded: torch.Tensor) -> torch.Tensor:
        """``[..., 2m]`` bits → ``[..., m]`` complex64 Gray 4-QAM symbols, Es = 1."""
        return self.mapper(coded.float())

    def demodulate(self, y: torch.Tensor, no: float | torch.Tensor) -> torch.Tensor:
        """``[..., m]`` received symbols → ``[..., 2m]`` logits log(P(1)/P(0)) (Sionna's convention).

        :param no: the noise variance per complex symbol: a number, or ``[..., m]`` per symbol.
        """
        return self.demapper(y, torch.as_tensor(no, dtype=torch.float32))

    def _run(self, llr: torch.Tensor, steps: int, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        pad = 0
        if self.compiled and llr.shape[0] == 1:  # avoid a size-1 specialisation recompile
            pad = 1
            llr = torch.cat([llr, llr])
            state = None if state is None else torch.cat([state, state])
        try:
            u_hat, state = self._decode_fn(llr, num_iter=steps, msg_v2c=state)
        except Exception:
            if not self.compiled:
                raise
            self.compiled, self._decode_fn = False, self.decoder  # compile failed: eager from now on
            u_hat, state = self.decoder(llr, num_iter=steps, msg_v2c=state)
        if pad:
            u_hat, state = u_hat[:1], state[:1]
        return u_hat, state

    def decode(self, llr: torch.Tensor, sent: torch.Tensor) -> BlockDecodeResult:
        """BP-decode a batch of blocks with CRC-aided (genie) early termination.

        :param llr: ``[N, n_cb]`` channel logits.
        :param sent: ``[N, k]`` the transmitted info bits (the CRC's knowledge).
        """
        t0 = time.perf_counter()
        n = llr.shape[0]
        ok = torch.zeros(n, dtype=torch.bool)
        iterations = torch.full((n,), self.num_iter, dtype=torch.int32)
        bits = torch.zeros(n, self.k)
        active = torch.arange(n)
        state: torch.Tensor | None = None
        done = 0
        with torch.no_grad():
            while done < self.num_iter and active.numel():
                steps = min(self.chunk, self.num_iter - done)
                u_hat, state = self._run(llr[active], steps, state)
                done += steps
                good = (u_hat == sent[active]).all(dim=1)
                bits[active] = u_hat.float()
                if self.early_stop or done >= self.num_iter:
                    ok[active[good]] = True
                    iterations[active[good]] = done
                    keep = ~good
                    active, state = active[keep], state[keep]
        return BlockDecodeResult(ok, iterations, bits, time.perf_counter() - t0)


_LINKS: dict[tuple[Any, ...], LdpcLink] = {}
_LINKS_LOCK = threading.Lock()


def _link(k: int, n_cb: int, cn_update: str, num_iter: int, chunk: int, compile: bool) -> LdpcLink:
    key = (k, n_cb, cn_update, num_iter, chunk, compile)
    with _LINKS_LOCK:
        if key not in _LINKS:
            _LINKS[key] = LdpcLink(k, n_cb, cn_update, num_iter, chunk, compile)
        return _LINKS[key]


def _bytes_to_bits(data: bytes, length: int) -> torch.Tensor:
    """MSB-first bits of ``data``, zero-padded to ``length``: ``[length]`` float32."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)) if data else np.zeros(0, np.uint8)
    if bits.size > length:
        raise ValueError(f"{bits.size} payload bits exceed the {length}-bit budget")
    out = np.zeros(length, dtype=np.float32)
    out[: bits.size] = bits
    return torch.from_numpy(out)


def _bits_to_bytes(bits: torch.Tensor) -> bytes:
    b = bits.flatten().round().clamp(0, 1).to(torch.uint8).numpy()
    return np.packbits(b[: b.size - b.size % 8]).tobytes()


def _parse_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "on", "true", "yes"):
        return True
    if v in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"option {name} must be on/off, got {value!r}")


# --------------------------------------------------------------------------- schemes
@dataclass
class LdpcTransmission:
    """What :meth:`_BpgLdpc.encode` returns for one image (SNR independent).

    :ivar encoded: the BPG payload chosen for the budget.
    :ivar seg: the code-block segmentation.
    :ivar info: ``[C, k]`` float {0,1} info bits (payload + zero padding).
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
        "chroma": ("444", "chroma format of the BPG encoding: 444 | 422 | 420"),
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.codec: BPGCodec = get_codec(self.options["backend"], self.options["chroma"])

    def versions(self) -> dict[str, str]:
        import sionna

        return {"sionna": str(sionna.__version__), "torch": torch.__version__, **self.codec.info()}

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
    options_help: ClassVar[dict[str, tuple[str, str]]] = {
        **_BpgCodecScheme._codec_options,
        "iters": ("20", "maximum BP decoder iterations"),
        "cn": ("boxplus-phi", "check-node update: boxplus-phi | boxplus | minsum | offset-minsum"),
        "early_stop": ("on", "CRC-aided early termination, checked every 2 iterations: on | off"),
        "compile": ("off", "torch.compile the LDPC decoder (1.5-2x faster after a 1.5-2.5 min compile): on | off"),
    }

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.num_iter = int(self.options["iters"])
        if self.num_iter < 1:
            raise ValueError("option iters must be ≥ 1")
        self.cn_update = self.options["cn"]
        if self.cn_update not in _CN_UPDATES:
            raise ValueError(f"option cn must be one of {', '.join(_CN_UPDATES)}, got {self.cn_update!r}")
        self.early_stop = _parse_bool(self.options["early_stop"], "early_stop")
        self.compile = _parse_bool(self.options["compile"], "compile")

    def config(self) -> dict[str, Any]:
        return super().config() | {
            "rate": self.rate,
            "modulation": "4-QAM Gray (Sionna Mapper qam 2)",
            "code": "5G NR LDPC (Sionna LDPC5GEncoder/LDPC5GDecoder)",
            "decoder_iterations": self.num_iter,
            "cn_update": self.cn_update,
            "early_termination": "CRC-aided every 2 iterations" if self.early_stop else "off",
            "block_check": "genie (models per-block CRC)",
            "fallback": f"constant grey {FALLBACK_VALUE}",
            "codec": self.codec.backend,
            "chroma": self.options["chroma"],
        }

    def segmentation(self, height: int, width: int) -> Segmentation:
        """The code blocks for an ``H×W`` image."""
        return segment(self.channel_uses(height, width), self.rate)

    def link(self, seg: Segmentation) -> LdpcLink:
        """The (shared) LDPC link for a segmentation."""
        return _link(seg.k, seg.n_cb, self.cn_update, self.num_iter, 2 if self.early_stop else 0, self.compile)

    def encode(self, image: torch.Tensor) -> LdpcTransmission:
        """BPG at the budget ``C·k``, LDPC-encode and map to n symbols.

        :param image: ``[3, H, W]`` float in [0, 1].
        """
        h, w = image.shape[-2:]
        seg = self.segmentation(h, w)
        enc = self.codec.encode_to_budget(image, seg.info_bits)
        if enc.empty:
            return LdpcTransmission(enc, seg, torch.zeros(0, seg.k), torch.zeros(0, dtype=torch.complex64))
        link = self.link(seg)
        info = _bytes_to_bits(enc.payload, seg.info_bits).reshape(seg.num_blocks, seg.k)
        with torch.no_grad():
            coded = link.encode(info).reshape(-1)
            pad = torch.zeros(_BITS_PER_SYMBOL * seg.pad_symbols)
            symbols = link.modulate(torch.cat([coded, pad])).to(torch.complex64)
        return LdpcTransmission(enc, seg, info, symbols)

    def symbols(self, encoded: LdpcTransmission) -> torch.Tensor:
        """The n 4-QAM symbols of the code blocks (+ known pad symbols), ``[0]`` if nothing fits."""
        return encoded.symbols

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        return self.receive_batch([(tx, rx)])[0]

    def receive_batch(self, items: list[tuple[Transmission, ChannelOutput]]) -> list[Reception]:
        """All code blocks of all images with the same segmentation go through one
        (early-terminating) decoder run."""
        out: list[Reception | None] = [None] * len(items)
        groups: dict[Segmentation, list[int]] = {}
        for i, (item, _) in enumerate(items):
            tx: LdpcTransmission = item.encoded
            if tx.encoded.empty:
                h, w = item.image.shape[-2:]
                out[i] = Reception(fallback_image(h, w), 0.0, self._extras(tx, False, None, "nothing fits the budget"))
            else:
                groups.setdefault(tx.seg, []).append(i)
        for seg, idx in groups.items():
            link = self.link(seg)
            t0 = time.perf_counter()
            with torch.no_grad():
                llrs = []
                used = seg.coded_bits // _BITS_PER_SYMBOL
                for i in idx:
                    y, no = demapper_input(items[i][1])
                    llr = link.demodulate(y[:used], no if isinstance(no, float) else no[:used])
                    llrs.append(llr.reshape(seg.num_blocks, seg.n_cb))
                demap_s = time.perf_counter() - t0
                sent = torch.cat([items[i][0].encoded.info for i in idx])
                result = link.decode(torch.cat(llrs), sent)
            share = (demap_s + result.seconds) / len(idx)
            for j, i in enumerate(idx):
                tx = items[i][0].encoded
                h, w = items[i][0].image.shape[-2:]
                rows = slice(j * seg.num_blocks, (j + 1) * seg.num_blocks)
                ok = result.ok[rows]
                iters = result.iterations[rows]
                t1 = time.perf_counter()
                error = None
                if bool(ok.all()):
                    image, error = self._decode_or_fallback(_bits_to_bytes(result.bits[rows]), h, w)
                    delivered = error is None
                else:
                    image, delivered = fallback_image(h, w), False
                extras = self._extras(tx, delivered, (int((~ok).sum()), float(iters.float().mean())), error)
                out[i] = Reception(image, share + time.perf_counter() - t1, extras)
        return [r for r in out if r is not None]

    def _extras(self, tx: LdpcTransmission, delivered: bool, blocks: tuple[int, float] | None,
                error: str | None) -> dict[str, Any]:
        seg = tx.seg
        extras: dict[str, Any] = {
            "delivered": delivered,
            "payload_bits": tx.encoded.bits,
            "budget_bits": seg.info_bits,
            "qp": tx.encoded.qp,
            "code_blocks": seg.num_blocks,
            "block_k": seg.k,
            "block_n": seg.n_cb,
            "block_errors": seg.num_blocks if blocks is None else blocks[0],
            "mean_iterations": 0.0 if blocks is None else blocks[1],
        }
        if error:
            extras["error"] = error
        return extras


@register_scheme("bpg-ldpc-1/2")
class BpgLdpcHalf(_BpgLdpc):
    """BPG + rate-1/2 5G LDPC + 4-QAM."""

    description = "BPG (4:4:4) + 5G NR LDPC rate 1/2 + 4-QAM, lost image → grey fallback"
    rate = 0.5


@register_scheme("bpg-ldpc-3/4")
class BpgLdpcThreeQuarter(_BpgLdpc):
    """BPG + rate-3/4 5G LDPC + 4-QAM."""

    description = "BPG (4:4:4) + 5G NR LDPC rate 3/4 + 4-QAM, lost image → grey fallback"
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
