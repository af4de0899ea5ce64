"""Plan: which points of a scheme a sweep must compute, and the tasks that compute them.

A *point* is (image id, SNR, realisation, seed) (:func:`~simulator.sweep.store.point_key`).  A
stored row is reused for a point only if it is what the scheme would compute now: the scheme's
current config hash (config, weights and ``implementation_version``), its implementation
version, and the channel uses the scheme now spends on an image of that size.  Other rows stay
in the file, unreused.  A *task* is one scheme spec × a few images × their pending SNR and
realisation points; it is what :mod:`simulator.sweep.execute` runs, in this process or on a
Dask worker.  Planning reads nothing and writes nothing: the driver
(:mod:`simulator.sweep.commit`) gives it the stored rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.channels import Channel
from simulator.data import ImageItem
from simulator.schemes.base import Scheme
from simulator.sweep.config import SweepConfig, scheme_config
from simulator.sweep.schemes import is_learned
from simulator.sweep.store import config_hash, point_key, row_key, row_version

__all__ = ["Point", "SchemePlan", "Task", "plan_scheme", "make_tasks", "scheme_hash"]

#: (image_id, snr_db, realization, seed)
Point = tuple[str, float, int, int]


def scheme_hash(scheme: Scheme, channel: Channel) -> str:
    """The config hash of the rows ``scheme`` computes on ``channel``."""
    return config_hash(scheme_config(scheme, channel), scheme.checkpoint_hash(), int(scheme.implementation_version))


@dataclass
class SchemePlan:
    """What one scheme spec has to do in a sweep.

    :ivar spec: the scheme spec (names the result file).
    :ivar static: the fields every row of this spec shares (scheme, spec, dataset, seed, config,
        config hash, checkpoint hash, implementation version, and ``channel`` for fading).
    :ivar points: every requested point, in SNR, image, realisation order.
    :ivar done: point → its row: the reusable stored rows now, the new rows as they are committed.
    :ivar rewrite: with ``force``, the stored rows to keep (the file is rewritten with them before
        anything is computed); ``None`` otherwise.
    :ivar learned: whether the scheme runs a neural network (:func:`~simulator.sweep.schemes.is_learned`).
    """

    spec: str
    static: dict[str, Any]
    points: list[Point]
    done: dict[Point, dict[str, Any]]
    rewrite: list[dict[str, Any]] | None = None
    learned: bool = False

    @property
    def pending(self) -> list[Point]:
        """The requested points without a row yet, in :attr:`points` order."""
        return [p for p in self.points if p not in self.done]

    def rows(self) -> list[dict[str, Any]]:
        """The row of every requested point, in :attr:`points` order.

        :raises KeyError: a point has no row yet.
        """
        return [self.done[p] for p in self.points]


def _reusable(row: dict[str, Any], scheme: Scheme, chash: str, version: int) -> bool:
    return (row["config_hash"] == chash and row_version(row) == version
            and row.get("channel_uses") == scheme.channel_uses(int(row["height"]), int(row["width"])))


def plan_scheme(scheme: Scheme, spec: str, images: list[ImageItem], config: SweepConfig,
                stored: list[dict[str, Any]]) -> SchemePlan:
    """The plan of ``spec`` given the rows ``stored`` in its result file (see the module doc)."""
    cfg = scheme_config(scheme, config.channel)
    ckpt = scheme.checkpoint_hash()
    version = int(scheme.implementation_version)
    chash = config_hash(cfg, ckpt, version)
    points = [point_key(item.image_id, snr, r, config.seed)
              for snr in config.snrs for item in images for r in range(config.realizations)]
    wanted = set(points)
    rewrite = None
    if config.force:
        kept = [row for row in stored if row_key(row)[:4] not in wanted]
        rewrite = kept if len(kept) != len(stored) else None
        done: dict[Point, dict[str, Any]] = {}
    else:
        done = {row_key(row)[:4]: row for row in stored
                if row_key(row)[:4] in wanted and _reusable(row, scheme, chash, version)}
    static = {
        "scheme": scheme.name,
        "spec": spec,
        "dataset": config.dataset,
        "seed": int(config.seed),
        "config": cfg,
        "config_hash": chash,
        "checkpoint_hash": ckpt,
        "implementation_version": version,
    } | ({"channel": config.channel.config()} if config.channel.tag else {})
    return SchemePlan(spec, static, points, done, rewrite, is_learned(spec))


@dataclass(frozen=True)
class Task:
    """One unit of work: ``spec`` × ``items`` × the pending (SNR, realisation) points of each.

    :ivar device: torch device the scheme is built on (``"cpu"`` for classical schemes).
    :ivar static: :attr:`SchemePlan.static` (the worker checks its own config hash against it).
    :ivar points: the points to compute (each of one of ``items``).
    :ivar fingerprint: the driver's :func:`~simulator.sweep.context.noise_fingerprint`, checked by
        Dask workers; ``None`` in-process.
    """

    spec: str
    device: str
    static: dict[str, Any]
    channel: Channel
    snrs: tuple[float, ...]
    realizations: int
    batch_size: int
    items: tuple[ImageItem, ...]
    points: frozenset[Point]
    fingerprint: str | None = field(default=None, compare=False)

    @property
    def seed(self) -> int:
        return int(self.static["seed"])

    @property
    def image_ids(self) -> list[str]:
        return [item.image_id for item in self.items]


def make_tasks(plan: SchemePlan, images: list[ImageItem], config: SweepConfig,
               images_per_task: int) -> list[Task]:
    """The tasks of ``plan``'s pending points: images (in the given order) that have any, in groups
    of ``images_per_task``."""
    pending = set(plan.pending)
    todo = [item for item in images if any(point_key(item.image_id, s, r, config.seed) in pending
                                           for s in config.snrs for r in range(config.realizations))]
    device = config.device if plan.learned else "cpu"
    tasks = []
    for start in range(0, len(todo), max(1, images_per_task)):
        group = tuple(todo[start:start + images_per_task])
        ids = {item.image_id for item in group}
        tasks.append(Task(plan.spec, device, plan.static, config.channel, tuple(config.snrs), config.realizations,
                          config.batch_size, group, frozenset(p for p in pending if p[0] in ids)))
    return tasks
