"""One resumable training loop shared by every training phase (JSCC, denoiser, finetune, CDDM).

A phase is a :class:`Task`: it owns its modules, says which parameters train, computes a
loss on a batch of image crops and a validation score, and exports its weights.  The loop
adds: Adam or AdamW with a learning-rate schedule (:func:`learning_rate`: linear warm-up,
then poly, cosine, constant or warmup-stable-decay), optional mixed precision (bf16
autocast; fp16 with a gradient scaler on GPUs without bf16), optional EMA of the trained
weights (validated and exported in place of the raw weights), SNR sampling, a tqdm progress
bar, periodic validation with wall time and CPU-hours (the learning curve), atomic
resumable saves, data-parallel training under ``torchrun`` (gradients all-reduced and
averaged over ranks each step, as DistributedDataParallel does), and the final safetensors
file + model card.

Devices (``TrainSettings.device``; ``auto`` trains on the GPU when CUDA is available).  On
CUDA each ``torchrun`` rank uses ``cuda:LOCAL_RANK`` and the process group serves both kinds
of tensor (``cpu:gloo,cuda:nccl``; gloo alone on the CPU); float32 matrix products and
convolutions use TF32; batches come from DataLoader workers
(:mod:`simulator.training.data_loader`) in pinned memory; and the step issues no host
synchronisation of its own: tasks return their logged values as tensors, read back every
``log_every`` iterations (the adaptive-receiver and CDDM-sampler phases decide step counts on
the host, which does synchronise).

Resumability: the run folder holds ``state.pt`` (model, optimizer, EMA, iteration, wall
time, CPU time, learning curve; loaded with ``torch.load(weights_only=True)``).  A run can
be extended across sessions by rerunning it with a larger ``--iters``: with the
``constant`` or ``wsd`` schedule the learning rate before the decay window does not depend
on ``iters``, so extending a run changes nothing it has already done.  Randomness is re-seeded at
every iteration from (seed, rank, iteration), so a run killed at any point and resumed
from its last save draws exactly the crops and noise it would have drawn, with any number
of DataLoader workers (on CUDA some backward kernels accumulate with atomics, so there the
weights of a resumed run match to float tolerance, not bit for bit).
"""

from __future__ import annotations

import abc
import contextlib
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from simulator.checkpoints import load_checkpoint, save_checkpoint
from simulator.data import RandomCropDataset
from simulator.devices import cuda_devices, resolve_device
from simulator.training.data_loader import batch_loader, enter_iteration

__all__ = ["SCHEDULES", "OPTIMIZERS", "TrainSettings", "Task", "train", "git_sha", "poly_lr", "learning_rate",
           "sample_snr_db", "is_distributed", "training_device", "training_precision"]

SCHEDULES = ("poly", "cosine", "constant", "wsd")
OPTIMIZERS = ("adam", "adamw")


@dataclass
class TrainSettings:
    """Settings common to every phase.

    :ivar snrs_db: training SNRs (Es/N0, dB); each sample draws one uniformly.
    :ivar snr_range_db: ``(lo, hi)``: each sample draws its SNR uniformly in dB from the
        continuous interval [lo, hi] instead (:func:`sample_snr_db`); ``snrs_db`` is then unused.
    :ivar exclude: folder names under ``data_dir`` never trained on (validation/test splits).
    :ivar schedule: one of :data:`SCHEDULES` (see :func:`learning_rate`).
    :ivar warmup: iterations of linear learning-rate warm-up from 0.
    :ivar decay_iters: ``wsd`` only: length of the final linear decay to 0.
    :ivar bf16: mixed precision: run the task's forward/backward under
        ``torch.autocast(dtype=bfloat16)``, or float16 with a gradient scaler on a GPU without
        bf16 (:func:`training_precision`); tasks keep channel noise and losses in float32.
    :ivar ema: EMA decay of the trained weights (0 = off); validation and export use the EMA.
    :ivar keep_best: also write ``output`` at every validation that is the best so far, so a
        run stopped at any point has its best weights shipped (long campaigns).
    :ivar init_from: a checkpoint this task wrote (safetensors + card), used when the run
        folder holds no state: the weights (and EMA) start from it and the iteration count,
        wall/CPU time and learning curve continue from its card, with a fresh optimizer and a
        new ``warmup`` from there — how a campaign continues in a new session from the
        weights it shipped.
    :ivar device: ``cpu`` (default here; ``semcom-train`` defaults to ``auto``), ``auto`` (the
        GPU when CUDA is available), ``cuda`` or ``cuda:N`` (:func:`training_device`).
    :ivar workers: DataLoader worker processes building the batches (0 = in the training
        thread; ``None`` = 0 on the CPU, up to 4 per rank on CUDA); results do not depend on it.
    :ivar log_every: iterations between read-backs of the logged values passed to ``progress``
        (each is a host synchronisation on CUDA); validation iterations are always logged.
    """

    data_dir: Path
    run_dir: Path
    output: Path
    iters: int = 10_000
    batch: int = 8
    crop: int = 128
    lr: float = 1e-4
    poly_power: float = 0.9
    schedule: str = "poly"
    warmup: int = 0
    decay_iters: int = 0
    optimizer: str = "adam"
    weight_decay: float = 0.0
    bf16: bool = False
    ema: float = 0.0
    snrs_db: tuple[float, ...] = (13.0,)
    snr_range_db: tuple[float, float] | None = None
    exclude: tuple[str, ...] = ("val", "test")
    seed: int = 0
    save_every: int = 200
    val_every: int = 500
    threads: int | None = None
    keep_best: bool = False
    init_from: Path | None = None
    device: str = "cpu"
    workers: int | None = None
    log_every: int = 10
    extra_card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; accepted: {', '.join(SCHEDULES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; accepted: {', '.join(OPTIMIZERS)}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"EMA decay {self.ema} is outside [0, 1)")
        if self.schedule == "wsd" and not 0 < self.decay_iters <= self.iters:
            raise ValueError(f"wsd schedule needs 0 < decay iterations <= iters, got {self.decay_iters}")
        if self.snr_range_db is not None:
            lo, hi = self.snr_range_db
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"SNR range {lo:g}:{hi:g} dB is not an interval LO < HI")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"DataLoader workers must be >= 0, got {self.workers}")
        if self.log_every < 1:
            raise ValueError(f"log interval must be >= 1 iteration, got {self.log_every}")


class Task(abc.ABC):
    """A training phase.  ``modules`` holds everything whose state is saved/resumed."""

    kind: str = ""

    def __init__(self) -> None:
        self.modules = nn.ModuleDict()

    @abc.abstractmethod
    def trainable(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates (the rest stay frozen)."""

    @abc.abstractmethod
    def loss(self, images: torch.Tensor, snr_db: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """Loss on ``[B, 3, h, w]`` crops with per-sample SNRs ``[B]`` (dB), plus logged parts:
        detached 0-d tensors (read back only every ``log_every`` iterations) or floats."""

    @abc.abstractmethod
    def validate(self, images: torch.Tensor) -> dict[str, float]:
        """Validation metrics on fixed crops ``[V, 3, h, w]``; must include ``val_psnr``."""

    @abc.abstractmethod
    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors to ship and the card's ``config``/``kind`` fields."""

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`export` wrote (for ``TrainSettings.init_from``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot start from an exported checkpoint")


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


def learning_rate(settings: TrainSettings, it: int) -> float:
    """Learning rate of iteration ``it`` (0-based).

    Linear warm-up over ``warmup`` iterations, then: ``poly`` (:func:`poly_lr` over the
    remaining iterations), ``cosine`` (half cosine to 0 at ``iters``), ``constant``, or
    ``wsd`` (warmup-stable-decay: constant, then linear to 0 over the last ``decay_iters``).
    """
    base, warm, total = settings.lr, settings.warmup, settings.iters
    if it < warm:
        return base * (it + 1) / warm
    if settings.schedule == "poly":
        return poly_lr(base, it - warm, total - warm, settings.poly_power)
    if settings.schedule == "cosine":
        return 0.5 * base * (1.0 + math.cos(math.pi * min(1.0, (it - warm) / max(total - warm, 1))))
    if settings.schedule == "wsd":
        return base * min(1.0, (total - it) / settings.decay_iters)
    return base


def sample_snr_db(settings: TrainSettings, batch: int) -> torch.Tensor:
    """``[batch]`` float32 training SNRs (dB) from torch's global RNG: uniform over the
    continuous ``snr_range_db`` when set, else uniform over the points ``snrs_db``."""
    if settings.snr_range_db is not None:
        lo, hi = settings.snr_range_db
        return lo + (hi - lo) * torch.rand(batch)
    snrs = torch.tensor(settings.snrs_db, dtype=torch.float32)
    return snrs[torch.randint(len(snrs), (batch,))]


@contextlib.contextmanager
def _swapped(params: list[nn.Parameter], ema: list[torch.Tensor]) -> Iterator[None]:
    """Temporarily load the EMA weights into ``params`` (no-op without EMA)."""
    if not ema:
        yield
        return
    raw = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, e in zip(params, ema):
            p.copy_(e)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, r in zip(params, raw):
                p.copy_(r)


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def is_distributed() -> bool:
    """Whether this process is one of several ``torchrun`` ranks (``WORLD_SIZE`` > 1)."""
    return dist.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1


def training_device(text: str, distributed: bool = False) -> torch.device:
    """The device of this process for ``TrainSettings.device`` (see :func:`simulator.devices.resolve_device`).

    Under ``torchrun`` (``distributed``) a CUDA device means ``cuda:LOCAL_RANK``, one GPU per rank.

    :raises ValueError: a bad device text, CUDA asked for where there is none, or ``cuda:N``
        under ``torchrun`` (the rank chooses the GPU there).
    """
    if distributed and str(text).strip().lower() in ("auto", "cuda") and cuda_devices():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))  # no CUDA call before set_device: no context on GPU 0
        if local_rank >= cuda_devices():
            raise ValueError(f"LOCAL_RANK {local_rank} but only {cuda_devices()} CUDA GPU(s) here; "
                             "run at most that many processes per node")
        return torch.device("cuda", local_rank)
    device = resolve_device(text)
    if distributed and device.type == "cuda":
        raise ValueError(f"device {text!r} under torchrun: each rank trains on cuda:LOCAL_RANK; "
                         "accepted there: auto, cpu or cuda")
    return device


def training_precision(device: torch.device, mixed: bool) -> str:
    """``"fp32"`` (``mixed`` false), else ``"bf16"``, or ``"fp16"`` (autocast + gradient scaler)
    on a CUDA device without native bf16 (compute capability < 8.0)."""
    if not mixed:
        return "fp32"
    if device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        return "fp16"
    return "bf16"


def _read_logs(logs: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """Logged values as floats, with one host synchronisation for all tensors."""
    keys = [k for k, v in logs.items() if isinstance(v, torch.Tensor)]
    values = torch.stack([logs[k].detach().float().reshape(()) for k in keys]).tolist() if keys else []
    return {**{k: float(v) for k, v in logs.items() if not isinstance(v, torch.Tensor)}, **dict(zip(keys, values))}


@contextlib.contextmanager
def _restored_backend_flags() -> Iterator[None]:
    """Put back the process-wide TF32 and cuDNN flags that :func:`train` sets on CUDA."""
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved[1], saved[2]


@_restored_backend_flags()
def train(task: Task, settings: TrainSettings, validation_images: torch.Tensor,
          progress: Callable[[int, int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a training phase and write the final checkpoint.

    :param validation_images: ``[V, 3, h, w]`` fixed crops for periodic validation.
    :param progress: called as ``progress(iteration, total, logs)`` on rank 0 after each step;
        ``logs`` (floats) is filled every ``log_every`` iterations and at validations, else ``{}``.
    :returns: the model card written next to the weights at the end (``{}`` on ranks > 0,
        and with ``keep_best``, where the best weights were written during the run).
    """
    distributed = is_distributed()
    rank = 0
    device = training_device(settings.device, distributed)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
        torch.set_float32_matmul_precision("high")  # TF32 for float32 matrix products …
        torch.backends.cudnn.allow_tf32 = True  # … and convolutions (all three flags restored on return)
        torch.backends.cudnn.benchmark = True  # fixed crop size: autotune the convolutions once
    if distributed:
        if not dist.is_initialized():  # gloo serves the CPU tensors, NCCL the CUDA ones
            dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo")
        rank = dist.get_rank()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    precision = training_precision(device, settings.bf16)

    task.modules.to(device)
    params = task.trainable()
    fused = {"fused": True} if cuda else {}  # one kernel per step for all parameters
    if settings.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay,
                                                             **fused)
    else:
        optimizer = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay, **fused)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    ema = [p.detach().clone() for p in params] if settings.ema else []
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    state_path = settings.run_dir / "state.pt"
    start, wall_before, cpu_before, history = 0, 0.0, 0.0, []
    rewarm_from: int | None = None  # iteration a run restored by init_from restarted its optimizer at
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        task.modules.load_state_dict(state["modules"])
        optimizer.load_state_dict(state["optimizer"])
        start, wall_before, history = state["iteration"], state["wall_s"], list(state["history"])
        cpu_before, rewarm_from = state.get("cpu_s", 0.0), state.get("rewarm_from")
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if ema:
            for e, saved in zip(ema, state.get("ema") or [p.detach() for p in params]):
                e.copy_(saved)
    elif settings.init_from is not None:
        tensors, init_card = load_checkpoint(settings.init_from, kind=task.kind)
        task.load_exported(tensors)
        for e, p in zip(ema, params):
            e.copy_(p.detach())
        start, wall_before = int(init_card["iterations"]), float(init_card["wall_time_s"])
        cpu_before, history = float(init_card["cpu_hours"]) * 3600, list(init_card["validation_history"])
        rewarm_from = start

    if distributed:
        for p in params:  # start from rank 0's weights
            dist.broadcast(p.data, src=0)
        for e in ema:
            dist.broadcast(e, src=0)

    world = dist.get_world_size() if distributed else 1
    workers = settings.workers if settings.workers is not None else (min(4, (os.cpu_count() or 1) // world) if cuda else 0)
    data = RandomCropDataset(settings.data_dir, settings.crop, exclude=settings.exclude)
    batches = iter(batch_loader(data, settings.batch, settings.seed, rank, start, settings.iters, workers=workers,
                                pin_memory=cuda))
    t0, c0 = time.perf_counter(), time.process_time()

    def cpu_seconds() -> float:
        """CPU seconds of this run so far, summed over ranks (on ``device``: NCCL takes CUDA tensors only)."""
        mine = torch.tensor([time.process_time() - c0], dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(mine)
        return cpu_before + float(mine)

    def save(it: int, cpu_s: float) -> None:
        if rank == 0:
            _save_state(state_path, {"modules": task.modules.state_dict(), "optimizer": optimizer.state_dict(),
                                     "ema": ema, "iteration": it, "wall_s": wall_before + time.perf_counter() - t0,
                                     "cpu_s": cpu_s, "history": history, "rewarm_from": rewarm_from,
                                     **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})})

    def write_checkpoint(done: int, cpu_s: float) -> dict[str, Any]:
        """Rank 0 writes the current weights (EMA if on) + card to ``settings.output``."""
        if rank != 0:
            return {}
        with _swapped(params, ema):
            tensors, export_card = task.export()
            tensors = {k: v.detach().clone() for k, v in tensors.items()}
        card = {
            **export_card,
            "kind": task.kind,
            "iterations": done,
            "planned_iterations": settings.iters,
            "wall_time_s": round(wall_before + time.perf_counter() - t0, 1),
            "cpu_hours": round(cpu_s / 3600, 3),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()
                         if k not in ("run_dir", "output", "extra_card")},
            "training_data": str(settings.data_dir),
            "validation": next((h for h in reversed(history) if h["iteration"] == done), {}),
            "validation_history": history,
            "world_size": world,
            "device": str(device),
            "precision": precision,
            "torch": torch.__version__,
            "git_sha": git_sha(),
            **settings.extra_card,
        }
        save_checkpoint(settings.output, tensors, card)
        return card

    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    for it in range(start, settings.iters):
        images, rng_state = next(batches)
        enter_iteration(settings.seed, rank, it, rng_state)  # as if the crops were drawn here
        images = images.to(device, non_blocking=True)
        snr = sample_snr_db(settings, settings.batch).to(device, non_blocking=True)
        lr = learning_rate(settings, it)
        if rewarm_from is not None and settings.warmup:  # fresh optimizer on restored weights
            lr *= min(1.0, (it - rewarm_from + 1) / settings.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        task.modules.train()
        with autocast():
            loss, logs = task.loss(images, snr)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if distributed:  # one all-reduce of all gradients in a flat buffer (per-tensor calls are latency-bound)
            grads = [p.grad for p in params if p.grad is not None]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= world
            offset = 0
            for g in grads:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()
        scaler.step(optimizer)
        scaler.update()
        if ema:
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - min(settings.ema, (it + 1) / (it + 10)))
        done = it + 1
        at_val = done % settings.val_every == 0 or done == settings.iters
        at_save = done % settings.save_every == 0 or done == settings.iters
        cpu_s = cpu_seconds() if at_val or at_save else 0.0
        at_log = at_val or done % settings.log_every == 0 or done == settings.iters
        logs = _read_logs(logs) if at_log and rank == 0 else {}
        if at_val:
            task.modules.eval()
            with torch.no_grad(), _swapped(params, ema):
                torch.manual_seed(settings.seed)
                val = task.validate(validation_images.to(device))
            history.append({"iteration": done, **val, "wall_s": round(wall_before + time.perf_counter() - t0, 1),
                            "cpu_hours": round(cpu_s / 3600, 6), "lr": learning_rate(settings, it)})
            logs = {**logs, **val}
            if settings.keep_best and val["val_psnr"] >= max(h["val_psnr"] for h in history):
                write_checkpoint(done, cpu_s)
        if at_save:
            save(done, cpu_s)
        if rank == 0 and progress:
            progress(done, settings.iters, logs)

    total_cpu_s = cpu_seconds()  # every rank joins this all-reduce
    card: dict[str, Any] = {}
    if not (settings.keep_best and settings.output.exists()):  # keep_best: the best was written during the run
        card = write_checkpoint(settings.iters, total_cpu_s)
    if distributed:
        dist.barrier()
    return card
