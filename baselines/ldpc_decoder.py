"""Fast 5G NR LDPC belief-propagation decoder (numba), a drop-in for Sionna's ``LDPC5GDecoder``.

What it decodes
---------------
The graph is Sionna's own: :func:`qc_graph` reads the lifted parity-check matrix of a
``sionna.phy.fec.ldpc.LDPC5GEncoder`` (``encoder.pcm``), recovers its quasi-cyclic form
(a base matrix of Z×Z circulant shifts) and prunes it as ``LDPC5GDecoder(prune_pcm=True)``
does — trailing degree-1 punctured parity nodes and their checks — rounded *up* to whole
lifting blocks so the structure stays quasi-cyclic (a kept degree-1 punctured node has LLR 0
for ever, so its check sends exactly 0 to every other node: the same decoder).  Channel
LLRs are placed as Sionna places them: the output interleaver is undone, the first 2Z
systematic bits are punctured (LLR 0), filler bits are known zeros at LLR +``LLR_MAX``,
and untransmitted parity bits have LLR 0.

Schedules
---------
``flooding``
    Sum-product BP with Sionna's message conventions: channel LLRs and variable-to-check
    messages clipped to ±``LLR_MAX`` (20), all checks updated from the previous iteration's
    messages.  The check update is the exact boxplus in the tanh domain (Sionna's
    ``boxplus-phi`` computes the same function in the φ domain; both are exact sum-product
    up to float32 rounding) with a vectorisable float32 exp and log written here (exp:
    relative error ≈ 1e-6, log: absolute error ≈ 2e-6, both dominated by the float32
    range reduction).  It makes the same block errors as Sionna's decoder at the same iteration
    count (``tests/test_ldpc_decoder.py``).
``layered``
    Row-layered BP (one layer = one base row, i.e. Z independent checks): the posterior is
    updated after every layer, so a decoder converges in roughly half the iterations and
    at a given iteration count decodes better than flooding — a different (stronger)
    receiver, not a drop-in.

Both stop a code block as soon as its hard decisions satisfy every parity check (syndrome
early stop), checked after every iteration (or not at all: ``early_stop=False``).  With
more than one numba thread the blocks of one call are decoded in a ``prange`` loop (one
thread per block), with one thread in a plain loop; inside a block the Z checks of a base
row are processed as float32 vectors (SIMD), gathers and scatters fused into the check
update.  Compiled kernels are cached on disk
(``numba cache=True``), so only the first use on a machine compiles (~10 s).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["LLR_MAX", "SCHEDULES", "QCGraph", "qc_graph", "channel_llr", "decode", "DecodeOutput", "warm_up"]

#: Clipping magnitude of channel LLRs and variable-to-check messages (Sionna's ``llr_max``).
LLR_MAX = 20.0
#: Decoder schedules this module implements.
SCHEDULES = ("flooding", "layered")

_F = np.float32
_ONE = _F(1.0)
_TWO = _F(2.0)
_CLIP = _F(LLR_MAX)
_LOG2E = _F(1.4426950408889634)
_LN2 = _F(0.6931471805599453)
_T_MIN = _F(1e-30)  # floor of tanh(|v|/2): keeps the extrinsic division finite
_EPS = _F(2.0 ** -24)  # caps |prod / t| at 1 − 2^-24, the largest float32 below 1
_SIGN_BIT = np.int32(-0x80000000)
_SQRT_HALF_BITS = 0x3F3504F3  # the bits of float32 √½


# --------------------------------------------------------------------------- graph
@dataclass(frozen=True)
class QCGraph:
    """Quasi-cyclic parity-check graph of one 5G code shape (pruned, rows in base order).

    :ivar z: lifting size Z.
    :ivar k: info bits (the first k variable nodes).
    :ivar n: transmitted coded bits per block.
    :ivar num_vars: variable nodes kept, ``cols·Z``.
    :ivar row_ptr: ``[rows+1]`` int64, base row r owns entries ``row_ptr[r]:row_ptr[r+1]``.
    :ivar entry_col: ``[E_base]`` int64 base column of each circulant.
    :ivar entry_shift: ``[E_base]`` int64 shift s: check r·Z+i meets variable c·Z+(i+s) mod Z.
    :ivar tx_pos: ``[n]`` int64 variable node of each channel LLR (after de-interleaving).
    :ivar deinterleave: ``[n]`` int64 or None, Sionna's ``out_int_inv`` (bit-interleaved coded modulation).
    :ivar filler: ``(start, stop)`` variable nodes of the known-zero filler bits.
    """

    z: int
    k: int
    n: int
    num_vars: int
    row_ptr: np.ndarray
    entry_col: np.ndarray
    entry_shift: np.ndarray
    tx_pos: np.ndarray
    deinterleave: np.ndarray | None
    filler: tuple[int, int]

    @property
    def num_edges(self) -> int:
        """Edges of the lifted graph, ``E_base·Z``."""
        return int(self.entry_col.size) * self.z


def _pruned_size(pcm, k: int, k_ldpc: int, n: int, z: int) -> int:
    """Sionna's ``LDPC5GDecoder`` pruned codeword length (flooding schedule)."""
    n_ldpc = pcm.shape[1]
    dv = np.asarray(pcm.sum(axis=0)).ravel()
    last_pos = n_ldpc
    for idx in range(n_ldpc - 1, 0, -1):
        if dv[idx] != 1:
            break
        last_pos = idx
    nb_punc = (n_ldpc - (k_ldpc - k)) - n - 2 * z
    return int(max(last_pos, n_ldpc - nb_punc))


def qc_graph(encoder) -> QCGraph:
    """The quasi-cyclic graph and LLR placement of a Sionna ``LDPC5GEncoder``.

    :raises ValueError: if the encoder's matrix is not Z-circulant (not a 5G encoder).
    """
    z, k, n, k_ldpc = int(encoder.z), int(encoder.k), int(encoder.n), int(encoder.k_ldpc)
    pcm = encoder.pcm.tocsr()
    m_ldpc, n_ldpc = pcm.shape
    n_kept = _pruned_size(pcm, k, k_ldpc, n, z)
    cols = -(-n_kept // z)
    rows = (m_ldpc // z) - (n_ldpc // z - cols)
    row_ptr, entry_col, entry_shift = [0], [], []
    for r in range(rows):
        first = pcm.indices[pcm.indptr[r * z]:pcm.indptr[r * z + 1]]
        for v in np.sort(first):
            c, s = divmod(int(v), z)
            if c < cols:
                entry_col.append(c)
                entry_shift.append(s)
        row_ptr.append(len(entry_col))
    # check every circulant against the lifted matrix
    ptr = np.asarray(row_ptr)
    ecol, eshift = np.asarray(entry_col, np.int64), np.asarray(entry_shift, np.int64)
    i = np.arange(z)
    for r in range(rows):
        for e in range(ptr[r], ptr[r + 1]):
            v = ecol[e] * z + (i + eshift[e]) % z
            if not np.all(np.asarray(pcm[r * z + i, v]).ravel() == 1):
                raise ValueError(f"parity-check matrix is not quasi-cyclic with lifting size {z}")
    j = np.arange(n)
    tx_pos = np.where(j < k - 2 * z, 2 * z + j, k_ldpc + j - (k - 2 * z)).astype(np.int64)
    inv = getattr(encoder, "num_bits_per_symbol", None)
    deint = None if inv is None else np.asarray(encoder.out_int_inv.cpu().numpy(), dtype=np.int64)
    return QCGraph(z, k, n, cols * z, ptr.astype(np.int64), ecol, eshift, tx_pos, deint, (k, k_ldpc))


def channel_llr(graph: QCGraph, logits: np.ndarray) -> np.ndarray:
    """Place channel logits on the graph's variable nodes.

    :param logits: ``[N, n]`` float, log(P(1)/P(0)) per coded bit in transmission order
        (Sionna's demapper convention).
    :returns: ``[N, num_vars]`` float32 LLRs log(P(0)/P(1)), clipped to ±``LLR_MAX``;
        punctured nodes 0, filler nodes +``LLR_MAX``.
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 2 or logits.shape[1] != graph.n:
        raise ValueError(f"logits must have shape [N, {graph.n}], got {list(logits.shape)}")
    if graph.deinterleave is not None:
        logits = logits[:, graph.deinterleave]
    llr = np.zeros((logits.shape[0], graph.num_vars), dtype=np.float32)
    llr[:, graph.tx_pos] = np.clip(-logits, -LLR_MAX, LLR_MAX)
    llr[:, graph.filler[0]:graph.filler[1]] = LLR_MAX
    return llr


# --------------------------------------------------------------------------- vector math
@intrinsic
def _as_int(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float32 as int32."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _as_float(typingctx, x):  # pragma: no cover - compiled
    """An int32's bits as float32."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _log_split(typingctx, x):  # pragma: no cover - compiled
    """(e, m) with float32 x = 2^e·m, m in [√½, √2), e as float32 (normal positive x).

    In int32 arithmetic: written in Python, numba would widen it to int64 in every vector lane.
    """
    sig = types.UniTuple(types.float32, 2)(types.float32)

    def codegen(context, builder, sig, args):
        i32, f32 = ir.IntType(32), ir.FloatType()
        b = builder.bitcast(args[0], i32)
        e = builder.ashr(builder.sub(b, ir.Constant(i32, _SQRT_HALF_BITS)), ir.Constant(i32, 23))
        m = builder.bitcast(builder.sub(b, builder.shl(e, ir.Constant(i32, 23))), f32)
        return context.make_tuple(builder, sig.return_type, (builder.sitofp(e, f32), m))
    return sig, codegen


_JIT = dict(inline="always", fastmath=True, error_model="numpy")


@numba.njit(**_JIT)
def _exp_neg(a):  # pragma: no cover - compiled
    """exp(−a) for float32 a in [0, 80], vectorisable.

    2^−y (y = a·log2 e) = 2^−n · 2^−f with n = round(y), |f| ≤ 1/2, 2^−f by a degree-6
    polynomial (Chebyshev fit, relative error 1e-7); the rounding of y adds up to 1e-6 at
    a = 20.
    """
    y = a * _LOG2E
    n = np.int32(y + _F(0.5))
    f = y - _F(n)  # |f| ≤ 1/2
    p = _F(0.00015465312753804028)
    p = _F(-0.0013395280111581087) + f * p
    p = _F(0.009618040174245834) + f * p
    p = _F(-0.05550340563058853) + f * p
    p = _F(0.24022650718688965) + f * p
    p = _F(-0.6931471824645996) + f * p
    p = _F(1.0) + f * p
    return p * _as_float((127 - n) << 23)  # × 2^-n


@numba.njit(**_JIT)
def _log(x):  # pragma: no cover - compiled
    """ln(x) for normal positive float32 x, vectorisable.

    x = 2^e·m, m in [√½, √2), ln m = 2·atanh(s) with s = (m − 1)/(m + 1) to degree 7 in s
    (truncation < 3e-8); absolute error < 3e-6, the float32 rounding of |ln x| ≤ 20.
    """
    e, m = _log_split(x)
    s = (m - _ONE) / (m + _ONE)  # |s| ≤ 0.172
    s2 = s * s
    p = _F(2.0 / 7.0)
    p = _F(2.0 / 5.0) + s2 * p
    p = _F(2.0 / 3.0) + s2 * p
    p = _TWO + s2 * p
    return s * p + e * _LN2


@numba.njit(**_JIT)
def _signed_tanh_half(v):  # pragma: no cover - compiled
    """sign(v)·tanh(min(|v|, LLR_MAX)/2), magnitude floored at 1e-30 (sign(0) = +)."""
    q = _exp_neg(min(abs(v), _CLIP))
    t = max((_ONE - q) / (_ONE + q), _T_MIN)
    return -t if v < _F(0.0) else t


@numba.njit(**_JIT)
def _extrinsic(prod, t):  # pragma: no cover - compiled
    """2·atanh(prod / t): the check's message on the edge whose signed tanh is ``t``.

    Written as ±ln((|t| − |prod|) / (|t| + |prod|)) (one division), the sign from the sign
    bits of ``prod`` and ``t``; the ratio |prod/t| is capped just below 1, so |result| ≤ 17.3
    (Sionna's φ clipping gives ≤ 16.6).
    """
    at, ap = abs(t), abs(prod)
    m = -_log(max(at - ap, at * _EPS) / (at + ap))
    return _as_float(_as_int(m) ^ ((_as_int(prod) ^ _as_int(t)) & _SIGN_BIT))


# --------------------------------------------------------------------------- kernels
# A circulant with shift s joins check i of a base row to variable (i + s) mod Z of base
# column c: for i < Z − s that is c·Z + s + i, for the rest c·Z + i − (Z − s).  Every edge
# loop is split at Z − s into two halves, each over contiguous slices (views) indexed by
# the loop counter alone, so the gather / scatter is fused into vectorised arithmetic.
# (Indexed as ``post[base + s + i]`` instead, the loops are not vectorised: numba wraps
# a possibly negative index per element.)

@numba.njit(**_JIT)
def _tanh_half(post, c2v, tbuf, prod, n):  # pragma: no cover - compiled
    """``tbuf[i]`` = signed tanh of (``post[i]`` − ``c2v[i]``)/2, multiplied into ``prod[i]``, i < n."""
    for i in range(n):
        t = _signed_tanh_half(post[i] - c2v[i])
        tbuf[i] = t
        prod[i] = prod[i] * t


@numba.njit(**_JIT)
def _check_tanh(post, c2v, e0, e1, cols, shifts, z, tbuf, prod):  # pragma: no cover - compiled
    """First half of the boxplus update of one base row's Z checks.

    Reads the posteriors ``post`` ([V] float32) and the row's old check-to-variable messages
    ``c2v[e0:e1]`` ([d, Z]); leaves the signed ``tanh(min(|v|, LLR_MAX)/2)`` of the
    variable-to-check messages v = post − c2v in ``tbuf[:d]`` and their product over the
    row's edges in ``prod`` ([Z]).
    """
    prod[:] = _ONE
    for j in range(e1 - e0):
        e = e0 + j
        base, s = cols[e] * z, shifts[e]
        m = z - s
        _tanh_half(post[base + s:base + z], c2v[e], tbuf[j], prod, m)
        _tanh_half(post[base:base + s], c2v[e, m:], tbuf[j, m:], prod[m:], s)


@numba.njit(**_JIT)
def _flood_half(nxt, c2v, tbuf, prod, n):  # pragma: no cover - compiled
    """New messages ``c2v[i]`` from ``prod[i]`` and ``tbuf[i]``, each added to ``nxt[i]``, i < n."""
    for i in range(n):
        msg = _extrinsic(prod[i], tbuf[i])
        c2v[i] = msg
        nxt[i] += msg


@numba.njit(**_JIT)
def _flood_row(post, nxt, c2v, e0, e1, cols, shifts, z, tbuf, prod):  # pragma: no cover - compiled
    """Flooding update of one base row: new ``c2v[e0:e1]`` from ``post``, each added to ``nxt``."""
    _check_tanh(post, c2v, e0, e1, cols, shifts, z, tbuf, prod)
    for j in range(e1 - e0):
        e = e0 + j
        base, s = cols[e] * z, shifts[e]
        m = z - s
        _flood_half(nxt[base + s:base + z], c2v[e], tbuf[j], prod, m)
        _flood_half(nxt[base:base + s], c2v[e, m:], tbuf[j, m:], prod[m:], s)


@numba.njit(**_JIT)
def _layer_half(post, c2v, tbuf, prod, n):  # pragma: no cover - compiled
    """New messages ``c2v[i]``; ``post[i]`` = old variable-to-check message (unclipped) + new, i < n."""
    for i in range(n):
        msg = _extrinsic(prod[i], tbuf[i])
        post[i] = (post[i] - c2v[i]) + msg
        c2v[i] = msg


@numba.njit(**_JIT)
def _layer_row(post, c2v, e0, e1, cols, shifts, z, tbuf, prod):  # pragma: no cover - compiled
    """Layered update of one base row: new ``c2v[e0:e1]`` and the posteriors they touch."""
    _check_tanh(post, c2v, e0, e1, cols, shifts, z, tbuf, prod)
    for j in range(e1 - e0):
        e = e0 + j
        base, s = cols[e] * z, shifts[e]
        m = z - s
        _layer_half(post[base + s:base + z], c2v[e], tbuf[j], prod, m)
        _layer_half(post[base:base + s], c2v[e, m:], tbuf[j, m:], prod[m:], s)


@numba.njit(**_JIT)
def _parity_half(post, par, n):  # pragma: no cover - compiled
    """``par[i]`` ^= hard decision of ``post[i]`` (bit 1 ⇔ post ≤ 0), i < n."""
    for i in range(n):
        par[i] = par[i] ^ (post[i] <= _F(0.0))


@numba.njit(fastmath=True, error_model="numpy")
def _syndrome_ok(post, row_ptr, cols, shifts, z, par):  # pragma: no cover - compiled
    """True when the hard decisions (bit 1 ⇔ post ≤ 0) satisfy every check."""
    for r in range(row_ptr.size - 1):
        par[:] = False
        for e in range(row_ptr[r], row_ptr[r + 1]):
            base, s = cols[e] * z, shifts[e]
            m = z - s
            _parity_half(post[base + s:base + z], par, m)
            _parity_half(post[base:base + s], par[m:], s)
        bad = False
        for i in range(z):
            bad = bad | par[i]
        if bad:
            return False
    return True


# The per-iteration sweeps are compiled as functions of their own (not inlined) and the
# flooding one alternates its two posterior arrays by argument order: when the two arrays
# are swapped inside one inlined loop, LLVM no longer vectorises the row updates.

@numba.njit(fastmath=True, error_model="numpy")
def _flood_iter(ch, post, nxt, c2v, row_ptr, cols, shifts, z, tbuf, prod):  # pragma: no cover - compiled
    """One flooding iteration: ``nxt`` = ``ch`` + the new check-to-variable messages computed from ``post``."""
    nxt[:] = ch
    for r in range(row_ptr.size - 1):
        _flood_row(post, nxt, c2v, row_ptr[r], row_ptr[r + 1], cols, shifts, z, tbuf, prod)


@numba.njit(fastmath=True, error_model="numpy")
def _layer_iter(post, c2v, row_ptr, cols, shifts, z, tbuf, prod):  # pragma: no cover - compiled
    """One layered iteration: every base row in order, updating ``post`` in place."""
    for r in range(row_ptr.size - 1):
        _layer_row(post, c2v, row_ptr[r], row_ptr[r + 1], cols, shifts, z, tbuf, prod)


@numba.njit(**_JIT)
def _decode_block(ch, row_ptr, cols, shifts, z, k, max_iter, layered, early_stop, bits, b, iters, ok):  # pragma: no cover
    """Decode block ``b`` from its channel LLRs ``ch`` ([V] float32).

    Writes ``bits[b]`` ([k] uint8 decisions), ``iters[b]`` (iterations run) and ``ok[b]``
    (syndrome zero).
    """
    dmax = 0
    for r in range(row_ptr.size - 1):
        dmax = max(dmax, row_ptr[r + 1] - row_ptr[r])
    c2v = np.zeros((cols.size, z), dtype=np.float32)
    post = ch.copy()
    nxt = np.empty(ch.size, dtype=np.float32)  # flooding: odd iterations leave the posterior here
    tbuf = np.empty((dmax, z), dtype=np.float32)
    prod = np.empty(z, dtype=np.float32)
    par = np.empty(z, dtype=np.bool_)
    done = early_stop and _syndrome_ok(post, row_ptr, cols, shifts, z, par)
    it = 0
    while it < max_iter and not done:
        if layered:
            _layer_iter(post, c2v, row_ptr, cols, shifts, z, tbuf, prod)
        elif it % 2 == 0:
            _flood_iter(ch, post, nxt, c2v, row_ptr, cols, shifts, z, tbuf, prod)
        else:
            _flood_iter(ch, nxt, post, c2v, row_ptr, cols, shifts, z, tbuf, prod)
        it += 1
        if early_stop:
            done = _syndrome_ok(nxt if not layered and it % 2 == 1 else post, row_ptr, cols, shifts, z, par)
    if not layered and it % 2 == 1:
        post[:] = nxt
    for i in range(k):
        bits[b, i] = 1 if post[i] <= _F(0.0) else 0
    iters[b] = it
    ok[b] = done if early_stop else _syndrome_ok(post, row_ptr, cols, shifts, z, par)


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _decode_serial(llr, row_ptr, cols, shifts, z, k, max_iter, layered, early_stop, bits, iters, ok):  # pragma: no cover
    """Decode every row of ``llr`` ([N, V] float32) one after another (see :func:`_decode_block`)."""
    for b in range(llr.shape[0]):
        _decode_block(llr[b], row_ptr, cols, shifts, z, k, max_iter, layered, early_stop, bits, b, iters, ok)


@numba.njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def _decode_parallel(llr, row_ptr, cols, shifts, z, k, max_iter, layered, early_stop, bits, iters, ok):  # pragma: no cover
    """Decode every row of ``llr`` ([N, V] float32), one block per ``prange`` iteration."""
    for b in numba.prange(llr.shape[0]):
        _decode_block(llr[b], row_ptr, cols, shifts, z, k, max_iter, layered, early_stop, bits, b, iters, ok)


@dataclass
class DecodeOutput:
    """Result of :func:`decode`.

    :ivar bits: ``[N, k]`` uint8 hard-decided info bits.
    :ivar iterations: ``[N]`` int32 iterations run (0 if the channel decisions were a codeword).
    :ivar converged: ``[N]`` bool, the syndrome was zero when decoding stopped.
    """

    bits: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


@functools.cache
def warm_up() -> None:
    """Compile (or load from the on-disk cache) both decoding kernels now, on a 2-block toy
    graph with the argument types :func:`decode` passes, so that no decoding call — and no
    row's ``receiver_ms`` — pays for it.  Once per process; the classical schemes call it
    when they are built."""
    z = 4
    row_ptr, cols, shifts = np.array([0, 2], np.int64), np.array([0, 1], np.int64), np.array([0, 1], np.int64)
    llr = np.full((2, 2 * z), LLR_MAX, dtype=np.float32)
    for kernel in (_decode_serial, _decode_parallel):
        kernel(llr, row_ptr, cols, shifts, z, z, 2, False, True,
               np.zeros((2, z), np.uint8), np.zeros(2, np.int32), np.zeros(2, np.bool_))


def decode(graph: QCGraph, logits: np.ndarray, num_iter: int, schedule: str = "flooding",
           early_stop: bool = True) -> DecodeOutput:
    """BP-decode ``[N, n]`` channel logits (Sionna's convention).

    :param num_iter: maximum iterations (≥ 1).
    :param schedule: ``flooding`` (matches Sionna's decoder) or ``layered``.
    :param early_stop: stop a block once its hard decisions satisfy every check.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if int(num_iter) < 1:
        raise ValueError(f"num_iter must be >= 1, got {num_iter}")
    llr = channel_llr(graph, logits)
    nblk = llr.shape[0]
    bits = np.zeros((nblk, graph.k), dtype=np.uint8)
    iters = np.zeros(nblk, dtype=np.int32)
    ok = np.zeros(nblk, dtype=np.bool_)
    if nblk:
        kernel = _decode_parallel if numba.get_num_threads() > 1 and nblk > 1 else _decode_serial
        kernel(llr, graph.row_ptr, graph.entry_col, graph.entry_shift, graph.z, graph.k,
               int(num_iter), schedule == "layered", bool(early_stop), bits, iters, ok)
    return DecodeOutput(bits, iters, ok)
