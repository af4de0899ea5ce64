"""One resumable training loop shared by every training phase (JSCC, denoiser, finetune, CDDM).

A phase is a :class:`Task`: it owns its modules, says which parameters train, computes a
loss on a batch of image crops and a validation score, and exports its weights.  The loop
adds: Adam with poly learning-rate decay, SNR sampling, a tqdm progress bar, periodic
validation, atomic resumable saves, data-parallel training under ``torchrun`` (gradients
all-reduced and averaged over ranks each step, as DistributedDataParallel does), and the
final safetensors file + model card.

Resumability: the run folder holds ``state.pt`` (model, optimizer, iteration, wall time,
best score; loaded with ``torch.load(weights_only=True)``).  Randomness is re-seeded at
every iteration from (seed, rank, iteration), so a run killed at any point and resumed
from its last save draws exactly the crops and noise it would have drawn.
"""

from __future__ import annotations

import abc
import hashlib
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from simulator.checkpoints import save_checkpoint
from simulator.data import RandomCropDataset

__all__ = ["TrainSettings", "Task", "train", "git_sha", "poly_lr"]


@dataclass
class TrainSettings:
    """Settings common to every phase.

    :ivar snrs_db: training SNRs (Es/N0, dB); each sample draws one uniformly.
    """

    data_dir: Path
    run_dir: Path
    output: Path
    iters: int = 10_000
    batch: int = 8
    crop: int = 128
    lr: float = 1e-4
    poly_power: float = 0.9
    snrs_db: tuple[float, ...] = (13.0,)
    seed: int = 0
    save_every: int = 200
    val_every: int = 500
    threads: int | None = None
    extra_card: dict[str, Any] = field(default_factory=dict)


class Task(abc.ABC):
    """A training phase.  ``modules`` holds everything whose state is saved/resumed."""

    kind: str = ""

    def __init__(self) -> None:
        self.modules = nn.ModuleDict()

    @abc.abstractmethod
    def trainable(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates (the rest stay frozen)."""

    @abc.abstractmethod
    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss on ``[B, 3, h, w]`` crops with per-sample SNRs ``[B]`` (dB), plus logged parts."""

    @abc.abstractmethod
    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """Validation metrics on fixed crops ``[V, 3, h, w]``; must include ``val_psnr``."""

    @abc.abstractmethod
    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors to ship and the card's ``config``/``kind`` fields."""


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def poly_lr(base: float, it: int, total: int, power: float) -> float:
    """Poly decay: ``base · (1 − it/total)^power``."""
    return base * max(0.0, 1.0 - it / max(total, 1)) ** power


def _seed_for(seed: int, rank: int, it: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{rank}|{it}".encode()).digest()[:8], "little") >> 1


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(task: Task, settings: TrainSettings, validation_images: torch.Tensor,
          progress: Callable[[int, int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a training phase and write the final checkpoint.

    :param validation_images: ``[V, 3, h, w]`` fixed crops for periodic validation.
    :param progress: called as ``progress(iteration, total, logs)`` on rank 0 after each step.
    :returns: the model card written next to the weights.
    """
    distributed = dist.is_available() and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    rank = 0
    device = torch.device("cpu")
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        rank = dist.get_rank()
        if backend == "nccl":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    if settings.threads:
        torch.set_num_threads(settings.threads)

    task.modules.to(device)
    params = task.trainable()
    optimizer = torch.optim.Adam(params, lr=settings.lr)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    state_path = settings.run_dir / "state.pt"
    start, wall_before, history = 0, 0.0, []
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        task.modules.load_state_dict(state["modules"])
        optimizer.load_state_dict(state["optimizer"])
        start, wall_before, history = state["iteration"], state["wall_s"], list(state["history"])

    if distributed:
        for p in params:  # start from rank 0's weights
            dist.broadcast(p.data, src=0)

    data = RandomCropDataset(settings.data_dir, settings.crop)
    snrs = torch.tensor(settings.snrs_db, dtype=torch.float32)
    t0 = time.perf_counter()
    world = dist.get_world_size() if distributed else 1

    def save(it: int) -> None:
        if rank == 0:
            _save_state(state_path, {"modules": task.modules.state_dict(), "optimizer": optimizer.state_dict(),
                                     "iteration": it, "wall_s": wall_before + time.perf_counter() - t0,
                                     "history": history})

    for it in range(start, settings.iters):
        torch.manual_seed(_seed_for(settings.seed, rank, it))
        images = torch.stack([data[i] for i in range(settings.batch)]).to(device)
        snr = snrs[torch.randint(len(snrs), (settings.batch,))].to(device)
        for group in optimizer.param_groups:
            group["lr"] = poly_lr(settings.lr, it, settings.iters, settings.poly_power)
        task.modules.train()
        loss, logs = task.loss(images, snr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if distributed:
            for p in params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= world
        optimizer.step()
        done = it + 1
        if done % settings.val_every == 0 or done == settings.iters:
            task.modules.eval()
            with torch.no_grad():
                torch.manual_seed(settings.seed)
                val = task.validate(validation_images.to(device))
            history.append({"iteration": done, **val})
            logs = {**logs, **val}
        if done % settings.save_every == 0 or done == settings.iters:
            save(done)
        if rank == 0 and progress:
            progress(done, settings.iters, logs)

    card: dict[str, Any] = {}
    if rank == 0:
        tensors, export_card = task.export()
        last_val = history[-1] if history else {}
        card = {
            **export_card,
            "kind": task.kind,
            "iterations": settings.iters,
            "wall_time_s": round(wall_before + time.perf_counter() - t0, 1),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()
                         if k not in ("run_dir", "output", "extra_card")},
            "training_data": str(settings.data_dir),
            "validation": last_val,
            "validation_history": history,
            "world_size": world,
            "device": str(device),
            "torch": torch.__version__,
            "git_sha": git_sha(),
            **settings.extra_card,
        }
        save_checkpoint(settings.output, tensors, card)
    if distributed:
        dist.barrier()
    return card
