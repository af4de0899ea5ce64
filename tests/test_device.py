"""Device hygiene: ``--device`` parsing, the classical link pinned to the CPU whatever Sionna's
default device, the learned schemes on every device present (CUDA ones skipped without CUDA),
synchronised timing and the split-and-retry of batches that run out of GPU memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from simulator.channels import AWGNChannel
from simulator.devices import device_name, map_splitting_on_oom, resolve_device
from simulator.metrics import psnr
from simulator.registry import create_scheme
from simulator.schemes.base import Stopwatch, Transmission

CUDA = torch.cuda.is_available()
#: the devices present: the CPU always, the first GPU when CUDA is available.
DEVICES = ["cpu", pytest.param("cuda:0", marks=[pytest.mark.cuda, pytest.mark.skipif(not CUDA, reason="no CUDA")])]


def _image(height: int = 64, width: int = 96) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = F.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(height, width), mode="bicubic", align_corners=False)
    return x[0].clamp(0, 1)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path_factory.getbasetemp() / "semcom-cache"))


def test_resolve_device_forms() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if CUDA else torch.device("cpu"))
    assert resolve_device(None) == resolve_device("auto")
    for bad in ("gpu", "cuda:x", "cuda:-1", "mps:0", ""):
        with pytest.raises(ValueError, match="accepted: auto, cpu, cuda or cuda:N"):
            resolve_device(bad)
    count = torch.cuda.device_count() if CUDA else 0
    with pytest.raises(ValueError) as err:
        resolve_device(f"cuda:{count}")
    assert len(str(err.value).splitlines()) == 1 and f"cuda:{count}" in str(err.value)
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert device_name("cpu")


def test_simulate_device_cuda_without_cuda_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    if CUDA:
        pytest.skip("CUDA is available here")
    assert main(["--scheme", "jscc-t", "--snr", "5", "--device", "cuda", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cuda" in err[0] and "not available" in err[0]


def test_figures_device_cuda_without_cuda_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.figures.cli import main

    if CUDA:
        pytest.skip("CUDA is available here")
    assert main(["table1", "--device", "cuda:3", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cuda:3" in err[0]


@pytest.mark.parametrize("decoder", ["flooding", "sionna"])
def test_bpg_ldpc_with_sionna_default_device_elsewhere(monkeypatch: pytest.MonkeyPatch, decoder: str) -> None:
    """Sionna's default device is ``cuda:0`` on a GPU machine; the ``meta`` device stands in for
    it here.  The classical link pins its Sionna blocks to the CPU, so it still delivers."""
    import sionna.phy as sp

    from baselines import ldpc_link

    monkeypatch.setattr(ldpc_link, "_LINKS", {})  # no link built before the switch
    monkeypatch.setattr(sp.config, "_device", "meta")  # restored after the test
    scheme = create_scheme(f"bpg-ldpc-1/2:decoder={decoder}" if decoder != "flooding" else "bpg-ldpc-1/2")
    image = _image(96, 128)
    n = scheme.channel_uses(96, 128)
    rx = scheme.transmit(Transmission(scheme.encode(image), image, AWGNChannel().realise(n, 0, "img", 5.0, 0)))
    assert rx.extras["delivered"] and rx.extras["block_errors"] == 0
    assert float(psnr(image, rx.image)) > 25


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", ["jscc-t", "ours", "cddm", "bpg-ldpc-1/2", "bpg-capacity"])
def test_every_scheme_on_every_device(spec: str, device: str) -> None:
    """A short sweep point of every scheme built for ``device``: learned schemes run there
    (same PSNR as on the CPU to 0.05 dB), classical ones stay on the CPU."""
    from simulator.sweep import build_scheme

    image = _image(96, 128)
    scheme = build_scheme(spec, device)
    n = scheme.channel_uses(*image.shape[-2:])
    tx = Transmission(scheme.encode(image), image, AWGNChannel().realise(n, 0, "img", 20.0, 0))
    rx = scheme.transmit(tx)
    learned = hasattr(scheme, "codec")
    assert str(getattr(scheme, "device", "cpu")) == (device if learned else "cpu")
    assert rx.image.shape == image.shape and rx.receiver_s >= 0
    if spec.startswith("bpg-ldpc"):
        assert rx.extras["delivered"]
    if device != "cpu":
        ref = build_scheme(spec, "cpu")
        ref_rx = ref.transmit(Transmission(ref.encode(image), image, tx.channel))
        assert float(psnr(image, rx.image.cpu())) == pytest.approx(float(psnr(image, ref_rx.image)), abs=0.05)


@pytest.mark.parametrize("device", DEVICES)
def test_stopwatch_synchronises(device: str) -> None:
    x = torch.randn(256, 256, device=device)
    with Stopwatch(device) as sw:
        for _ in range(5):
            x = x @ x / 256
    assert sw.seconds > 0


def test_out_of_memory_batches_are_split_and_retried() -> None:
    calls: list[int] = []
    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)

    def fn(items: list[int]) -> list[int]:
        calls.append(len(items))
        if len(items) > 3:
            raise oom("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [2 * i for i in items]

    assert map_splitting_on_oom(fn, list(range(10))) == [2 * i for i in range(10)]
    assert max(c for c in calls if c <= 3) <= 3 and calls[0] == 10

    def single(items: list[int]) -> list[int]:
        raise oom("CUDA out of memory")

    with pytest.raises(oom):
        map_splitting_on_oom(single, [1, 2])

    def other(items: list[int]) -> list[int]:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        map_splitting_on_oom(other, [1, 2, 3])


@pytest.mark.parametrize("spec", ["jscc-t", "ours", "cddm", "bpg-ldpc-1/2"])
def test_cpu_rows_equal_the_committed_rows(spec: str) -> None:
    """``--device cpu`` (batched receivers included) computes the committed rows again: same
    config hash (the stored rows stay reusable) and the same PSNR to 1e-4 dB (kodim01, 12 dB)."""
    import json

    from simulator.api import prepare
    from simulator.channels import AWGNChannel
    from simulator.data import REPO_ROOT, DataError, find_dataset
    from simulator.sweep.plan import scheme_hash
    from simulator.sweep.store import result_path

    try:
        find_dataset("kodak")
    except DataError:
        pytest.skip("Kodak24 not found")
    simulation = prepare(spec, [12.0], dataset="kodak", limit=1, device="cpu")
    chash = scheme_hash(simulation.schemes[spec], AWGNChannel())
    stored = [row for row in map(json.loads, result_path(REPO_ROOT / "results", "kodak", spec).read_text().splitlines())
              if row["config_hash"] == chash and row["image_id"] == "kodim01.png" and row["snr_db"] == 12.0]
    assert stored, f"no committed {spec} row with config hash {chash}"
    row = simulation.run().rows[0]
    assert row["psnr"] == pytest.approx(stored[-1]["psnr"], abs=1e-4)
    assert row["extras"].get("steps") == stored[-1]["extras"].get("steps")
    assert row["device"]["scheme"] == "cpu" and row["device"]["name"]


@pytest.mark.parametrize("spec", ["jscc-t", "ours", "cddm"])
def test_learned_warm_up_transmission_runs(spec: str) -> None:
    """The untimed warm-up a learned scheme runs when placed on CUDA (here called directly)."""
    create_scheme(spec)._warm_up()
