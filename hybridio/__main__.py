"""``python -m hybridio``: see :mod:`hybridio.cli`."""

from __future__ import annotations

from hybridio.cli import main

raise SystemExit(main())
