"""One calibration run: the plan of measurements, run in order, then the rules."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import platform
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

from .._engines import kernel
from .._profile import TuningProfile
from .._selector import filesystem_type
from ._cells import Cell, KiB, MiB
from ._measure import (
    RawReads,
    ScratchFile,
    measure_crowd,
    measure_inline,
    measure_stream,
    measure_submission,
)
from ._rules import CROWD_LEVEL, DEFAULT_BUDGET_MS, STALL_PERCENTILE, SUBMISSIONS, Way, derive


class Scale(NamedTuple):
    """How much one run measures: the full calibration or ``--quick``."""

    quick: bool
    #: Random-read request sizes, each at every concurrency.
    sizes: tuple[int, ...]
    concurrency: tuple[int, ...]
    #: Whole-request sizes for "one thread pread vs kernel chunks".
    large: tuple[int, ...]
    file_size: int
    cell_seconds: float


FULL: Final = Scale(
    quick=False,
    sizes=(4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB),
    concurrency=(1, 4, 16, 64),
    large=(MiB, 4 * MiB, 16 * MiB, 64 * MiB),
    file_size=128 * MiB,
    cell_seconds=0.5,
)
#: Fewer points, shorter cells; large reads and read-ahead measured warm only.
QUICK: Final = Scale(
    quick=True,
    sizes=(4 * KiB, 64 * KiB, MiB, 4 * MiB),
    concurrency=(1, 64),
    large=(4 * MiB, 16 * MiB),
    file_size=32 * MiB,
    cell_seconds=0.15,
)
#: Read sizes sqpoll_read_min chooses from.
CROWD_SIZES: Final = (16 * KiB, 64 * KiB, 256 * KiB, MiB)
#: Candidate read-ahead buffers (the brief: 64 KiB - 1 MiB).
READ_AHEAD_SIZES: Final = (64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, MiB)

Progress = Callable[[int, int, str], None]
Group = Literal["cells", "large", "read_ahead", "submission"]


@dataclasses.dataclass
class Measurements:
    """What the steps measured so far, by group, and the facts of the run."""

    facts: dict[str, Any]
    quick: bool
    cells: list[Cell] = dataclasses.field(default_factory=list)
    large: list[Cell] = dataclasses.field(default_factory=list)
    read_ahead: list[Cell] = dataclasses.field(default_factory=list)
    submission: list[Cell] = dataclasses.field(default_factory=list)

    def add(self, group: Group, cell: Cell) -> None:
        """File a measured *cell* under *group*."""
        groups = {
            "cells": self.cells,
            "large": self.large,
            "read_ahead": self.read_ahead,
            "submission": self.submission,
        }
        groups[group].append(cell)

    def derive(self) -> tuple[TuningProfile, dict[str, str]]:
        """The profile the rules derive from everything measured."""
        return derive(
            self.cells, self.large, self.read_ahead, self.submission, self.facts, quick=self.quick
        )

    def provisional_profile(self) -> TuningProfile:
        """The profile the random and large reads support so far (for routing
        the read-ahead measurements), without the measurements attached."""
        profile, _ = derive(self.cells, self.large, [], [], self.facts, quick=self.quick)
        return dataclasses.replace(profile, measurements={})


@dataclasses.dataclass
class Calibration:
    """What :func:`calibrate` measured and the profile derived from it."""

    profile: TuningProfile
    reasons: dict[str, str]
    cells: list[Cell]
    large: list[Cell]
    read_ahead: list[Cell]
    submission: list[Cell]
    facts: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class _Step:
    """One measurement of the plan: *measure* fills *cell*, filed under *group*."""

    cell: Cell
    group: Group
    measure: Callable[[Cell, Measurements], Awaitable[None]]
    label_width: int = 14


def _plan(
    tf: ScratchFile, engine: kernel.KernelEngine, scale: Scale, rng: random.Random
) -> list[_Step]:
    """Every measurement in order: all warm cells first, then the cold ones."""
    kname = f"kernel:{engine.name}"
    seconds = scale.cell_seconds
    raw = RawReads(tf, engine)

    async def inline(cell: Cell, _: Measurements) -> None:
        await measure_inline(tf, cell, seconds, rng)

    async def pread(cell: Cell, _: Measurements) -> None:
        await raw.measure(cell, seconds, rng)

    async def stream(cell: Cell, so_far: Measurements) -> None:
        await measure_stream(tf, cell, seconds, so_far.provisional_profile())

    steps: list[_Step] = []
    for cache in ("warm", "cold"):
        for size in scale.sizes:
            steps.append(_Step(Cell("inline", cache, size, 1), "cells", inline))
            for level in scale.concurrency:
                # Kernel and thread back to back: the noise of a shared machine
                # hits both of a pair alike.
                steps.append(_Step(Cell(kname, cache, size, level), "cells", pread))
                steps.append(_Step(Cell("thread", cache, size, level), "cells", pread))
        if cache == "cold" and scale.quick:
            continue  # quick mode: large reads and read-ahead warm only
        for size in (s for s in scale.large if s <= tf.size):
            steps.append(_Step(Cell(f"{kname} chunked", cache, size, 1), "large", pread))
            steps.append(_Step(Cell("thread", cache, size, 1), "large", pread))
        for size in READ_AHEAD_SIZES:
            steps.append(_Step(Cell("read-ahead", cache, size, 1), "read_ahead", stream))
    return steps


def _submission_plan(
    tf: ScratchFile, engine: kernel.KernelEngine, scale: Scale, rng: random.Random
) -> tuple[list[_Step], dict[str, str]]:
    """4 KiB reads, one io_uring ring per way of submitting, interleaved: cold
    at every concurrency, warm at the lowest and highest; warm reads of each
    of CROWD_SIZES in company, inline and on the SQPOLL ring; and the facts
    to note (what could not be measured)."""
    if engine.name != "uring":
        return [], {
            "submission": f"not measured: the kernel backend is {engine.name}, not io_uring"
        }
    uring = importlib.import_module("caio.linux_uring")
    allowed = getattr(uring, "SQPOLL_ALLOWED", False)
    ways = [w for w in SUBMISSIONS if allowed or not (w.sqpoll or w.sqpoll_depth or w.miss_sqpoll)]
    notes = {}
    if len(ways) < len(SUBMISSIONS):
        notes["sqpoll"] = "not measured: the kernel does not allow SQPOLL here"
    levels = scale.concurrency
    shape = [("cold", level) for level in levels]
    shape += [("warm", level) for level in (min(levels), max(levels))]
    steps: list[_Step] = []
    for cache, level in shape:
        for way in ways:

            async def measure(cell: Cell, _: Measurements, way: Way = way) -> None:
                await measure_submission(tf, uring, way, cell, scale.cell_seconds, rng)

            cell = Cell(f"submit-{way.name}", cache, 4 * KiB, level)
            steps.append(_Step(cell, "submission", measure, label_width=16))
    if allowed:
        # sqpoll_read_min: each size inline and on the SQPOLL ring, back to back.

        async def crowd(cell: Cell, _: Measurements) -> None:
            await measure_crowd(tf, uring, cell, scale.cell_seconds, rng)

        for size in (s for s in CROWD_SIZES if s <= tf.size):
            for name in ("crowd-inline", "crowd-sqpoll", "crowd-inline-busy", "crowd-sqpoll-busy"):
                cell = Cell(name, "warm", size, CROWD_LEVEL)
                steps.append(_Step(cell, "submission", crowd, label_width=16))
    return steps, notes


async def _run_steps(
    steps: list[_Step], tf: ScratchFile, measured: Measurements, progress: Progress | None
) -> bool:
    """Run *steps* in order, warming or evicting the file as each needs;
    False when an eviction did not work."""
    state = ""
    evicted_ok = True
    for index, step in enumerate(steps, 1):
        if progress is not None:
            progress(index, len(steps), step.cell.label(step.label_width))
        cache = step.cell.cache
        if cache == "warm" and state != "warm":
            tf.warm()
        elif cache == "cold":
            # Every cold cell starts from an evicted file.
            evicted_ok = tf.evict() and evicted_ok
        state = cache
        await step.measure(step.cell, measured)
        measured.add(step.group, step.cell)
    return evicted_ok


def _machine() -> dict[str, Any]:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pages = 0
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count() or 0,
        "memory_gib": round(pages / (1 << 30), 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def _facts(directory: Path, scale: Scale, backend: str, budget_ms: float) -> dict[str, Any]:
    """What the profile records about the run before anything is measured."""
    return {
        "command": "python -m hybridio calibrate" + (" --quick" if scale.quick else ""),
        "machine": _machine(),
        "filesystem": filesystem_type(directory) or "unknown",
        "kernel_backend": backend,
        "file_size": scale.file_size,
        "cell_seconds": scale.cell_seconds,
        "budget_ms": budget_ms,
        "stall_percentile": STALL_PERCENTILE,
    }


async def calibrate(
    directory: str | os.PathLike[str] = ".",
    *,
    quick: bool = False,
    budget_ms: float = DEFAULT_BUDGET_MS,
    progress: Progress | None = None,
    seed: int = 0,
) -> Calibration:
    """Measure the engines on a temporary file in *directory*; derive a profile.

    *progress* is called before each step with (index, total, label).
    """
    directory = Path(directory)
    scale = QUICK if quick else FULL
    rng = random.Random(seed)
    engine = kernel.get_engine()
    measured = Measurements(_facts(directory, scale, engine.name, budget_ms), quick)
    tf = ScratchFile(directory, scale.file_size)
    try:
        steps = _plan(tf, engine, scale, rng)
        if quick:
            measured.facts["submission"] = "not measured in --quick mode"
        else:
            more, notes = _submission_plan(tf, engine, scale, rng)
            steps += more
            measured.facts.update(notes)
        evicted_ok = await _run_steps(steps, tf, measured, progress)
        measured.facts["eviction"] = "ok" if evicted_ok else tf.eviction_note
    finally:
        tf.close()
    profile, reasons = measured.derive()
    m = measured
    return Calibration(profile, reasons, m.cells, m.large, m.read_ahead, m.submission, m.facts)


def run_calibration(
    directory: str | os.PathLike[str] = ".",
    *,
    quick: bool = False,
    budget_ms: float = DEFAULT_BUDGET_MS,
    progress: Progress | None = None,
) -> Calibration:
    """:func:`calibrate` in a fresh event loop (closed, with its rings, afterwards)."""
    return asyncio.run(calibrate(directory, quick=quick, budget_ms=budget_ms, progress=progress))
