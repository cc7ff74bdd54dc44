"""``python -m benchmarks``: run the benchmark suite (see ``--help``)."""

from __future__ import annotations

from benchmarks.cli import main

raise SystemExit(main())
