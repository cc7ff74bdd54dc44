"""Measure the engines on this machine and derive a :class:`TuningProfile`.

``python -m hybridio calibrate`` runs :func:`calibrate`: on a temporary file it
times the three ways a read can be served -- inline in the loop thread
(``preadv2(RWF_NOWAIT)``), the kernel engine (caio) and the thread engine
(``os.pread`` in the pool) -- across request sizes and concurrency, with the
file page-cached (warm) and evicted (cold), and records for each cell the
throughput and how long the event loop was held.

Two stall figures are kept per cell:

* ``stall_*`` -- the duration of each synchronous step of one operation (the
  code that runs in the loop thread between two suspensions: a submission, a
  completion, an inline copy).  This is what an operation costs the loop, and
  the thresholds are derived from its median: on a shared 2-vCPU VM the tail
  (p90, max -- both recorded) is dominated by the hypervisor and the neighbours
  preempting us, whatever the request size, and moved thresholds run to run.
* ``lag_max_ms`` -- the worst lateness of a 1 ms heartbeat task running beside
  the workload: every stall the loop suffered, including completion callbacks.

The package is measurement and rules:

* ``_measure`` -- the timing, through the real engines and the real raw file;
* ``_rules`` -- each threshold one pure function of the measurements returning
  ``(value, reason)``; :func:`derive` applies them all.  The reason is the
  line ``calibrate`` prints and stores in ``measurements["reasons"]``;
* ``_run`` -- the plan of measurements and :func:`calibrate` running it.
"""

from __future__ import annotations

from ._cells import Cell, format_size
from ._rules import derive
from ._run import Calibration, calibrate, run_calibration

__all__ = (
    "Calibration",
    "Cell",
    "calibrate",
    "derive",
    "format_size",
    "run_calibration",
)
