"""Copy a running (or finished) run's best weights + card to ``checkpoints/candidates/`` (issue 23).

For each ``runs/<step>/<name>.safetensors`` written by ``--keep-best`` (or at the end of a run),
copies the weights to ``checkpoints/candidates/<NAME>.safetensors`` after checking them against the
card's SHA-256, and writes the card beside them with the new file name, a ``status`` saying it is
a candidate (not shipped: the shipped ``checkpoints/*`` and every committed row are unchanged) and
the run's whole learning curve (``run_history``, from ``runs/<step>/state.pt``, validations after
the best included).  Rerun it to refresh a snapshot.

    python scripts/snapshot_candidate.py runs/den-cont-a1/denoiser-cpu-alpha1.safetensors denoiser-cpu-alpha1-cont
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator.checkpoints import atomic_write_text, file_sha256  # noqa: E402

STATUS = ("candidate (issue 23): best validation so far, not shipped; measure it with "
          "scripts/candidate_check.py before it replaces a checkpoint (docs/training.md)")


def snapshot(weights: Path, name: str, destination: Path) -> str:
    """Copy one run's weights + card to ``destination/name.*``; returns a one-line summary."""
    card = json.loads(weights.with_suffix(".json").read_text())
    if file_sha256(weights) != card["sha256"]:
        raise SystemExit(f"{weights}: SHA-256 differs from its card (a checkpoint being written?); rerun")
    state = weights.parent / "state.pt"
    if state.exists():
        card["run_history"] = torch.load(state, weights_only=True, map_location="cpu")["history"]
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / f"{name}.safetensors"
    shutil.copyfile(weights, target)
    if file_sha256(target) != card["sha256"]:
        raise SystemExit(f"{target}: copy differs from {weights}")
    card.update(file=target.name, status=STATUS)
    atomic_write_text(target.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    best, last = card["validation"], card.get("run_history", card["validation_history"])[-1]
    return (f"{name}: best val_psnr {best['val_psnr']:.3f} @ {card['iterations']} it, {card['cpu_hours']:.3f} CPU-h; "
            f"last validation {last['val_psnr']:.3f} @ {last['iteration']} it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="runs/<step>/<name>.safetensors (card beside it)")
    parser.add_argument("name", help="name under checkpoints/candidates/, without suffix")
    parser.add_argument("--out", type=Path, default=Path("checkpoints/candidates"))
    args = parser.parse_args()
    print(snapshot(args.weights, args.name, args.out))


if __name__ == "__main__":
    main()
