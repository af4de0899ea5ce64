"""Weights are what their cards claim: every load checks the file's SHA-256 against the card."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simulator.checkpoints import (CHECKPOINT_DIR, CheckpointError, CheckpointIntegrityError, file_sha256,
                                   load_checkpoint, save_checkpoint)
from simulator.cli import main
from simulator.registry import create_scheme
from simulator.results import read_rows

SHIPPED = sorted(CHECKPOINT_DIR.glob("*.safetensors"))


def _flip_middle(path: Path, count: int = 400) -> None:
    """Invert ``count`` bytes in the middle of ``path`` (the tensor data, not the header)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + count] = bytes(b ^ 0xFF for b in data[mid : mid + count])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoints_match_their_cards(path: Path) -> None:
    tensors, card = load_checkpoint(path)
    assert tensors and card["sha256"] == file_sha256(path) and card["file"] == path.name


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_receivers_belong_to_the_shipped_codec(path: Path) -> None:
    card = load_checkpoint(path)[1]
    if "jscc_sha256" not in card:  # a codec
        return
    codec = CHECKPOINT_DIR / f"jscc-t-{card.get('config_name', 'cpu')}.safetensors"
    assert card["jscc_sha256"] == load_checkpoint(codec)[1]["sha256"], f"{path.name} was trained on another codec"


def test_altered_checkpoint_is_refused_and_nothing_is_written(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's check: flip 400 bytes in the middle of the shipped JSCC-T weights."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(CHECKPOINT_DIR / f"jscc-t-cpu{suffix}", folder)
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folder))
    argv = ["--scheme", "jscc-t", "--snr", "0", "--limit", "1", "--dataset", str(tiny_dataset),
            "--results-dir", str(tmp_path / "res"), "--no-progress"]
    assert main(argv) == 0  # the intact copy works
    store = tmp_path / "res" / "tiny" / "jscc-t.jsonl"
    before = store.read_bytes()
    capsys.readouterr()

    weights = folder / "jscc-t-cpu.safetensors"
    _flip_middle(weights)
    with pytest.raises(CheckpointIntegrityError, match="jscc-t-cpu.safetensors"):
        create_scheme("jscc-t")
    assert main([*argv, "--snr", "0,5", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("simulate: error:")
    assert str(weights) in err and "SHA-256" in err
    assert store.read_bytes() == before  # neither forced away nor appended to
    assert len(read_rows(store)) == 1


def test_card_without_sha256_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, {"x": torch.zeros(3)}, {"kind": "test"})
    card = json.loads(path.with_suffix(".json").read_text())
    del card["sha256"]
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointIntegrityError, match="no sha256"):
        load_checkpoint(path)


def test_user_trained_file_passed_by_path_loads(tmp_path: Path) -> None:
    """save_checkpoint (what every training command uses) writes the hash the loader checks."""
    path = tmp_path / "elsewhere" / "mine.safetensors"
    save_checkpoint(path, {"x": torch.arange(4.0)}, {"kind": "test"})
    tensors, card = load_checkpoint(path, kind="test")
    assert torch.equal(tensors["x"], torch.arange(4.0)) and card["sha256"] == file_sha256(path)
    with pytest.raises(CheckpointError, match="expected 'other'"):
        load_checkpoint(path, kind="other")
    path.with_suffix(".json").write_text(json.dumps(card | {"sha256": "0" * 64}))  # a card of other weights
    with pytest.raises(CheckpointIntegrityError, match="mine.safetensors"):
        load_checkpoint(path)


def test_figures_fail_on_altered_weights_instead_of_dropping_the_scheme(
        tiny_checkpoints: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.figures.cli import main as figures_main

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoints, folder)
    _flip_middle(folder / "denoiser-tiny-alpha1.safetensors")
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(folder))
    out = tmp_path / "paper"
    assert figures_main(["fig5", "--quick", "--config", "tiny", "--dataset", str(tiny_dataset), "--out", str(out),
                         "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "denoiser-tiny-alpha1.safetensors" in err and "SHA-256" in err
    assert not list(out.rglob("*.jsonl"))


def test_checkpoint_done_skips_only_steps_finished_behind_the_shipped_codec(tiny_checkpoints: Path, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "checkpoint_done.py"
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoints, folder)
    den = folder / "denoiser-tiny-alpha1.json"
    den.write_text(json.dumps(json.loads(den.read_text()) | {"config_name": "tiny", "iterations": 1500}))

    def done(name: str, iterations: int) -> bool:
        run = subprocess.run([sys.executable, str(script), name, str(iterations), "--checkpoints", str(folder)])
        return run.returncode == 0

    assert done("denoiser-tiny-alpha1", 1500)
    assert not done("denoiser-tiny-alpha1", 1000)  # another recipe
    assert not done("denoiser-tiny-alpha9", 1500)  # never trained
    decoder = folder / "ours-decoder-tiny.json"
    behind = {"config_name": "tiny", "iterations": 500, "denoiser_sha256": json.loads(den.read_text())["sha256"]}
    decoder.write_text(json.dumps(json.loads(decoder.read_text()) | behind))
    assert done("ours-decoder-tiny", 500)
    decoder.write_text(json.dumps(json.loads(decoder.read_text()) | {"denoiser_sha256": "1" * 64}))
    assert not done("ours-decoder-tiny", 500)  # its denoiser was retrained since
    codec = folder / "jscc-t-tiny.json"
    codec.write_text(json.dumps(json.loads(codec.read_text()) | {"sha256": "0" * 64}))  # a new codec shipped
    assert not done("denoiser-tiny-alpha1", 1500)
