"""Exit 0 when a shipped checkpoint is already the output of a training step, else 1.

A step is done when ``checkpoints/NAME.json`` exists, records ITERS iterations and, for a receiver
(a card naming ``jscc_sha256``), was trained behind the shipped codec ``checkpoints/jscc-t-CONFIG``;
a phase-3 decoder (a card naming ``denoiser_sha256``) also behind a shipped denoiser.
The training scripts use it to skip finished steps in a later session (``runs/`` does not travel).

    python scripts/checkpoint_done.py denoiser-cpu-alpha1 6000 && echo done
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator.checkpoints import CheckpointMismatchError, require_same_codec  # noqa: E402

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def done(name: str, iterations: int, folder: Path = CHECKPOINTS) -> bool:
    """Whether ``folder/NAME`` holds ``iterations`` iterations behind the codec (and denoiser) shipped beside it."""
    card_path = folder / f"{name}.json"
    if not card_path.is_file():
        return False
    card = json.loads(card_path.read_text())
    if card.get("iterations") != iterations:
        return False
    behind_denoiser = card.get("denoiser_sha256")
    if behind_denoiser is not None and not any(
            json.loads(p.read_text()).get("sha256") == behind_denoiser for p in folder.glob("denoiser-*.json")):
        return False
    if card.get("jscc_sha256") is None:
        return True
    codec = folder / f"jscc-t-{card.get('config_name', 'cpu')}.json"
    if not codec.is_file():
        return False
    try:
        require_same_codec(card, card_path, json.loads(codec.read_text())["sha256"])
    except CheckpointMismatchError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="checkpoint name under checkpoints/, without suffix")
    parser.add_argument("iterations", type=int)
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINTS, help="folder (default: the repo's checkpoints/)")
    args = parser.parse_args()
    return 0 if done(args.name, args.iterations, args.checkpoints) else 1


if __name__ == "__main__":
    sys.exit(main())
