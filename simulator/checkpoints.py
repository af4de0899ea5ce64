"""Shipped weights: safetensors files with a JSON model card beside them.

``checkpoints/<name>.safetensors`` holds the tensors; ``checkpoints/<name>.json`` the card
(``kind``, ``config``, training data, iterations, wall time, validation PSNR, git SHA, and
``sha256``, the SHA-256 of the safetensors file).  Only safetensors are ever loaded: no
pickles.  Every load checks the file against the card's ``sha256`` first
(:class:`CheckpointIntegrityError` on a mismatch), so weights altered after training, or a card
that belongs to other weights, never run silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

__all__ = ["CHECKPOINT_DIR", "checkpoint_dir", "CheckpointError", "CheckpointIntegrityError", "CheckpointMismatchError",
           "save_checkpoint", "load_checkpoint", "require_same_codec", "file_sha256", "atomic_write_text"]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


def checkpoint_dir() -> Path:
    """Where schemes look for weights: env ``SEMCOM_CHECKPOINTS``, else the repo's ``checkpoints/``."""
    return Path(os.environ.get("SEMCOM_CHECKPOINTS") or CHECKPOINT_DIR)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, not safetensors, or does not match the model."""


class CheckpointIntegrityError(CheckpointError):
    """A checkpoint's bytes do not have the SHA-256 its card states (or the card states none)."""


class CheckpointMismatchError(CheckpointIntegrityError):
    """A receiver's weights (denoiser, CDDM, finetuned decoder) were trained behind other JSCC-T weights."""


def require_same_codec(card: dict[str, Any], path: str | os.PathLike, codec_sha256: str) -> None:
    """Check that a receiver checkpoint was trained behind the JSCC-T weights loaded with it.

    :param card: the receiver's verified card; its ``jscc_sha256`` names the codec it was trained on
        (cards without one are not checked).
    :param path: the receiver's file, for the message.
    :param codec_sha256: SHA-256 of the JSCC-T weights in use.
    :raises CheckpointMismatchError: the two differ (the receiver would run on latents it never saw).
    """
    trained_on = card.get("jscc_sha256")
    if trained_on is not None and trained_on != codec_sha256:
        raise CheckpointMismatchError(
            f"{Path(path).name} was trained behind JSCC-T weights {trained_on[:12]}…, not the loaded ones "
            f"({codec_sha256[:12]}…); retrain it on this codec (scripts/train_receivers.sh) or restore its codec")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> None:
    """Write ``path`` (.safetensors) and its card (.json), each atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)
    card = dict(card, sha256=file_sha256(path), file=path.name)
    atomic_write_text(path.with_suffix(".json"), json.dumps(card, indent=2) + "\n")


def load_checkpoint(path: Path, kind: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors checkpoint and its card, after checking the file's SHA-256 against the card.

    :param kind: if given, the card's ``kind`` must equal it.
    :returns: ``(tensors, card)``; ``card["sha256"]`` is the verified hash of the file.
    :raises CheckpointIntegrityError: the file's SHA-256 differs from the card's ``sha256`` (or
        the card has none).
    :raises CheckpointError: for a missing file or card, a non-safetensors file or a kind mismatch.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: only .safetensors weights are loaded (got {path.suffix or 'no suffix'!r})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise CheckpointError(f"checkpoint {path} has no model card {card_path.name}")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"model card {card_path} is not JSON: {exc}") from exc
    expected = card.get("sha256") if isinstance(card, dict) else None
    if not isinstance(expected, str):
        raise CheckpointIntegrityError(f"model card {card_path} states no sha256 of {path.name}; "
                                       "cards are written by save_checkpoint (the training commands)")
    actual = file_sha256(path)
    if actual != expected.lower():
        raise CheckpointIntegrityError(f"checkpoint {path} has SHA-256 {actual[:16]}…, its card {card_path.name} "
                                       f"states {expected[:16]}…: the file was altered or the card is not its own")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a valid safetensors file: {exc}") from exc
    if kind is not None and card.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {card.get('kind')!r} model, expected {kind!r}")
    return tensors, card
