"""hybridio's benchmark suite: hybridio against the libraries users would pick instead.

Run it with ``make bench`` (or ``python -m benchmarks --help``).  The pieces:

- :mod:`benchmarks.adapters` -- one small class per library, all with the same
  interface (open, read_at, read, write, iter_lines, fsync, close);
- :mod:`benchmarks.workloads` -- what is measured (random/sequential reads,
  line iteration, writes, gzip, small files, a mixed workload);
- :mod:`benchmarks.runner` -- warm-up, rotating interleaved repetitions, CPU time
  and event-loop stall measurement;
- :mod:`benchmarks.report` -- terminal table, JSON, Markdown and PNG plots;
- :mod:`benchmarks.sysinfo` -- machine facts, page-cache eviction and residency.
"""

from __future__ import annotations

__all__ = ()
