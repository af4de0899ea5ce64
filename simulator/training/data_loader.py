"""Training batches built by DataLoader workers, deterministic per iteration.

The batch of iteration ``i`` depends only on ``(seed, rank, i)``: the worker that builds it
seeds torch's global CPU RNG with :func:`iteration_seed` and draws the ``batch`` crops of
:class:`~simulator.data.RandomCropDataset` (image, position, flip), exactly as the training
loop drew them in its own thread before.  It also hands back the CPU RNG state after those
draws; the loop seeds every generator with the same seed and then restores that CPU state
(:func:`enter_iteration`), so the SNR draws and channel noise that follow continue the very
stream they continued when the crops were drawn in the main thread.  Hence ``num_workers``
0, 1 or 8 give bit-identical training, and a run resumed at iteration ``i`` (the sampler
starts at ``i``) sees the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib

import torch
from torch.utils.data import DataLoader, Dataset

from simulator.data import RandomCropDataset

__all__ = ["iteration_seed", "IterationBatches", "batch_loader", "enter_iteration"]


def iteration_seed(seed: int, rank: int, it: int) -> int:
    """The 63-bit seed of iteration ``it`` on ``rank`` (SHA-256 of ``"seed|rank|it"``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{rank}|{it}".encode()).digest()[:8], "little") >> 1


class IterationBatches(Dataset):
    """Index ``i`` → ``(images, rng_state)``: ``images`` ``[batch, 3, crop, crop]`` float32 in
    [0, 1] drawn after seeding with :func:`iteration_seed`, and ``rng_state`` the CPU RNG
    state (``torch.get_rng_state()``, uint8) right after the draws."""

    def __init__(self, crops: RandomCropDataset, batch: int, seed: int, rank: int) -> None:
        self.crops, self.batch, self.seed, self.rank = crops, batch, seed, rank

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, it: int) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(iteration_seed(self.seed, self.rank, it))
        images = torch.stack([self.crops[k] for k in range(self.batch)])
        return images, torch.get_rng_state()


def batch_loader(crops: RandomCropDataset, batch: int, seed: int, rank: int, start: int, stop: int,
                 workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """Batches of iterations ``start … stop−1`` in order, built by ``workers`` processes
    (0 = in the calling thread), in pinned memory when ``pin_memory`` (for CUDA copies).

    The loader draws nothing from torch's global RNG (it has its own generator)."""
    if workers < 0:
        raise ValueError(f"DataLoader workers must be >= 0, got {workers}")
    return DataLoader(IterationBatches(crops, batch, seed, rank), batch_size=None, sampler=range(start, stop),
                      num_workers=workers, pin_memory=pin_memory, prefetch_factor=4 if workers else None,
                      generator=torch.Generator())


def enter_iteration(seed: int, rank: int, it: int, rng_state: torch.Tensor) -> None:
    """Seed every generator (CPU and CUDA) for iteration ``it``, then put the CPU generator
    where the batch's crop draws left it (``rng_state`` from :class:`IterationBatches`)."""
    torch.manual_seed(iteration_seed(seed, rank, it))
    torch.set_rng_state(rng_state)
