"""Ship the best weights of running phase-1 campaign runs (docs/training.md, "Continuing the campaign").

For each run NAME, copies ``runs/study/NAME/w.{safetensors,json}`` (the ``--keep-best`` weights and
card) to ``checkpoints/campaign/NAME.*``, checks the file against the card's SHA-256, names the
new file in the card and marks it as a campaign snapshot.  The card keeps the learning curve up
to its best point; the run's full curve (validations after the best included) is added as
``run_history`` from ``runs/study/NAME/state.pt``.

    python scripts/snapshot_campaign.py cpu-bf16 [large-bf16 ...]
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

STATUS = "campaign in progress: best validation so far, not a finished codec (see docs/training.md)"


def snapshot(run: Path, destination: Path) -> str:
    """Copy one run's best weights + card into ``destination``; returns a one-line summary."""
    weights, card_path = run / "w.safetensors", run / "w.json"
    card = json.loads(card_path.read_text())
    if file_sha256(weights) != card["sha256"]:
        raise SystemExit(f"{weights}: SHA-256 differs from its card (a checkpoint being written?); rerun")
    state = run / "state.pt"
    if state.exists():
        card["run_history"] = torch.load(state, weights_only=True)["history"]
    target = destination / f"{run.name}.safetensors"
    shutil.copyfile(weights, target)
    card.update(file=target.name, status=STATUS)
    atomic_write_text(target.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    best = card["validation"]
    last = card.get("run_history", card["validation_history"])[-1]
    return (f"{run.name}: best {best['val_psnr']:.2f} dB @ {card['iterations']} it, {card['cpu_hours']:.2f} CPU-h; "
            f"last validation {last['val_psnr']:.2f} dB @ {last['iteration']} it, {last['cpu_hours']:.2f} CPU-h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run names under --study-dir")
    parser.add_argument("--study-dir", type=Path, default=Path("runs/study"))
    parser.add_argument("--out", type=Path, default=Path("checkpoints/campaign"))
    args = parser.parse_args()
    for name in args.runs:
        print(snapshot(args.study_dir / name, args.out))


if __name__ == "__main__":
    main()
