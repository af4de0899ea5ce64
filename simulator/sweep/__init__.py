"""The one sweep engine: scheme specs × images × SNR points × realisations, resumable, in this
process or on a Dask cluster.

Three steps shared by both paths (see ``docs/results-format.md`` and ``docs/cluster.md``):

* :mod:`~simulator.sweep.plan` — which points of which scheme are missing from the store (reuse
  rules), cut into tasks (scheme spec × images × pending SNR/realisation points);
* :mod:`~simulator.sweep.execute` — a task's rows (pure: touches no store);
* :mod:`~simulator.sweep.commit` — the driver and only writer (:func:`run_sweeps`, :func:`run_sweep`).

Around them: :mod:`~simulator.sweep.config` (:class:`SweepConfig`, SNR specs),
:mod:`~simulator.sweep.store` (result files and their lock), :mod:`~simulator.sweep.context`
(what rows record about where they ran), :mod:`~simulator.sweep.schemes` (:func:`build_scheme`)
and :mod:`~simulator.sweep.distributed` (the ``--workers/--scheduler/--cluster`` flags; imports
Dask only when used).
"""

from simulator.sweep.commit import SweepError, run_sweep, run_sweeps
from simulator.sweep.config import (
    SNR_FORMS,
    ProgressBar,
    ProgressFactory,
    SweepConfig,
    parse_snr_spec,
)
from simulator.sweep.context import noise_fingerprint, run_context
from simulator.sweep.execute import SweepTaskError, WorkerMismatchError
from simulator.sweep.schemes import build_scheme, cached_scheme
from simulator.sweep.store import ResultsError, StoreLockedError

__all__ = [
    "SweepConfig", "ProgressBar", "ProgressFactory", "parse_snr_spec", "SNR_FORMS",
    "run_sweeps", "run_sweep", "run_context", "noise_fingerprint", "build_scheme", "cached_scheme",
    "SweepError", "SweepTaskError", "WorkerMismatchError", "ResultsError", "StoreLockedError",
]
