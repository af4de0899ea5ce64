"""The numba LDPC decoder: Sionna's graph, same block errors as Sionna, layered schedule, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.ldpc_decoder import LLR_MAX, channel_llr, decode, qc_graph
from baselines.ldpc_link import LdpcLink
from simulator.channels import snr_db_to_noise_power


def _channel(link: LdpcLink, blocks: int, snr_db: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(``[N, n]`` logits, ``[N, k]`` sent bits) of random blocks over AWGN at Es/N0 = ``snr_db``."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, link.k), generator=g).float()
    x = link.modulate(link.encode(u))
    w = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(0.5)
    no = snr_db_to_noise_power(snr_db)
    return link.demodulate(x + math.sqrt(no) * w, no), u


@pytest.mark.parametrize("k,n", [(1000, 2000), (1500, 2000), (300, 900), (8192, 16_384), (7899, 10_532)])
def test_graph_is_sionnas_and_noiseless_blocks_decode(k: int, n: int) -> None:
    link = LdpcLink(k, n)
    graph = link.graph
    u = torch.randint(0, 2, (3, k), generator=torch.Generator().manual_seed(k)).float()
    c = link.encode(u)
    # the codeword (systematic bits, fillers 0, parity) satisfies every lifted check of the graph
    full = np.zeros((3, graph.num_vars))
    full[:, graph.tx_pos] = c.numpy()[:, graph.deinterleave]
    full[:, :k] = u.numpy()
    pcm = link.encoder.pcm.tocsr()[:, : graph.num_vars]
    rows = (graph.row_ptr.size - 1) * graph.z
    # untransmitted parity bits are unknown here: only check rows whose variables are all known
    known = np.zeros(graph.num_vars, bool)
    known[graph.tx_pos] = known[:k] = True
    known[graph.filler[0]:graph.filler[1]] = True
    sub = pcm[:rows]
    full_rows = np.asarray(sub[:, ~known].sum(axis=1)).ravel() == 0
    assert full_rows.sum() > 0
    assert not (sub[full_rows] @ full.T % 2).any()
    llr = channel_llr(graph, 8.0 * (2.0 * c.numpy() - 1.0))
    assert llr.dtype == np.float32 and np.all(llr[:, graph.filler[0]:graph.filler[1]] == LLR_MAX)
    assert np.all(llr[:, : 2 * graph.z] == 0)
    for schedule in ("flooding", "layered"):
        out = decode(graph, 8.0 * (2.0 * c.numpy() - 1.0), 20, schedule)
        assert out.bits.dtype == np.uint8 and np.array_equal(out.bits, u.numpy())
        assert out.converged.all() and (out.iterations <= 5).all()


@pytest.mark.slow
@pytest.mark.parametrize("k,n,snrs", [(1000, 2000, (0.6, 1.0, 1.4)), (1500, 2000, (3.6, 3.9, 4.3))])
def test_flooding_makes_sionnas_block_errors(k: int, n: int, snrs: tuple[float, ...]) -> None:
    """Rate 1/2 (BG2) and 3/4 (BG1), 100 blocks at three Es/N0 points across the waterfall,
    20 iterations: the same blocks fail (measured: identical at all six points)."""
    sionna = LdpcLink(k, n, decoder="sionna", num_iter=20, early_stop=False)
    flooding = LdpcLink(k, n, decoder="flooding", num_iter=20)
    layered = LdpcLink(k, n, decoder="layered", num_iter=20)
    counts = []
    for i, snr in enumerate(snrs):
        llr, u = _channel(sionna, 100, snr, seed=i)
        ref = ~sionna.decode(llr, u).ok
        got = ~flooding.decode(llr, u).ok
        lay = ~layered.decode(llr, u).ok
        assert abs(int(ref.sum()) - int(got.sum())) <= 3
        assert int((ref & got).sum()) >= int(ref.sum()) - 3
        assert int(lay.sum()) <= int(ref.sum())  # layered is the stronger receiver
        counts.append(int(ref.sum()))
    assert counts[0] > 50 and counts[-1] < 30  # the points span the waterfall


def test_early_stop_changes_no_decision() -> None:
    link = LdpcLink(1000, 2000)
    llr, u = _channel(link, 40, 1.2, seed=3)
    stop = decode(link.graph, llr.numpy(), 20)
    full = decode(link.graph, llr.numpy(), 20, early_stop=False)
    assert (full.iterations == 20).all() and (stop.iterations <= 20).all() and stop.iterations.mean() < 20
    same = stop.converged & full.converged
    assert np.array_equal(stop.bits[same], full.bits[same]) and np.array_equal(stop.converged, full.converged)


def test_bad_input_is_one_clear_error() -> None:
    link = LdpcLink(1000, 2000)
    with pytest.raises(ValueError, match="flooding, layered"):
        decode(link.graph, np.zeros((1, 2000)), 5, "turbo")
    with pytest.raises(ValueError, match="num_iter"):
        decode(link.graph, np.zeros((1, 2000)), 0)
    with pytest.raises(ValueError, match=r"\[N, 2000\]"):
        decode(link.graph, np.zeros((1, 1999)), 5)
    with pytest.raises(ValueError, match="decoder must be one of"):
        LdpcLink(1000, 2000, decoder="fast")
    assert decode(link.graph, np.zeros((0, 2000)), 5).bits.shape == (0, 1000)
    assert qc_graph(link.encoder).num_edges == link.graph.num_edges
