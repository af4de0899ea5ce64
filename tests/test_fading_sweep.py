"""Fading through the sweep, the CLI and every scheme: result files and rows carry the channel,
all schemes face the same realisation, AWGN files stay as they were."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from simulator.channels import AWGNChannel, RayleighBlockChannel, RayleighFastChannel, make_channel
from simulator.cli import main
from simulator.data import list_images
from simulator.registry import create_scheme
from simulator.results import read_rows
from simulator.schemes.base import Transmission
from simulator.sweep import SweepConfig, run_sweep


def _config(tmp_path: Path, channel, **kw) -> SweepConfig:  # noqa: ANN001
    return SweepConfig(snrs=[0.0, 10.0], dataset="tiny", results_dir=tmp_path, channel=channel, **kw)


def test_fading_rows_files_and_common_realisations(tiny_dataset: Path, tmp_path: Path) -> None:
    images = list_images(tiny_dataset)
    a, b = create_scheme("test-identity"), create_scheme("test-identity-b")
    channel = RayleighBlockChannel()
    rows_a = run_sweep(a, "test-identity", images, _config(tmp_path, channel))
    run_sweep(b, "test-identity-b", images, _config(tmp_path, channel))
    path = tmp_path / "tiny" / "rayleigh-block" / "test-identity.jsonl"
    assert path.is_file() and not (tmp_path / "tiny" / "test-identity.jsonl").exists()
    assert len(read_rows(path)) == len(rows_a) == 6
    for row in rows_a:
        assert row["channel"] == {"name": "rayleigh-block", "coherence": None}
        assert row["config"]["channel"] == row["channel"] and row["dataset"] == "tiny"
    # the same h and w for both schemes; one h per image, the same at every SNR point
    for ga, gb, wa, wb in zip(a.gains, b.gains, a.noises, b.noises):
        assert torch.equal(ga, gb) and torch.equal(wa, wb) and torch.all(ga == ga[0])
    assert torch.equal(a.gains[0], a.gains[3]) and not torch.equal(a.gains[0], a.gains[1])
    # AWGN next to it: the old file, no channel field, the old config hash
    awgn = run_sweep(a, "test-identity", images, _config(tmp_path, AWGNChannel()))
    assert (tmp_path / "tiny" / "test-identity.jsonl").is_file()
    assert "channel" not in awgn[0] and "channel" not in awgn[0]["config"]
    assert awgn[0]["config_hash"] != rows_a[0]["config_hash"]
    # fading hurts the identity link on average; a rerun reuses everything
    assert sum(r["psnr"] for r in awgn) > sum(r["psnr"] for r in rows_a)
    sent = a.sent
    run_sweep(a, "test-identity", images, _config(tmp_path, channel))
    assert a.sent == sent


def test_coherence_has_its_own_files(tiny_dataset: Path, tmp_path: Path) -> None:
    scheme = create_scheme("test-identity")
    images = list_images(tiny_dataset, 1)
    rows = run_sweep(scheme, "test-identity", images, _config(tmp_path, make_channel("rayleigh-block", 1000)))
    assert rows[0]["channel"] == {"name": "rayleigh-block", "coherence": 1000}
    assert (tmp_path / "tiny" / "rayleigh-block-L1000" / "test-identity.jsonl").is_file()
    h = scheme.gains[0]
    assert torch.all(h[:1000] == h[0]) and not torch.equal(h[1000], h[0])
    run_sweep(scheme, "test-identity", images, _config(tmp_path, RayleighFastChannel()))
    assert (tmp_path / "tiny" / "rayleigh-fast" / "test-identity.jsonl").is_file()


def test_cli_channel_options(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--scheme", "test-identity", "--dataset", str(tiny_dataset), "--snr", "5", "--limit", "1",
            "--results-dir", str(tmp_path), "--no-progress", "--json"]
    assert main([*args, "--channel", "rayleigh-fast", "--realizations", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["n_rows"] == 2 and (tmp_path / "tiny" / "rayleigh-fast" / "test-identity.jsonl").is_file()
    assert main([*args, "--channel", "rician"]) == 2
    assert "unknown channel 'rician'; accepted: awgn, rayleigh-block, rayleigh-fast" in capsys.readouterr().err
    assert main([*args, "--coherence", "8"]) == 2
    assert "coherence=8 applies to rayleigh-block only" in capsys.readouterr().err


@pytest.fixture
def _tiny_weights(monkeypatch: pytest.MonkeyPatch, tiny_checkpoints: Path) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tiny_checkpoints))


@pytest.mark.usefixtures("_tiny_weights")
@pytest.mark.parametrize("spec", ["jscc-t:config=tiny", "ours:config=tiny", "ours:config=tiny:s1=random"])
def test_learned_schemes_under_fading(spec: str) -> None:
    scheme = create_scheme(spec)
    image = torch.rand(3, 64, 64)
    n = scheme.channel_uses(64, 64)
    enc = scheme.encode(image)
    block = RayleighBlockChannel().realise(n, 0, "img", 5.0, 0)
    rx = scheme.transmit(Transmission(enc, image, block))
    gamma_db = 10 * math.log10(float(block.h[0].abs().square())) + 5.0
    assert rx.image.shape == image.shape and rx.extras["effective_snr_db"] == pytest.approx(gamma_db, abs=1e-4)
    again = scheme.transmit(Transmission(enc, image, block))
    assert torch.equal(rx.image, again.image)  # the realisation decides, including s1=random
    if spec.startswith("ours"):
        from simulator.models.denoiser import initial_similarity

        if spec.endswith("random"):
            assert rx.extras["similarities"] == again.extras["similarities"]
        else:  # s₁ from the effective SNR |h|²·SNR
            s1 = float(initial_similarity(torch.tensor([gamma_db]))[0])
            assert rx.extras["similarities"][0] == pytest.approx(s1, abs=1e-5)
    fast = scheme.transmit(Transmission(enc, image, RayleighFastChannel().realise(n, 0, "img", 5.0, 0)))
    assert fast.image.shape == image.shape and fast.extras["effective_snr_db"] < 5.0


def test_capacity_bound_under_block_fading() -> None:
    import torch.nn.functional as F

    scheme = create_scheme("bpg-capacity")
    g = torch.Generator().manual_seed(0)
    image = F.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(96, 128), mode="bicubic", align_corners=False)[0]
    image = image.clamp(0, 1)
    n = scheme.channel_uses(96, 128)
    enc = scheme.encode(image)
    for r in range(3):
        real = RayleighBlockChannel().realise(n, 0, "cap", 7.0, r)
        rec = scheme.transmit(Transmission(enc, image, real))
        gamma = float(real.h[0].abs().square()) * 10**0.7
        assert abs(rec.extras["budget_bits"] - n * math.log2(1 + gamma)) <= 1 + 1e-6 * n
        assert rec.extras["payload_bits"] <= rec.extras["budget_bits"]
