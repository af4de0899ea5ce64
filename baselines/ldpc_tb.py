"""One image = one 5G NR transport block (TS 38.212 §5.1–5.2) in n channel uses.

Rate matching for any image size
--------------------------------
With n complex channel uses, m bits per symbol and nominal code rate R:

* coded bits ``N = m·n``, nominal info bits ``B = floor(N·R)``;
* ``C = ceil(B / 8448)`` code blocks (8448 = 5G's largest LDPC block, base graph 1); in
  TS 38.212 terms every block's K' = k ≤ K_cb holds, CRC bits included;
* every block gets ``s = floor(n / C)`` symbols, i.e. ``n_cb = m·s`` coded bits and
  ``k = floor(n_cb·R)`` info bits: all blocks identical, so one encoder/decoder serves every
  block of every image of one size (TS 38.212 allows per-block E to differ by one symbol;
  we keep them equal and leave the remainder unused);
* the ``n − C·s`` (< C) leftover channel uses carry a known symbol, so Es = 1 exactly.

CRC bits, charged to the budget
-------------------------------
The transport block is the BPG payload, zero-padded to A bits, plus its TB CRC (CRC24A;
CRC16 when A ≤ 3824); when C > 1 every code block also ends in a CRC24B over its part of
the TB.  So the payload budget is ``A = C·(k − L_cb) − L_tb`` with ``L_cb = 24·[C > 1]``
and ``L_tb`` ∈ {16, 24}.  The CRC values are computed (Sionna ``CRCEncoder``) and sent.

Padding blocks and delivery
---------------------------
All C blocks are sent, including blocks that carry only zero padding (and the TB CRC):
a transmitter at a fixed MCS fills its allocation (MAC padding), so the channel uses are
spent either way.  The image is delivered when every block that carries payload bits
decodes; a failed padding-only block does not lose the image (its receiver knows from the
per-block CRCs which blocks are good, and the BPG payload's length field ends the bits it
reads).  With C = 1 the one block always carries payload.
"""

from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["K_MAX", "Segmentation", "segment", "tb_bits", "payload_from_blocks"]

#: Largest 5G NR LDPC code block (base graph 1), in info bits.
K_MAX = 8448
#: Largest payload A protected by a 16-bit TB CRC (TS 38.212 §7.2.1).
_A_CRC16_MAX = 3824


@dataclass(frozen=True)
class Segmentation:
    """How one image's channel uses are split into identical LDPC code blocks.

    :ivar n_symbols: complex channel uses n of the image.
    :ivar rate: nominal code rate R.
    :ivar num_blocks: C.
    :ivar k: info bits per block (CRC bits included).
    :ivar n_cb: coded bits per block (a multiple of ``bits_per_symbol``).
    :ivar bits_per_symbol: m (2 = 4-QAM).
    """

    n_symbols: int
    rate: float
    num_blocks: int
    k: int
    n_cb: int
    bits_per_symbol: int = 2

    @property
    def cb_crc_bits(self) -> int:
        """CRC bits at the end of each code block: 24 when C > 1, else 0."""
        return 24 if self.num_blocks > 1 else 0

    @property
    def block_data_bits(self) -> int:
        """TB bits carried per code block, ``k − L_cb``."""
        return self.k - self.cb_crc_bits

    @property
    def tb_crc_bits(self) -> int:
        """Transport-block CRC length: 16 if the payload A is ≤ 3824 bits, else 24."""
        return 16 if self.num_blocks * self.block_data_bits - 16 <= _A_CRC16_MAX else 24

    @property
    def payload_bits(self) -> int:
        """The BPG bit budget A = C·(k − L_cb) − L_tb."""
        return self.num_blocks * self.block_data_bits - self.tb_crc_bits

    @property
    def info_bits(self) -> int:
        """All info bits ``C·k`` (payload, CRCs)."""
        return self.num_blocks * self.k

    @property
    def coded_bits(self) -> int:
        """``C·n_cb`` ≤ m·n."""
        return self.num_blocks * self.n_cb

    @property
    def pad_symbols(self) -> int:
        """Channel uses left over after the code blocks (carry known symbols)."""
        return self.n_symbols - self.coded_bits // self.bits_per_symbol

    def payload_blocks(self, payload_bits: int) -> np.ndarray:
        """``[C]`` bool: which blocks carry any of the first ``payload_bits`` TB bits."""
        return np.arange(self.num_blocks) * self.block_data_bits < int(payload_bits)


def segment(n_symbols: int, rate: float | Fraction, bits_per_symbol: int = 2) -> Segmentation:
    """Split n complex channel uses at code rate ``rate`` into C identical 5G LDPC blocks.

    :raises ValueError: when n is too small for one block that holds its CRC and payload.
    """
    n_symbols, m = int(n_symbols), int(bits_per_symbol)
    budget = math.floor(m * n_symbols * rate)
    if budget < 1:
        raise ValueError(f"{n_symbols} channel uses carry no info bits at rate {rate}")
    blocks = math.ceil(budget / K_MAX)
    n_cb = m * (n_symbols // blocks)
    k = math.floor(n_cb * rate)
    if k < 12 or k >= n_cb:
        raise ValueError(f"segmentation of {n_symbols} channel uses at rate {rate} gives k={k}, n={n_cb}")
    seg = Segmentation(n_symbols, float(rate), blocks, k, n_cb, m)
    if seg.payload_bits < 1:
        raise ValueError(f"{n_symbols} channel uses at rate {rate} leave no payload bits after the CRCs")
    return seg


def _crc(bits: torch.Tensor, length: int, kind: str) -> torch.Tensor:
    """Append a 5G CRC (``24A``, ``24B`` or ``16``) to ``[..., L]`` float bits."""
    from sionna.phy.fec.crc import CRCEncoder

    from baselines.ldpc_link import SIONNA_DEVICE

    poly = f"CRC{length}{kind}" if length == 24 else f"CRC{length}"
    return CRCEncoder(poly, device=SIONNA_DEVICE)(bits.cpu())


def tb_bits(payload: bytes, seg: Segmentation) -> torch.Tensor:
    """The code blocks' info bits for a payload: ``[C, k]`` float32 {0, 1}.

    Payload bits MSB first, zero-padded to A, TB CRC appended, split into C blocks of
    ``k − L_cb`` bits, CRC24B appended to each when C > 1.

    :raises ValueError: if the payload exceeds the budget A.
    """
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8)) if payload else np.zeros(0, np.uint8)
    if bits.size > seg.payload_bits:
        raise ValueError(f"{bits.size} payload bits exceed the {seg.payload_bits}-bit budget")
    tb = np.zeros(seg.payload_bits, dtype=np.float32)
    tb[: bits.size] = bits
    with torch.no_grad():
        tb_crc = _crc(torch.from_numpy(tb)[None], seg.tb_crc_bits, "A")[0]
        blocks = tb_crc.reshape(seg.num_blocks, seg.block_data_bits)
        if seg.cb_crc_bits:
            blocks = _crc(blocks, seg.cb_crc_bits, "B")
    return blocks.float()


def payload_from_blocks(blocks: torch.Tensor | np.ndarray, seg: Segmentation) -> bytes:
    """The A payload bits of decoded ``[C, k]`` info bits, packed MSB first into bytes."""
    b = np.asarray(blocks, dtype=np.float32).reshape(seg.num_blocks, seg.k)[:, : seg.block_data_bits]
    bits = np.clip(np.rint(b.reshape(-1)[: seg.payload_bits]), 0, 1).astype(np.uint8)
    return np.packbits(bits[: bits.size - bits.size % 8]).tobytes()
