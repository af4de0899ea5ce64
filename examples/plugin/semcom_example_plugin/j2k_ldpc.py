"""``j2k-ldpc``: JPEG 2000 + 5G NR LDPC + Gray QAM, the simulator's classical link with another codec.

Transmitter: the image's n channel uses at the chosen MCS (``j2k-ldpc:rate=R:qam=M``, R and M
as ``bpg-ldpc``'s) are one 5G transport block (:func:`simulator.segment`: C identical code
blocks, TB and CB CRCs charged to the budget); the JPEG 2000 payload is rate-controlled to fill
its A payload bits (:mod:`.j2k`), then CRCs, LDPC encoding and QAM mapping (:func:`simulator.tb_bits`,
:func:`simulator.shared_link`), Es = 1.  Receiver: exact LLRs from the zero-forced output
(:func:`simulator.demapper_input`, so it runs under every channel), BP decoding (50 flooding
iterations, syndrome stop), and the image is delivered when every code block that carries
payload decodes (a genie standing in for the block CRCs, as in ``bpg-ldpc``); otherwise, or
when nothing fits the budget, the receiver shows the mid-grey fallback (:func:`simulator.fallback_image`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import torch

import simulator as sim
from semcom_example_plugin import j2k

__all__ = ["J2kLdpc", "J2kTransmission"]


@dataclass
class J2kTransmission:
    """What :meth:`J2kLdpc.encode` returns for one image (SNR independent).

    :ivar payload: the framed JPEG 2000 payload (empty when nothing fits).
    :ivar seg: the transport-block segmentation of the image's n channel uses.
    :ivar info: ``[C, k]`` float {0, 1} info bits (payload, padding, CRCs); ``[0, k]`` when empty.
    :ivar symbols: ``[n]`` complex64 channel symbols (Es = 1), ``[0]`` when nothing is sent.
    """

    payload: j2k.J2kPayload
    seg: sim.Segmentation
    info: torch.Tensor
    symbols: torch.Tensor


class J2kLdpc(sim.Scheme):
    """JPEG 2000 + 5G NR LDPC at rate R + Gray M-QAM (see the module docstring)."""

    description = "JPEG 2000 (Pillow/OpenJPEG) + 5G NR LDPC rate R + M-QAM (TB + CB CRCs), lost image → grey"
    options_schema: ClassVar[dict[str, sim.Option]] = {
        "rate": sim.Option("1/2", "LDPC code rate", choices=tuple(sim.MCS_RATES)),
        "qam": sim.Option("4", "QAM order (Gray, Es = 1)", choices=tuple(sim.MCS_QAMS)),
    }
    #: BP decoder settings (those of ``bpg-ldpc``'s defaults).
    decoder: ClassVar[dict[str, Any]] = {"decoder": "flooding", "num_iter": 50, "early_stop": True}

    def __init__(self, options: dict[str, str] | None = None, *, bandwidth_ratio: float = 1 / 16) -> None:
        super().__init__(options, bandwidth_ratio=bandwidth_ratio)
        self.rate: Fraction = sim.MCS_RATES[self.values["rate"]]
        self.bits_per_symbol = int(self.values["qam"]).bit_length() - 1

    def config(self) -> dict[str, Any]:
        return super().config() | {
            "codec": "JPEG 2000 (OpenJPEG via Pillow), 9/7 irreversible, MCT, one layer, rate control to the budget",
            "code": "5G NR LDPC (Sionna LDPC5GEncoder), TS 38.212 TB/CB CRCs charged to the budget",
            "modulation": f"{2 ** self.bits_per_symbol}-QAM Gray",
            "decoder": self.decoder,
            "delivery": "every code block carrying payload decodes (genie = block CRC)",
            "fallback": "constant grey 0.5",
        }

    def versions(self) -> dict[str, str]:
        return j2k.versions()

    def _link(self, seg: sim.Segmentation) -> sim.LdpcLink:
        return sim.shared_link(seg.k, seg.n_cb, bits_per_symbol=seg.bits_per_symbol, **self.decoder)

    def encode(self, image: torch.Tensor) -> J2kTransmission:
        """JPEG 2000 at the transport block's payload budget, then CRCs, LDPC and QAM.

        :param image: ``[3, H, W]`` float in [0, 1].
        """
        height, width = image.shape[-2:]
        seg = sim.segment(self.channel_uses(height, width), self.rate, self.bits_per_symbol)
        payload = j2k.encode_to_budget(image, seg.payload_bits)
        if not payload.data:
            return J2kTransmission(payload, seg, torch.zeros(0, seg.k), torch.zeros(0, dtype=torch.complex64))
        link = self._link(seg)
        info = sim.tb_bits(payload.data, seg)
        coded = link.encode(info).reshape(-1)
        pad = torch.zeros(seg.bits_per_symbol * seg.pad_symbols)  # known symbols on the leftover uses
        return J2kTransmission(payload, seg, info, link.modulate(torch.cat([coded, pad])).to(torch.complex64))

    def symbols(self, encoded: J2kTransmission) -> torch.Tensor:
        return encoded.symbols

    def receive(self, tx: sim.Transmission, rx: sim.ChannelOutput) -> sim.Reception:
        return self.receive_batch([(tx, rx)])[0]

    def receive_batch(self, items: list[tuple[sim.Transmission, sim.ChannelOutput]]) -> list[sim.Reception]:
        """Images with the same segmentation share one BP decoder call."""
        out: list[sim.Reception | None] = [None] * len(items)
        groups: dict[sim.Segmentation, list[int]] = {}
        for i, (tx, _) in enumerate(items):
            enc: J2kTransmission = tx.encoded
            if enc.payload.data:
                groups.setdefault(enc.seg, []).append(i)
            else:
                out[i] = sim.Reception(sim.fallback_image(*tx.image.shape[-2:]), 0.0, self._extras(enc, False, None))
        for seg, idx in groups.items():
            link = self._link(seg)
            t0 = time.perf_counter()
            used = seg.coded_bits // seg.bits_per_symbol
            llrs = []
            for i in idx:
                y, no = sim.demapper_input(items[i][1])
                llrs.append(link.demodulate(y[:used], no if isinstance(no, float) else no[:used]).reshape(-1, seg.n_cb))
            result = link.decode(torch.cat(llrs), torch.cat([items[i][0].encoded.info for i in idx]))
            share = (time.perf_counter() - t0) / len(idx)
            for j, i in enumerate(idx):
                tx = items[i][0]
                enc = tx.encoded
                height, width = tx.image.shape[-2:]
                blocks = slice(j * seg.num_blocks, (j + 1) * seg.num_blocks)
                carrying = torch.from_numpy(seg.payload_blocks(enc.payload.bits))
                t1 = time.perf_counter()
                image, delivered = sim.fallback_image(height, width), False
                if bool(result.ok[blocks][carrying].all()):
                    try:
                        image = j2k.decode(sim.payload_from_blocks(result.bits[blocks], seg), height, width)
                        delivered = True
                    except j2k.J2kDecodeError:
                        pass
                errors = int((~result.ok[blocks]).sum())
                out[i] = sim.Reception(image, share + time.perf_counter() - t1, self._extras(enc, delivered, errors))
        return [r for r in out if r is not None]

    @staticmethod
    def _extras(enc: J2kTransmission, delivered: bool, block_errors: int | None) -> dict[str, Any]:
        return {
            "delivered": delivered,
            "payload_bits": enc.payload.bits,
            "budget_bits": enc.seg.payload_bits,
            "ratio": enc.payload.ratio,
            "code_blocks": enc.seg.num_blocks,
            "block_errors": enc.seg.num_blocks if block_errors is None else block_errors,
        }
