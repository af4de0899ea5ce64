"""5G LDPC + QAM for one code shape: Sionna's encoder/mapper/demapper, three BP decoders.

Decoders (``LdpcLink(decoder=...)``)
------------------------------------
``flooding`` (default)
    :mod:`baselines.ldpc_decoder`: numba flooding sum-product BP on Sionna's own parity-check
    matrix, syndrome early stop after every iteration.  Makes the same block errors as
    ``sionna`` (tested) at tens of times its throughput (``benchmarks/bench_ldpc.py``).
``layered``
    The same kernel with a row-layered schedule: converges in fewer iterations and decodes
    better at the same iteration count — a stronger receiver, not a drop-in.
``sionna``
    Sionna's ``LDPC5GDecoder`` (PyTorch), the reference, with the check-node rule ``cn_update``;
    early stop (``chunk`` > 0) decodes in chunks of ``chunk`` iterations, carrying the decoder
    state between chunks (flooding BP resumes exactly from its variable-to-check messages),
    and retires a block once its info bits are right (what the code-block CRC tells a
    receiver).

A block counts as decoded (``ok``) when its decoded info bits equal the sent ones: a genie
standing in for the code-block CRC (whose bits are in the info bits, see
:mod:`baselines.ldpc_tb`; the two differ only by the CRC's 2^-24 miss rate).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from baselines import ldpc_decoder

__all__ = ["DECODERS", "CN_UPDATES", "SIONNA_DEVICE", "LdpcLink", "BlockDecodeResult", "shared_link"]

#: The device of every Sionna block of the classical link.  Pinned: Sionna's default is
#: ``cuda:0`` whenever CUDA exists, while the numba decoder, the BPG codec and the channel
#: realisations all work on CPU tensors (a GPU path would have to be measured faster first).
SIONNA_DEVICE = "cpu"

#: Decoder backends.
DECODERS = ("flooding", "layered", "sionna")
#: Check-node rules of the ``sionna`` decoder.
CN_UPDATES = ("boxplus-phi", "boxplus", "minsum", "offset-minsum")


@dataclass
class BlockDecodeResult:
    """Outcome of decoding a batch of code blocks.

    :ivar ok: ``[N]`` bool, info bits all correct.
    :ivar iterations: ``[N]`` int32, BP iterations spent (the maximum when not converged).
    :ivar bits: ``[N, k]`` float32 {0, 1}, the decoded info bits.
    :ivar seconds: wall time of the decoding.
    """

    ok: torch.Tensor
    iterations: torch.Tensor
    bits: torch.Tensor
    seconds: float


class LdpcLink:
    """5G LDPC (Sionna ``LDPC5GEncoder``) + Gray QAM for one code shape (k, n_cb).

    :param k: info bits per block (≤ 8448).
    :param n_cb: coded bits per block (a multiple of ``bits_per_symbol``).
    :param decoder: ``flooding`` | ``layered`` | ``sionna`` (see the module docstring).
    :param num_iter: maximum BP iterations.
    :param early_stop: stop a block once decoded (syndrome for the numba decoders, info bits
        checked every ``chunk`` iterations for ``sionna``).
    :param cn_update: check-node rule of the ``sionna`` decoder (the numba decoders are exact
        sum-product, Sionna's default ``boxplus-phi``).
    :param chunk: iterations between early-stop checks of the ``sionna`` decoder.
    :param bits_per_symbol: 2 (4-QAM), 4 (16-QAM), 6 (64-QAM).
    """

    def __init__(self, k: int, n_cb: int, decoder: str = "flooding", num_iter: int = 50,
                 early_stop: bool = True, cn_update: str = "boxplus-phi", chunk: int = 2,
                 bits_per_symbol: int = 2) -> None:
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import Demapper, Mapper

        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        if cn_update not in CN_UPDATES:
            raise ValueError(f"cn_update must be one of {', '.join(CN_UPDATES)}, got {cn_update!r}")
        if decoder != "sionna" and cn_update != "boxplus-phi":
            raise ValueError(f"cn_update={cn_update!r} needs decoder=sionna (flooding/layered are exact boxplus)")
        if int(num_iter) < 1:
            raise ValueError(f"num_iter must be >= 1, got {num_iter}")
        self.k, self.n_cb, self.num_iter = int(k), int(n_cb), int(num_iter)
        self.decoder_name, self.early_stop = decoder, bool(early_stop)
        self.chunk = min(int(chunk), self.num_iter) if self.early_stop else self.num_iter
        self.bits_per_symbol = int(bits_per_symbol)
        dev = SIONNA_DEVICE
        self.encoder = LDPC5GEncoder(self.k, self.n_cb, num_bits_per_symbol=self.bits_per_symbol, device=dev)
        self.mapper = Mapper("qam", self.bits_per_symbol, device=dev)
        self.demapper = Demapper("app", "qam", self.bits_per_symbol, device=dev)
        if decoder == "sionna":
            self.decoder = LDPC5GDecoder(self.encoder, cn_update=cn_update, num_iter=self.chunk,
                                         hard_out=True, return_infobits=True, return_state=True, device=dev)
        else:
            self.graph = ldpc_decoder.qc_graph(self.encoder)
        self._warm_up()

    def _warm_up(self) -> None:
        """One all-zero block through every stage now: Sionna builds its blocks on their first
        call and numba compiles (or loads) its kernels, one-time work that must not land in the
        timing of the first decoded image."""
        zeros = torch.zeros(1, self.k)
        llr = self.demodulate(self.modulate(self.encode(zeros)), 0.1).reshape(1, self.n_cb)
        self.decode(llr, zeros)

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        """``[N, k]`` float {0,1} info bits → ``[N, n_cb]`` coded bits."""
        with torch.no_grad():
            return self.encoder(bits.float().cpu())

    def modulate(self, coded: torch.Tensor) -> torch.Tensor:
        """``[..., m·s]`` bits → ``[..., s]`` complex64 Gray QAM symbols, Es = 1."""
        with torch.no_grad():
            return self.mapper(coded.float().cpu())

    def demodulate(self, y: torch.Tensor, no: float | torch.Tensor) -> torch.Tensor:
        """``[..., s]`` received symbols → ``[..., m·s]`` logits log(P(1)/P(0)) (Sionna's convention).

        :param no: noise variance per complex symbol: a number, or ``[..., s]`` per symbol
            (fading after zero-forcing).
        """
        with torch.no_grad():
            return self.demapper(y.cpu(), torch.as_tensor(no, dtype=torch.float32).cpu())

    def decode(self, llr: torch.Tensor, sent: torch.Tensor) -> BlockDecodeResult:
        """BP-decode a batch of blocks.

        :param llr: ``[N, n_cb]`` channel logits.
        :param sent: ``[N, k]`` the transmitted info bits (the block CRC's knowledge).
        """
        t0 = time.perf_counter()
        if self.decoder_name == "sionna":
            ok, iterations, bits = self._decode_sionna(llr, sent)
        else:
            out = ldpc_decoder.decode(self.graph, llr.detach().cpu().numpy(), self.num_iter,
                                      self.decoder_name, early_stop=self.early_stop)
            bits = torch.from_numpy(out.bits.astype(np.float32))
            ok = (bits == sent).all(dim=1)
            iterations = torch.from_numpy(out.iterations)
        return BlockDecodeResult(ok, iterations, bits, time.perf_counter() - t0)

    def _decode_sionna(self, llr: torch.Tensor, sent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
                u_hat, state = self.decoder(llr[active], num_iter=steps, msg_v2c=state)
                done += steps
                good = (u_hat == sent[active]).all(dim=1)
                bits[active] = u_hat.float()
                if self.early_stop or done >= self.num_iter:
                    ok[active[good]] = True
                    iterations[active[good]] = done
                    active, state = active[~good], state[~good]
        return ok, iterations, bits


_LINKS: dict[tuple, LdpcLink] = {}
_LINKS_LOCK = threading.Lock()


def shared_link(k: int, n_cb: int, **options) -> LdpcLink:
    """One :class:`LdpcLink` per (shape, options) for the whole process."""
    key = (k, n_cb, *sorted(options.items()))
    with _LINKS_LOCK:
        if key not in _LINKS:
            _LINKS[key] = LdpcLink(k, n_cb, **options)
        return _LINKS[key]
