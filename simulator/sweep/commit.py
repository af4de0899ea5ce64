"""Commit: the sweep driver, the only writer of the result store.

:func:`run_sweeps` locks the result file of every requested scheme spec
(:func:`~simulator.sweep.store.store_lock`), plans what is missing (:mod:`simulator.sweep.plan`),
runs the tasks (:mod:`simulator.sweep.execute`) in this process or on a Dask cluster, and
appends each task's rows as it completes (one atomic append per chunk or task, see
:class:`~simulator.sweep.store.ResultStore`), skipping any point already stored.  A sweep killed
at any moment resumes with the same call.  The engine never prints: progress goes to an optional
callback (the CLI passes tqdm), throughput to the ``simulator.sweep`` logger.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from simulator.data import ImageItem
from simulator.schemes.base import Scheme
from simulator.sweep.config import (
    ProgressBar,
    ProgressFactory,
    SweepConfig,
    dataset_label,
)
from simulator.sweep.context import noise_fingerprint
from simulator.sweep.execute import (
    SweepTaskError,
    TaskResult,
    WorkerMismatchError,
    execute_task,
    run_task,
    worker_fingerprint,
)
from simulator.sweep.plan import SchemePlan, Task, make_tasks, plan_scheme
from simulator.sweep.schemes import cached_scheme
from simulator.sweep.store import ResultStore, point_key, scheme_slug, store_lock

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["SweepError", "run_sweeps", "run_sweep", "TASK_RETRIES"]

log = logging.getLogger("simulator.sweep")

#: Dask ``retries`` of a task that raised (a worker that dies is handled by the scheduler: its
#: tasks rerun elsewhere, up to ``distributed.scheduler.allowed-failures`` times).
TASK_RETRIES = 1
#: Seconds to wait for a first worker (batch jobs may queue longer: the sweep then starts anyway).
WAIT_FOR_WORKERS_S = 60


class SweepError(RuntimeError):
    """Some tasks of a sweep failed (the rows of the others are stored): one line naming the first
    failure's scheme spec, image and cause, and how many failed."""


class _Committer:
    """Appends rows to the spec's store (or keeps them in memory), once per point."""

    def __init__(self, plans: dict[str, SchemePlan], stores: dict[str, ResultStore | None],
                 bar: ProgressBar | None) -> None:
        self.plans, self.stores, self.bar = plans, stores, bar
        self.new = 0

    def __call__(self, spec: str, rows: list[dict[str, Any]]) -> None:
        plan = self.plans[spec]
        fresh = {}
        for row in rows:
            key = point_key(row["image_id"], row["snr_db"], row["realization"], row["seed"])
            if key not in plan.done and key not in fresh:
                fresh[key] = row
        store = self.stores[spec]
        if store is not None:
            store.append(list(fresh.values()))
        plan.done.update(fresh)
        self.new += len(fresh)
        if self.bar is not None:
            self.bar.update(len(fresh))


def run_sweeps(specs: list[str], images: list[ImageItem], config: SweepConfig, *,
               executor: Client | None = None, progress: ProgressFactory | None = None,
               schemes: dict[str, Scheme] | None = None) -> list[dict[str, Any]]:
    """Sweep every spec over ``images`` × ``config.snrs`` × realisations, resuming.

    :param config: what to sweep; a ``dataset`` of ``None`` becomes the images' folder name.
    :param specs: canonical scheme specs (e.g. from :func:`simulator.registry.parse_scheme_list`).
    :param images: the images, e.g. from :func:`simulator.data.list_images`.
    :param executor: a ``distributed.Client``: tasks of one image each run on its workers;
        ``None``: in this process, images in groups of ``max(1, batch_size // realizations)``.
    :param progress: ``progress(total, description)``: one bar over every pending point.
    :param schemes: already-built schemes by spec (else built by
        :func:`~simulator.sweep.schemes.cached_scheme`; on the CPU when an executor is given, since
        the driver only plans).  Workers build their own from the spec.
    :returns: the rows of every requested point (reused and new): specs in the given order, each in
        SNR, image, realisation order.  See :mod:`simulator.sweep.plan` for which stored rows are reused.
    :raises simulator.sweep.store.StoreLockedError: another process is writing one of the result files.
    :raises simulator.sweep.store.ResultsError: a result file is corrupt.
    :raises SweepError: a task failed (after every other task ran and its rows were stored).
    """
    if config.dataset is None:
        config = replace(config, dataset=dataset_label(images))
    schemes = dict(schemes or {})
    for spec in specs:
        if spec not in schemes:
            schemes[spec] = cached_scheme(spec, "cpu" if executor is not None else config.device)
    stores = {spec: None if config.results_dir is None else ResultStore(config.result_file(spec)) for spec in specs}
    lock = store_lock([s.path for s in stores.values() if s is not None])
    with lock:
        plans = {}
        for spec in specs:
            store = stores[spec]
            plan = plan_scheme(schemes[spec], spec, images, config, store.load() if store is not None else [])
            if plan.rewrite is not None and store is not None:
                store.rewrite(plan.rewrite)
            plans[spec] = plan
        pending = sum(len(plan.pending) for plan in plans.values())
        reused = sum(len(plan.points) for plan in plans.values()) - pending
        if not pending:
            return [row for plan in plans.values() for row in plan.rows()]
        desc = ",".join(specs) if len(specs) <= 3 else f"{len(specs)} schemes"
        bar = progress(pending, desc) if progress else None
        commit = _Committer(plans, stores, bar)
        t0 = time.perf_counter()
        try:
            if executor is None:
                group = max(1, config.batch_size // config.realizations)
                tasks = [t for plan in plans.values() for t in make_tasks(plan, images, config, group)]
                failures = _run_local(tasks, schemes, commit)
            else:
                tasks = [t for plan in plans.values() for t in make_tasks(plan, images, config, 1)]
                failures = _run_dask(executor, tasks, config, commit)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0
        log.info("sweep: %d new rows (%d reused) in %.1f s: %.2f rows/s", commit.new, reused, seconds,
                 commit.new / seconds if seconds > 0 else float("nan"))
        if failures:
            more = f" (and {len(failures) - 1} more failed tasks)" if len(failures) > 1 else ""
            raise SweepError(f"{failures[0]}{more}; the other rows are stored, rerun to retry")
    return [row for plan in plans.values() for row in plan.rows()]


def run_sweep(scheme: Scheme, spec: str, images: list[ImageItem], config: SweepConfig, *,
              progress: ProgressFactory | None = None, executor: Client | None = None) -> list[dict[str, Any]]:
    """:func:`run_sweeps` of one scheme instance (``spec`` names its result file).

    :returns: the rows of every requested point (reused and new), in SNR, image, realisation order.
    """
    return run_sweeps([spec], images, config, executor=executor, progress=progress, schemes={spec: scheme})


def _run_local(tasks: list[Task], schemes: dict[str, Scheme], commit: _Committer) -> list[str]:
    """Run the tasks here, storing each chunk as it is made; the failures' messages."""
    failures = []
    for task in tasks:
        try:
            for rows in execute_task(task, schemes[task.spec]):
                commit(task.spec, rows)
        except SweepTaskError as exc:
            failures.append(str(exc))
    return failures


def _run_dask(client: Client, tasks: list[Task], config: SweepConfig, commit: _Committer) -> list[str]:
    """Run the tasks on the cluster of ``client``, storing each task's rows as it completes."""
    from distributed import as_completed

    fingerprint = noise_fingerprint(config.channel, config.seed)
    _check_workers(client, config, fingerprint, gpu=any(task.device != "cpu" for task in tasks))
    futures = {}
    for i, task in enumerate(tasks):
        key = f"semcom-{scheme_slug(task.spec)}-{task.items[0].image_id}-{i}-{time.time_ns()}"
        resources = {"GPU": 1} if task.device != "cpu" else None
        futures[client.submit(run_task, replace(task, fingerprint=fingerprint), key=key, pure=False,
                              retries=TASK_RETRIES, resources=resources)] = task
    failures: list[str] = []
    per_worker: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    try:
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                result: TaskResult = future.result()
            except WorkerMismatchError:
                raise  # a worker joined late with other noise or weights: stop, nothing of it is stored
            except Exception as exc:  # noqa: BLE001 - reported as one line per task
                failures.append(_describe(task, exc))
                continue
            commit(task.spec, result.rows)
            stats = per_worker[result.worker]
            stats[0] += 1
            stats[1] += len(result.rows)
            stats[2] += result.seconds
    finally:
        if futures:
            client.cancel(list(futures))
    for worker, (n_tasks, n_rows, busy) in sorted(per_worker.items()):
        log.info("worker %s: %d tasks, %d rows, %.1f s busy, %.2f rows/s", worker, n_tasks, n_rows, busy,
                 n_rows / busy if busy > 0 else float("nan"))
    return failures


def _describe(task: Task, exc: BaseException) -> str:
    if isinstance(exc, SweepTaskError):
        return str(exc)
    message = " ".join(str(exc).split())
    return f"{task.spec} on {', '.join(task.image_ids)}: {type(exc).__name__}: {message}"


def _check_workers(client: Client, config: SweepConfig, fingerprint: str, *, gpu: bool) -> None:
    """Refuse the cluster at start if a connected worker draws other channel noise than this process,
    or if GPU tasks are to run and no worker offers a ``GPU`` resource (they would wait forever)."""
    with contextlib.suppress(TimeoutError):
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
    if gpu and not any(w.get("resources", {}).get("GPU") for w in client.scheduler_info()["workers"].values()):
        raise SweepError(f"device {config.device!r}: no Dask worker offers a GPU resource; start GPU workers with "
                         "`dask worker ADDRESS --nthreads 1 --resources GPU=1` (see docs/cluster.md)")
    seen = client.run(worker_fingerprint, config.channel, config.seed)
    bad = sorted(addr for addr, fp in seen.items() if fp != fingerprint)
    if bad:
        raise WorkerMismatchError(
            f"worker {bad[0]} refused: its channel noise differs from this process's (fingerprint {seen[bad[0]]} != "
            f"{fingerprint}); give every worker the driver's torch and CPU kind, or the rows would not share "
            "common random numbers" + (f" ({len(bad) - 1} more such workers)" if len(bad) > 1 else ""))
