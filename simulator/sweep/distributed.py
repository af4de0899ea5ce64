"""Where a sweep runs: in this process, on a local Dask cluster, on an existing Dask cluster, or on
a batch system through dask-jobqueue — the command-line flags and the executor they give.

``--workers N``: a ``LocalCluster`` of N single-thread worker processes; ``--scheduler ADDRESS``:
an existing scheduler (workers started with ``dask worker``); ``--cluster slurm|pbs|sge|lsf
--jobs N``: dask-jobqueue, configured by ``~/.config/dask/jobqueue.yaml`` (queue, cores, memory,
walltime).  Without these flags nothing here imports Dask.  See ``docs/cluster.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Iterator

from simulator.cli_common import positive_int

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterError", "JOBQUEUE_CLUSTERS", "SCHEDULER_TIMEOUT_S", "WORKER_ENV", "add_cluster_arguments",
           "executor_from_args", "jobqueue_cluster", "local_client", "log_to_stderr"]

#: ``--cluster`` value → dask-jobqueue class name.
JOBQUEUE_CLUSTERS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}
#: Seconds a ``--scheduler`` address has to answer.
SCHEDULER_TIMEOUT_S = 10
#: Environment of every worker process this module starts: one compute thread per worker, and
#: glibc malloc thresholds fixed at the sizes its dynamic defaults reach (Dask's nanny otherwise
#: sets ``MALLOC_TRIM_THRESHOLD_=65536``, which makes every large tensor an mmap/munmap pair: the
#: sweeps ran 2–2.5× slower in workers than in-process with it, see docs/cluster.md).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
              "MALLOC_TRIM_THRESHOLD_": "67108864", "MALLOC_MMAP_THRESHOLD_": "33554432"}


def log_to_stderr(prog: str) -> None:
    """Show the sweep's log (per-worker throughput, rows/s) on stderr as ``prog: message`` lines
    (for command-line tools; once per process)."""
    logger = logging.getLogger("simulator.sweep")
    if not any(getattr(h, "_semcom", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(f"{prog}: %(message)s"))
        handler._semcom = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class ClusterError(ValueError):
    """Bad cluster flags or an unreachable cluster (one line; the CLI exits with 2)."""


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers``, ``--scheduler``, ``--cluster`` and ``--jobs`` to ``parser``."""
    g = parser.add_argument_group("distributed sweeps (Dask, see docs/cluster.md; at most one of the first three)")
    g.add_argument("--workers", type=positive_int, metavar="N",
                   help="run the sweep on a local Dask cluster of N single-thread worker processes")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the sweep on an existing Dask cluster (workers started with `dask worker`)")
    g.add_argument("--cluster", choices=list(JOBQUEUE_CLUSTERS),
                   help="run the sweep on a batch system via dask-jobqueue (settings in ~/.config/dask/jobqueue.yaml; "
                        "needs pip install -e '.[cluster]')")
    g.add_argument("--jobs", type=positive_int, metavar="N", help="--cluster: batch jobs to start (default 1)")


@contextlib.contextmanager
def executor_from_args(args: argparse.Namespace) -> Iterator[Client | None]:
    """The executor the flags of :func:`add_cluster_arguments` ask for, closed on exit: ``None``
    (in-process; Dask is not imported) or a ``distributed.Client``.

    With ``args.device`` other than ``"cpu"`` (if the parser has ``--device``), local workers each
    offer one ``GPU`` resource, which the tasks of learned schemes request.

    :raises ClusterError: two of the flags, ``--jobs`` without ``--cluster``, no scheduler answering
        within :data:`SCHEDULER_TIMEOUT_S`, or dask-jobqueue missing or not configured.
    """
    given = [f"--{name}" for name in ("workers", "scheduler", "cluster") if getattr(args, name, None) is not None]
    if len(given) > 1:
        raise ClusterError(f"{' and '.join(given)} given; accepted: at most one of --workers, --scheduler, --cluster")
    if getattr(args, "jobs", None) is not None and getattr(args, "cluster", None) is None:
        raise ClusterError("--jobs needs --cluster slurm|pbs|sge|lsf")
    if not given:
        yield None
        return
    gpu = str(getattr(args, "device", "cpu") or "cpu") != "cpu"
    if args.workers is not None:
        with local_client(args.workers, gpu=gpu) as client:
            yield client
    elif args.scheduler is not None:
        with _remote_client(args.scheduler) as client:
            yield client
    else:
        with _jobqueue_client(args.cluster, args.jobs or 1) as client:
            yield client


@contextlib.contextmanager
def local_client(workers: int, *, gpu: bool = False, **cluster_kwargs: Any) -> Iterator[Client]:
    """A client of a new ``LocalCluster`` of ``workers`` single-thread processes (each with one
    ``GPU`` resource if ``gpu``), closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    kwargs: dict[str, Any] = {"n_workers": workers, "threads_per_worker": 1, "processes": True,
                              "dashboard_address": None, "silence_logs": logging.ERROR}
    if gpu:
        kwargs["resources"] = {"GPU": 1}
    # set before each worker process starts (glibc reads MALLOC_* at start), also on a nanny restart
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ")) | WORKER_ENV
    with (dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
          LocalCluster(**(kwargs | cluster_kwargs)) as cluster, Client(cluster) as client):
        yield client


@contextlib.contextmanager
def _remote_client(address: str) -> Iterator[Client]:
    from distributed import Client

    try:
        client = Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"no Dask scheduler answers at --scheduler {address!r} within {SCHEDULER_TIMEOUT_S} s "
                           f"({type(exc).__name__}); start one with `dask scheduler` and workers with "
                           "`dask worker ADDRESS --nthreads 1`") from None
    with client:
        yield client


def jobqueue_cluster(kind: str, **kwargs: Any) -> Any:
    """A dask-jobqueue cluster of ``kind`` (slurm, pbs, sge, lsf), configured by ``jobqueue.yaml``
    (``kwargs`` override it); no job is submitted yet.  Unless the configuration sets
    ``processes``, each job runs one single-thread worker per core.

    :raises ClusterError: dask-jobqueue missing, or its configuration lacks cores or memory.
    """
    try:
        import dask
        import dask_jobqueue
    except ImportError:
        raise ClusterError(f"--cluster {kind} needs dask-jobqueue: pip install -e '.[cluster]'") from None
    cls = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[kind])
    prologue = list(dask.config.get(f"jobqueue.{kind}.job-script-prologue", None) or [])
    settings: dict[str, Any] = {"job_script_prologue": prologue + [f"export {k}={v}" for k, v in WORKER_ENV.items()]}
    cores = kwargs.get("cores", dask.config.get(f"jobqueue.{kind}.cores", None))
    if kwargs.get("processes", dask.config.get(f"jobqueue.{kind}.processes", None)) is None and cores:
        settings["processes"] = int(cores)
    try:
        return cls(**(settings | kwargs))
    except ValueError as exc:
        raise ClusterError(f"--cluster {kind}: {' '.join(str(exc).split())} (set it under jobqueue: {kind}: in "
                           "~/.config/dask/jobqueue.yaml, see docs/cluster.md)") from None


@contextlib.contextmanager
def _jobqueue_client(kind: str, jobs: int) -> Iterator[Client]:
    from distributed import Client

    cluster = jobqueue_cluster(kind)
    with cluster, Client(cluster) as client:
        cluster.scale(jobs=jobs)
        yield client
