"""Table I's latency measurement: the time budget per (scheme, SNR) and round, and the device
a measured scheme is moved to."""

from __future__ import annotations

import time

import pytest
import torch

from simulator.channels import ChannelOutput
from simulator.latency import measure_receiver_latency, move_scheme
from simulator.registry import create_scheme
from simulator.schemes.base import Reception, Scheme, Transmission


class _Sleeper(Scheme):
    """Receiver that takes ``ms`` milliseconds and records which image it received."""

    name = "test-sleeper"

    def __init__(self, ms: float) -> None:
        super().__init__({}, bandwidth_ratio=0.5)
        self.ms, self.seen = ms, []

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def symbols(self, encoded: torch.Tensor) -> torch.Tensor:
        return torch.zeros(0, dtype=torch.complex64)

    def receive(self, tx: Transmission, rx: ChannelOutput) -> Reception:
        self.seen.append(float(tx.image[0, 0, 0]))
        time.sleep(self.ms / 1e3)
        return Reception(tx.image, self.ms / 1e3, {})


def test_budget_times_slow_schemes_on_fewer_images_in_turn() -> None:
    images = [(f"img{i}", torch.full((3, 8, 8), float(i))) for i in range(4)]
    fast, mid, slow = _Sleeper(2.0), _Sleeper(4.0), _Sleeper(30.0)
    points = measure_receiver_latency([("fast", "f", fast), ("mid", "m", mid), ("slow", "s", slow)], images, [5.0],
                                      repeats=3, warmup=1, budget=2.0)
    by = {p.label: p for p in points}
    assert len(by["fast"].samples_ms) == len(by["mid"].samples_ms) == 12  # 2 × 4 × 2 ms holds 4 × 4 ms
    assert len(by["slow"].samples_ms) == 3  # 16 ms holds no 30 ms image: one per round …
    assert slow.seen[1:] == [0.0, 1.0, 2.0]  # … in turn (after the warm-up on image 0)
    everything = measure_receiver_latency([("slow", "s", _Sleeper(30.0))], images, [5.0], repeats=2, warmup=1)
    assert len(everything[0].samples_ms) == 8
    with pytest.raises(ValueError, match="warmup >= 1"):
        measure_receiver_latency([("slow", "s", slow)], images, [5.0], warmup=0, budget=2.0)


def test_move_scheme_moves_the_learned_scheme_device(monkeypatch: pytest.MonkeyPatch, tiny_checkpoints) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tiny_checkpoints))
    scheme = create_scheme("jscc-t:config=tiny")
    move_scheme(scheme, "cpu")
    assert scheme.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in scheme.codec.parameters())


def test_torch_threads_sets_and_restores() -> None:
    from simulator.latency import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("restored even on error")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
