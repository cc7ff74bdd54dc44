"""What one measurement of calibrate records: a :class:`Cell`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

KiB: Final = 1024
MiB: Final = 1024 * KiB


def format_size(n: int) -> str:
    """``4096`` -> ``"4 KiB"``; exact powers print without decimals."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def percentile(samples: Sequence[float], pct: float) -> float:
    """The *pct* percentile of *samples* (nearest rank; 0.0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclasses.dataclass
class Cell:
    """One measurement: an engine reading *size* bytes, *concurrency* in flight."""

    engine: str
    cache: str
    size: int
    concurrency: int
    # What the run delivered.
    ops: int = 0
    seconds: float = 0.0
    #: Bytes delivered when that is not ``ops * size`` (inline misses, streams).
    nbytes: int | None = None
    #: Inline cells: the share of reads the page cache served.
    hit_rate: float | None = None
    # How long it held the event loop.
    stall_p50_ms: float = 0.0
    stall_p90_ms: float = 0.0
    stall_max_ms: float = 0.0
    lag_max_ms: float = 0.0
    note: str = ""

    @property
    def mb_s(self) -> float:
        """Throughput in MB/s (10**6 bytes)."""
        done = self.ops * self.size if self.nbytes is None else self.nbytes
        return done / self.seconds / 1e6 if self.seconds > 0 else 0.0

    @property
    def stall_ms(self) -> float:
        """The per-operation stall the thresholds are compared with."""
        return self.stall_p50_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded for the profile file."""
        data = {
            "engine": self.engine,
            "cache": self.cache,
            "size": self.size,
            "concurrency": self.concurrency,
            "ops": self.ops,
            "mb_s": round(self.mb_s, 1),
            "stall_p50_ms": round(self.stall_p50_ms, 4),
            "stall_p90_ms": round(self.stall_p90_ms, 4),
            "stall_max_ms": round(self.stall_max_ms, 4),
            "lag_max_ms": round(self.lag_max_ms, 4),
        }
        if self.hit_rate is not None:
            data["hit_rate"] = round(self.hit_rate, 3)
        if self.note:
            data["note"] = self.note
        return data

    def record(self, ops: int, seconds: float, stalls: list[float], lag: float) -> None:
        """Fill the cell from raw samples (stalls and lag in seconds)."""
        self.ops = ops
        self.seconds = seconds
        self.stall_p50_ms = percentile(stalls, 50) * 1e3
        self.stall_p90_ms = percentile(stalls, 90) * 1e3
        self.stall_max_ms = max(stalls, default=0.0) * 1e3
        self.lag_max_ms = lag * 1e3

    def label(self, width: int = 14) -> str:
        """The progress line of the step measuring this cell."""
        size = format_size(self.size)
        return f"{self.engine:<{width}} {self.cache:<4} {size:>7} x{self.concurrency:<2}"
