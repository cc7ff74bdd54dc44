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

The thresholds are picked from the numbers by the rules in :func:`derive`; each
comes with a one-line reason that ``calibrate`` prints and stores in the
profile's ``measurements["reasons"]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import itertools
import math
import os
import platform
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, final

from ._engines import kernel
from ._engines.inline import InlineReader, unsupported_reason
from ._engines.threads import default_executor_size
from ._profile import BUILTIN, TuningProfile

__all__ = (
    "Calibration",
    "Cell",
    "calibrate",
    "derive",
    "format_size",
    "run_calibration",
)

KiB: Final = 1024
MiB: Final = 1024 * KiB

FULL_SIZES: Final = (4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB)
QUICK_SIZES: Final = (4 * KiB, 64 * KiB, MiB, 4 * MiB)
FULL_CONCURRENCY: Final = (1, 4, 16, 64)
QUICK_CONCURRENCY: Final = (1, 64)
#: Whole-request sizes for "one thread pread vs kernel chunks".
FULL_LARGE: Final = (MiB, 4 * MiB, 16 * MiB, 64 * MiB)
QUICK_LARGE: Final = (4 * MiB, 16 * MiB)
#: Candidate read-ahead buffers (the brief: 64 KiB - 1 MiB).
READ_AHEAD_SIZES: Final = (64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, MiB)
FULL_FILE_SIZE: Final = 128 * MiB
QUICK_FILE_SIZE: Final = 32 * MiB
FULL_CELL_SECONDS: Final = 0.5
QUICK_CELL_SECONDS: Final = 0.15
#: A loop stall budget: the most one operation may hold the event loop.
DEFAULT_BUDGET_MS: Final = 1.0
#: The percentile of per-operation stalls compared with the budget (see above).
STALL_PERCENTILE: Final = 50
#: How much faster (geometric mean) another way of submitting must be than
#: "adaptive" before the profile picks it ...
SUBMIT_MARGIN: Final = 1.10
#: ... and reach this share of adaptive's rate in every measured cell: a way
#: that wins deep queues but loses shallow ones (SQPOLL alone lost a warm
#: single read 4x in one calibration here, 0.84x in the next) is not taken.
SUBMIT_FLOOR: Final = 0.90
#: A read-ahead within this factor of the best sequential throughput counts as
#: "as fast"; the smallest such buffer wastes least when a seek discards it.
READ_AHEAD_TOLERANCE: Final = 0.90
#: Ops recorded per cell at most (bounds memory for the stall samples).
_MAX_OPS: Final = 200_000

_RWF_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)


def format_size(n: int) -> str:
    """``4096`` -> ``"4 KiB"``; exact powers print without decimals."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def _percentile(samples: Sequence[float], pct: float) -> float:
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
    ops: int = 0
    seconds: float = 0.0
    stall_p50_ms: float = 0.0
    stall_p90_ms: float = 0.0
    stall_max_ms: float = 0.0
    lag_max_ms: float = 0.0
    #: Inline cells: the share of reads the page cache served.
    hit_rate: float | None = None
    #: Bytes delivered when that is not ``ops * size`` (inline misses, streams).
    nbytes: int | None = None
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
        self.stall_p50_ms = _percentile(stalls, 50) * 1e3
        self.stall_p90_ms = _percentile(stalls, 90) * 1e3
        self.stall_max_ms = max(stalls, default=0.0) * 1e3
        self.lag_max_ms = lag * 1e3


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


# -- timing helpers ---------------------------------------------------------------


class _Timed:
    """Await a coroutine while timing each of its synchronous steps.

    A step is what runs in the loop thread between two suspensions, so its
    duration is exactly how long the operation held the event loop then.
    """

    __slots__ = ("_coro", "stall", "suspended")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self.stall = 0.0
        self.suspended = False

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        value: Any = None
        error: BaseException | None = None
        clock = time.perf_counter
        while True:
            start = clock()
            try:
                yielded = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                self.stall = max(self.stall, clock() - start)
                return stop.value
            except BaseException:
                self.stall = max(self.stall, clock() - start)
                raise
            self.stall = max(self.stall, clock() - start)
            self.suspended = True
            try:
                value = yield yielded
                error = None
            except BaseException as exc:  # delivered into the coroutine, as await does
                value = None
                error = exc


@final
class _Heartbeat:
    """A task sleeping 1 ms at a time; its worst lateness is the loop's worst stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        clock = time.perf_counter
        while True:
            start = clock()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, clock() - start - 0.001)

    async def __aenter__(self) -> _Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


async def _drive(
    op: Callable[[int], Coroutine[Any, Any, Any]],
    offsets: Iterator[int],
    concurrency: int,
    seconds: float,
) -> tuple[int, float, list[float], float]:
    """Run ``op(offset)`` from *concurrency* workers until time or offsets run out.

    Returns (ops, elapsed, per-op stalls, heartbeat lag), all in seconds.
    """
    stalls: list[float] = []
    clock = time.perf_counter
    deadline = clock() + seconds

    async def worker() -> None:
        for offset in offsets:  # shared iterator: each offset is read once
            timed = _Timed(op(offset))
            await timed
            stalls.append(timed.stall)
            if clock() > deadline or len(stalls) >= _MAX_OPS:
                return
            if not timed.suspended:
                # The op completed inside its submission (a cached io_uring
                # read): yield so the other workers and the heartbeat run, as
                # any well-behaved caller of a non-suspending read must.
                await asyncio.sleep(0)

    async with _Heartbeat() as beat:
        start = clock()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = clock() - start
    return len(stalls), elapsed, stalls, beat.worst


# -- the file under test ------------------------------------------------------------


class _TestFile:
    """A temporary file in the calibration directory, warmed or evicted on demand."""

    def __init__(self, directory: Path, size: int) -> None:
        self.size = size
        fd, name = tempfile.mkstemp(prefix=".hybridio-calibrate-", dir=directory)
        self.path = Path(name)
        self.fd = fd
        try:
            block = bytearray(os.urandom(MiB))
            for i in range(size // MiB):
                block[:8] = i.to_bytes(8, "little")  # distinct blocks: no dedup anywhere
                os.write(fd, block)
            os.fsync(fd)
        except BaseException:
            self.close()
            raise
        self.eviction_note = ""

    def close(self) -> None:
        """Close and delete the file."""
        try:
            os.close(self.fd)
        finally:
            self.path.unlink(missing_ok=True)

    def warm(self) -> None:
        """Read the whole file once so the page cache holds it."""
        offset = 0
        while offset < self.size:
            offset += len(os.pread(self.fd, 4 * MiB, offset)) or self.size

    def evict(self) -> bool:
        """Drop the file from the page cache; False when that did not work."""
        fadvise = getattr(os, "posix_fadvise", None)
        if fadvise is None:
            self.eviction_note = "os.posix_fadvise is not available on this platform"
            return False
        os.fsync(self.fd)  # dirty pages cannot be dropped
        fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        cached = self.cached_share()
        if cached is not None and cached > 0.1:
            self.eviction_note = (
                f"POSIX_FADV_DONTNEED left {cached:.0%} of the file cached: cold numbers are warm"
            )
            return False
        return True

    def cached_share(self) -> float | None:
        """Share of 64 sampled pages the page cache serves (None: cannot tell)."""
        preadv = getattr(os, "preadv", None)
        if preadv is None or not _RWF_NOWAIT or unsupported_reason(self.fd):
            return None
        buf = bytearray(4096)
        hits = 0
        for i in range(64):
            offset = (self.size // 64) * i
            try:
                preadv(self.fd, (buf,), offset, _RWF_NOWAIT)
                hits += 1
            except BlockingIOError:
                pass
            except OSError:
                return None
        return hits / 64


def _offsets(file_size: int, size: int, cache: str, rng: random.Random) -> Iterator[int]:
    """Random *size*-aligned offsets: cycling when warm, each block once when cold."""
    blocks = list(range(0, file_size - size + 1, size))
    rng.shuffle(blocks)
    if cache == "cold":
        # A block read once is cached afterwards; never read it twice.
        return iter(blocks)
    return itertools.cycle(blocks)


# -- the engines as calibrate drives them -------------------------------------------------


async def _inline_cell(tf: _TestFile, cell: Cell, seconds: float, rng: random.Random) -> None:
    """Inline reads are synchronous: time each call; yield to the loop every ms."""
    reader = InlineReader(tf.fd)
    if not reader.enabled:
        cell.note = f"inline reads unavailable: {reader.reason}"
        return
    offsets = _offsets(tf.size, cell.size, cell.cache, rng)
    stalls: list[float] = []
    clock = time.perf_counter
    async with _Heartbeat() as beat:
        start = last_yield = clock()
        for offset in offsets:
            t0 = clock()
            reader.read(cell.size, offset)
            t1 = clock()
            stalls.append(t1 - t0)
            if t1 - start > seconds or len(stalls) >= _MAX_OPS:
                break
            if t1 - last_yield > 0.001:
                await asyncio.sleep(0)
                last_yield = clock()
        elapsed = clock() - start
    if not reader.enabled:
        cell.note = f"inline reads unavailable: {reader.reason}"
    total = reader.ops + reader.misses
    cell.hit_rate = reader.ops / total if total else 0.0
    cell.record(len(stalls), elapsed, stalls, beat.worst)
    # Throughput counts served bytes only: a miss delivers nothing.
    cell.nbytes = reader.bytes


# -- the plan --------------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]


@dataclasses.dataclass
class _Step:
    label: str
    cache: str
    run: Callable[[], Awaitable[Cell | None]]


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


def _filesystem(directory: Path) -> str:
    try:
        from ._selector import filesystem_type
    except ImportError:
        return "unknown"
    return filesystem_type(directory) or "unknown"


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
    sizes = QUICK_SIZES if quick else FULL_SIZES
    levels = QUICK_CONCURRENCY if quick else FULL_CONCURRENCY
    large_sizes = QUICK_LARGE if quick else FULL_LARGE
    seconds = QUICK_CELL_SECONDS if quick else FULL_CELL_SECONDS
    file_size = QUICK_FILE_SIZE if quick else FULL_FILE_SIZE
    rng = random.Random(seed)
    engine = kernel.get_engine()
    backend = engine.name
    facts: dict[str, Any] = {
        "command": "python -m hybridio calibrate" + (" --quick" if quick else ""),
        "machine": _machine(),
        "filesystem": _filesystem(directory),
        "kernel_backend": backend,
        "file_size": file_size,
        "cell_seconds": seconds,
        "budget_ms": budget_ms,
        "stall_percentile": STALL_PERCENTILE,
    }
    cells: list[Cell] = []
    large: list[Cell] = []
    read_ahead: list[Cell] = []
    submission: list[Cell] = []

    tf = _TestFile(directory, file_size)
    try:
        steps = _plan(
            tf,
            engine,
            sizes,
            levels,
            large_sizes,
            seconds,
            rng,
            cells,
            large,
            read_ahead,
            facts,
            quick,
        )
        if not quick:
            steps += _submission_plan(tf, engine, levels, seconds, rng, submission, facts)
        else:
            facts["submission"] = "not measured in --quick mode"
        state = ""
        evicted_ok = True
        for index, step in enumerate(steps, 1):
            if progress is not None:
                progress(index, len(steps), step.label)
            if step.cache == "warm" and state != "warm":
                tf.warm()
                state = "warm"
            elif step.cache == "cold":
                # Every cold cell starts from an evicted file.
                evicted_ok = tf.evict() and evicted_ok
                state = "cold"
            await step.run()
        facts["eviction"] = "ok" if evicted_ok else tf.eviction_note
    finally:
        tf.close()
    profile, reasons = derive(cells, large, read_ahead, submission, facts, quick=quick)
    return Calibration(profile, reasons, cells, large, read_ahead, submission, facts)


def _plan(
    tf: _TestFile,
    engine: kernel.KernelEngine,
    sizes: Sequence[int],
    levels: Sequence[int],
    large_sizes: Sequence[int],
    seconds: float,
    rng: random.Random,
    cells: list[Cell],
    large: list[Cell],
    read_ahead: list[Cell],
    facts: dict[str, Any],
    quick: bool,
) -> list[_Step]:
    """Every measurement in order: all warm cells first, then the cold ones."""
    steps: list[_Step] = []
    kname = f"kernel:{engine.name}"

    def add(target: list[Cell], cell: Cell, run: Callable[[Cell], Awaitable[None]]) -> None:
        async def measure_cell() -> Cell:
            await run(cell)
            target.append(cell)
            return cell

        label = (
            f"{cell.engine:<14} {cell.cache:<4} {format_size(cell.size):>7} x{cell.concurrency:<2}"
        )
        steps.append(_Step(label, cell.cache, measure_cell))

    def inline_run(cell: Cell) -> Awaitable[None]:
        return _inline_cell(tf, cell, seconds, rng)

    from ._layers.raw import RawKernelFile

    # Both engines are measured through the real raw file: the kernel one with
    # the thread switch and inline reads out of the way, the thread one with
    # every read sent to a worker thread.
    chunked = RawKernelFile(
        tf.fd, engine, str(tf.path), thread_read_min=1 << 62, sync_submit_max=1 << 62, inline_max=0
    )
    threaded = RawKernelFile(tf.fd, engine, str(tf.path), thread_read_min=0, inline_max=0)

    def engine_run(cell: Cell) -> Awaitable[None]:
        async def measure() -> None:
            size = cell.size

            def op(offset: int) -> Coroutine[Any, Any, bytes]:
                raw = threaded if cell.engine == "thread" else chunked
                return raw.pread(size, offset, inline=False)

            offsets = _offsets(tf.size, size, cell.cache, rng)
            cell.record(*await _drive(op, offsets, cell.concurrency, seconds))

        return measure()

    def large_run(cell: Cell) -> Awaitable[None]:
        async def measure() -> None:
            size = cell.size

            def op(offset: int) -> Coroutine[Any, Any, bytes]:
                raw = threaded if cell.engine == "thread" else chunked
                return raw.pread(size, offset, inline=False)

            offsets = _offsets(tf.size, size, cell.cache, rng)
            cell.record(*await _drive(op, offsets, 1, seconds))

        return measure()

    def read_ahead_run(cell: Cell) -> Awaitable[None]:
        async def measure() -> None:
            from ._api import async_open

            # A stream read the way applications do it: small reads served from
            # the read-ahead buffer, one refill per buffer.
            # The profile being built so far routes the refills (inline_max,
            # max_chunk), so the buffer is measured the way it will be used.
            provisional, _ = derive(cells, large, [], [], facts, quick=quick)
            profile = dataclasses.replace(provisional, measurements={})
            # Warm: whole scans until the time is up.  Cold: one scan at most,
            # since a second would read what the first one cached.
            stalls: list[float] = []
            total = 0
            clock = time.perf_counter
            async with _Heartbeat() as beat:
                start = clock()
                while True:
                    async with async_open(tf.path, "rb", buffering=cell.size, profile=profile) as f:
                        while clock() - start < seconds * 2:
                            timed = _Timed(f.read(16 * KiB))
                            data = await timed
                            stalls.append(timed.stall)
                            if not data:
                                break
                            total += len(data)
                    if cell.cache == "cold" or clock() - start >= seconds:
                        break
                elapsed = clock() - start
            cell.record(len(stalls), elapsed, stalls, beat.worst)
            cell.nbytes = total

        return measure()

    for cache in ("warm", "cold"):
        for size in sizes:
            add(cells, Cell("inline", cache, size, 1), inline_run)
            for level in levels:
                # Kernel and thread back to back: the noise of a shared machine
                # hits both of a pair alike.
                add(cells, Cell(kname, cache, size, level), engine_run)
                add(cells, Cell("thread", cache, size, level), engine_run)
        if cache == "cold" and quick:
            continue  # quick mode: large reads and read-ahead warm only
        for size in large_sizes:
            if size > tf.size:
                continue
            add(large, Cell(f"{kname} chunked", cache, size, 1), large_run)
            add(large, Cell("thread", cache, size, 1), large_run)
        for size in READ_AHEAD_SIZES:
            add(read_ahead, Cell("read-ahead", cache, size, 1), read_ahead_run)
    return steps


#: The ways single io_uring reads can reach the kernel, compared by calibrate:
#: (name, submit_mode, sqpoll, sqpoll_depth).  With SQPOLL the kernel thread
#: picks the SQEs up itself, so the flush only wakes it: the mode does not
#: matter there.  "deep16" is adaptive with a second, SQPOLL ring past 16 in
#: flight: SQPOLL for deep queues only.
SUBMISSIONS: Final = (
    ("adaptive", "adaptive", False, 0),
    ("immediate", "immediate", False, 0),
    ("tick", "tick", False, 0),
    ("sqpoll", "immediate", True, 0),
    ("deep16", "adaptive", False, 16),
)


def _submission_plan(
    tf: _TestFile,
    engine: kernel.KernelEngine,
    levels: Sequence[int],
    seconds: float,
    rng: random.Random,
    out: list[Cell],
    facts: dict[str, Any],
) -> list[_Step]:
    """4 KiB reads through the real raw file, one io_uring ring per way of
    submitting, interleaved: cold at every concurrency, warm (inline reads
    off, so the ring serves them) at the lowest and highest."""
    if engine.name != "uring":
        facts["submission"] = f"not measured: the kernel backend is {engine.name}, not io_uring"
        return []
    module = importlib.import_module("caio.linux_uring")
    allowed = getattr(module, "SQPOLL_ALLOWED", False)
    ways = [w for w in SUBMISSIONS if allowed or not (w[2] or w[3])]
    if len(ways) < len(SUBMISSIONS):
        facts["sqpoll"] = "not measured: the kernel does not allow SQPOLL here"
    from ._layers.raw import RawKernelFile

    steps: list[_Step] = []
    size = 4 * KiB
    shape = [("cold", level) for level in levels]
    shape += [("warm", level) for level in (min(levels), max(levels))]
    for cache, level in shape:
        for name, mode, sqpoll, depth in ways:
            cell = Cell(f"submit-{name}", cache, size, level)

            async def measure(
                cell: Cell = cell, mode: str = mode, sqpoll: bool = sqpoll, depth: int = depth
            ) -> Cell:
                loop = asyncio.get_running_loop()
                ctx = module.Context(max_requests=BUILTIN.max_requests, sqpoll=sqpoll)
                ring = kernel.KernelEngine(loop, "uring", ctx, submit_mode=mode, sqpoll_depth=depth)
                try:
                    if sqpoll and not ring.sqpoll:
                        cell.note = "the kernel did not grant SQPOLL"
                    inline = BUILTIN.inline_max if cell.cache == "cold" else 0
                    raw = RawKernelFile(tf.fd, ring, str(tf.path), inline_max=inline)

                    def op(offset: int) -> Coroutine[Any, Any, bytes]:
                        return raw.pread(size, offset)

                    offsets = _offsets(tf.size, size, cell.cache, rng)
                    cell.record(*await _drive(op, offsets, cell.concurrency, seconds))
                finally:
                    ring.close()
                out.append(cell)
                return cell

            label = f"{cell.engine:<16} {cache:<4} {format_size(size):>7} x{level:<2}"
            steps.append(_Step(label, cache, measure))
    return steps


def _choose_submission(
    cells: Sequence[Cell], facts: dict[str, Any], quick: bool
) -> tuple[str, bool, int, str]:
    """(submit_mode, sqpoll, sqpoll_depth, reason): "adaptive", unless another
    way's geometric mean against it over the measured cells is at least
    SUBMIT_MARGIN and it reaches SUBMIT_FLOOR of adaptive's rate in every cell
    (then the best such way)."""
    base = BUILTIN.submit_mode, False, BUILTIN.sqpoll_depth
    if quick:
        return (*base, "not measured in --quick mode: kept the default")
    if not cells:
        return (*base, f"{facts.get('submission', 'not measured')}: kept the default")
    by_way: dict[str, dict[tuple[str, int], float]] = {}
    for c in cells:
        if c.note or c.mb_s <= 0:
            continue
        by_way.setdefault(c.engine.removeprefix("submit-"), {})[(c.cache, c.concurrency)] = c.mb_s
    keys = set.intersection(*(set(v) for v in by_way.values())) if by_way else set()
    if not keys or "adaptive" not in by_way:
        return (*base, "no complete set of measurements: kept the default")
    base_rates = by_way["adaptive"]
    scores = {}
    for way, rates in by_way.items():
        worst = min(rates[k] / base_rates[k] for k in keys)
        gmean = math.exp(sum(math.log(rates[k] / by_way["adaptive"][k]) for k in keys) / len(keys))
        scores[way] = (gmean, worst)
    fair = {w: sc for w, sc in scores.items() if sc[1] >= SUBMIT_FLOOR}
    pick = "adaptive"
    for way, (gmean, _) in sorted(fair.items(), key=lambda kv: -kv[1][0]):
        if way != "adaptive" and gmean >= SUBMIT_MARGIN:
            pick = way
        break
    detail = ", ".join(
        f"{w} {g:.2f}x (worst cell {x:.2f}x)"
        for w, (g, x) in sorted(scores.items())
        if w != "adaptive"
    )
    reason = (
        f"4 KiB reads against adaptive, geometric mean over {len(keys)} cells: {detail}; "
        f"another way needs >= {SUBMIT_MARGIN:.2f}x and no cell below {SUBMIT_FLOOR:.2f}x: {pick}"
    )
    _, mode, sqpoll, depth = next(w for w in SUBMISSIONS if w[0] == pick)
    return mode, sqpoll, depth, reason


# -- picking the thresholds ---------------------------------------------------------------


def _pow2_floor(n: float) -> int:
    return 1 << max(0, int(n).bit_length() - 1) if n >= 1 else 1


def derive(
    cells: Sequence[Cell],
    large: Sequence[Cell],
    read_ahead: Sequence[Cell],
    submission: Sequence[Cell],
    facts: dict[str, Any],
    *,
    quick: bool = False,
) -> tuple[TuningProfile, dict[str, str]]:
    """The thresholds the measurements support, each with a one-line reason."""
    base = TuningProfile()
    budget = float(facts.get("budget_ms", DEFAULT_BUDGET_MS))
    pct = f"p{STALL_PERCENTILE}"
    reasons: dict[str, str] = {}
    values: dict[str, Any] = {}

    def find(engine: str, cache: str, size: int, level: int = 1) -> Cell | None:
        for c in cells:
            if (c.engine, c.cache, c.size, c.concurrency) == (engine, cache, size, level):
                return c
        return None

    sizes = sorted({c.size for c in cells})
    kname = next((c.engine for c in cells if c.engine.startswith("kernel:")), "kernel")

    # inline_max: the largest size whose warm inline read stays within budget
    # and is not slower than a kernel or thread read of the same size (past
    # that point a thread serves it faster *and* leaves the loop free).
    inline = [c for c in cells if c.engine == "inline" and c.cache == "warm" and c.ops]
    fits = []
    beaten: tuple[Cell, str] | None = None
    for c in sorted(inline, key=lambda c: c.size):
        if c.stall_ms > budget:
            beaten = beaten or (c, f"took {c.stall_ms:.2f} ms ({pct})")
            continue
        rivals = [r for e in (kname, "thread") if (r := find(e, "warm", c.size)) and r.ops]
        rival = max(rivals, key=lambda r: r.mb_s, default=None)
        if rival is not None and rival.mb_s > c.mb_s:
            beaten = beaten or (
                c,
                f"ran {c.mb_s:.0f} MB/s inline vs {rival.mb_s:.0f} MB/s on {rival.engine}",
            )
            continue
        if beaten is None:
            fits.append(c)
    if not inline:
        values["inline_max"] = 0
        note = next((c.note for c in cells if c.engine == "inline" and c.note), "")
        reasons["inline_max"] = f"inline reads do not work here ({note or 'no data'}): off"
    elif fits:
        best = fits[-1]
        values["inline_max"] = best.size
        tail = (
            f"; {format_size(beaten[0].size)} {beaten[1]}"
            if beaten
            else " (the largest size measured)"
        )
        reasons["inline_max"] = (
            f"a cached {format_size(best.size)} inline read holds the loop "
            f"{best.stall_ms:.3f} ms ({pct}) at {best.mb_s:.0f} MB/s{tail}"
        )
    else:
        values["inline_max"] = 0
        assert beaten is not None
        reasons["inline_max"] = (
            f"already at {format_size(beaten[0].size)} the inline read {beaten[1]}: off"
        )

    # inline_batch_max: bytes one batch may serve inline within the budget.
    if values["inline_max"]:
        fast = max(fits, key=lambda c: c.mb_s)
        batch = _pow2_floor(fast.mb_s * 1e6 * budget / 1e3)
        values["inline_batch_max"] = max(batch, values["inline_max"])
        reasons["inline_batch_max"] = (
            f"inline reads copy {fast.mb_s:.0f} MB/s at best, so {budget:g} ms serves "
            f"~{format_size(int(fast.mb_s * 1e3 * budget))}; rounded down to a power of two"
        )
    else:
        values["inline_batch_max"] = base.inline_batch_max
        reasons["inline_batch_max"] = "inline reads are off: kept the default"

    # max_chunk: the largest kernel request whose submission stays within budget
    # (warm: io_uring copies cached pages inside the submit; cold: Linux AIO
    # reads a buffered fd inside io_submit).
    per_size = []
    for size in sizes:
        pair = [find(kname, cache, size) for cache in ("warm", "cold")]
        got = [c for c in pair if c is not None and c.ops]
        if got:
            per_size.append((size, max(c.stall_ms for c in got)))
    ok = [(s, st) for s, st in per_size if st <= budget]
    if ok:
        size, stall = max(ok)
        values["max_chunk"] = size
        over = [(s, st) for s, st in per_size if s > size]
        tail = (
            f"; {format_size(over[0][0])} took {over[0][1]:.2f} ms"
            if over
            else " (the largest size measured)"
        )
        reasons["max_chunk"] = (
            f"a {format_size(size)} {kname} request holds the loop {stall:.3f} ms "
            f"({pct}, warm or cold, whichever is worse){tail}"
        )
    elif per_size:
        values["max_chunk"] = per_size[0][0]
        reasons["max_chunk"] = (
            f"every {kname} request size exceeded the {budget:g} ms budget; "
            f"the smallest measured, {format_size(per_size[0][0])}, bounds the damage"
        )
    else:
        values["max_chunk"] = base.max_chunk
        reasons["max_chunk"] = "no kernel measurements: kept the default"

    # thread_read_min: the smallest whole read where ONE thread pread is at
    # least as fast as kernel chunks, or the chunked path stalls the loop.
    # Warm and cold must agree (cold only where eviction worked).
    by_size: dict[int, dict[str, dict[str, Cell]]] = {}
    for c in large:
        if c.ops and (c.cache == "warm" or facts.get("eviction") == "ok"):
            kind = "thread" if c.engine == "thread" else "kernel"
            by_size.setdefault(c.size, {}).setdefault(c.cache, {})[kind] = c
    pick: tuple[int, str] | None = None
    for size in sorted(by_size):
        pairs = [p for p in by_size[size].values() if "thread" in p and "kernel" in p]
        if not pairs:
            continue
        stalled = [p["kernel"] for p in pairs if p["kernel"].stall_ms > budget]
        if stalled:
            pick = (size, f"kernel chunks held the loop {stalled[0].stall_ms:.2f} ms ({pct})")
            break
        if all(p["thread"].mb_s >= p["kernel"].mb_s for p in pairs):
            what = ", ".join(
                f"{cache} {p['thread'].mb_s:.0f} vs {p['kernel'].mb_s:.0f} MB/s"
                for cache, p in by_size[size].items()
                if "thread" in p and "kernel" in p
            )
            pick = (
                size,
                f"one thread pread beat {format_size(BUILTIN.max_chunk)} kernel chunks ({what})",
            )
            break
    if pick is not None:
        values["thread_read_min"] = pick[0]
        reasons["thread_read_min"] = f"at {format_size(pick[0])} {pick[1]}"
    elif by_size:
        top = max(by_size)
        values["thread_read_min"] = max(base.thread_read_min, top * 2)
        reasons["thread_read_min"] = (
            f"kernel chunks were faster up to {format_size(top)} (the largest measured); "
            f"kept {format_size(values['thread_read_min'])} so whole-file reads still "
            "leave the loop"
        )
    else:
        values["thread_read_min"] = base.thread_read_min
        reasons["thread_read_min"] = "no large-read measurements: kept the default"

    # read_ahead / sequential_read_ahead: sequential stream throughput.
    ra: dict[int, list[float]] = {}
    for c in read_ahead:
        if c.ops and (c.cache == "warm" or facts.get("eviction") == "ok"):
            ra.setdefault(c.size, []).append(c.mb_s)
    if ra:
        # Geometric mean of warm and cold: a buffer must be good at both.
        score = {s: _geomean(v) for s, v in ra.items()}
        best_size = max(score, key=lambda s: score[s])
        values["sequential_read_ahead"] = best_size
        what = "warm and cold, geometric mean" if any(len(v) > 1 for v in ra.values()) else "warm"
        reasons["sequential_read_ahead"] = (
            f"{format_size(best_size)} gave the best sequential throughput "
            f"({score[best_size]:.0f} MB/s, {what}) among "
            f"{format_size(min(ra))}-{format_size(max(ra))}"
        )
        good = min(s for s in score if score[s] >= READ_AHEAD_TOLERANCE * score[best_size])
        values["read_ahead"] = good
        reasons["read_ahead"] = (
            f"the smallest buffer within {1 - READ_AHEAD_TOLERANCE:.0%} of the best "
            f"sequential throughput ({score[good]:.0f} MB/s): a seek discards less"
        )
    else:
        values["read_ahead"] = base.read_ahead
        values["sequential_read_ahead"] = base.sequential_read_ahead
        reasons["read_ahead"] = reasons["sequential_read_ahead"] = (
            "no read-ahead measurements: kept the default"
        )

    mode, sqpoll_on, depth, why = _choose_submission(submission, facts, quick)
    values["submit_mode"], values["sqpoll"], values["sqpoll_depth"] = mode, sqpoll_on, depth
    reasons["submit_mode"] = reasons["sqpoll"] = reasons["sqpoll_depth"] = why

    values["thread_pool_size"] = 0
    reasons["thread_pool_size"] = (
        f"not measured: Python's default pool size ({default_executor_size()} threads here)"
    )

    machine = facts.get("machine", {})
    summary = (
        f"{machine.get('system', '?')} {machine.get('release', '?')} "
        f"{machine.get('machine', '')}, {machine.get('cpus', '?')} CPUs, "
        f"{machine.get('memory_gib', '?')} GiB RAM, {facts.get('filesystem', 'unknown')}, "
        f"kernel backend {facts.get('kernel_backend', '?')}"
    )
    origin = f"{facts.get('command', 'python -m hybridio calibrate')} on {summary}"
    measurements = {
        **facts,
        "reasons": dict(reasons),
        "cells": [c.to_dict() for c in cells],
        "large_reads": [c.to_dict() for c in large],
        "read_ahead": [c.to_dict() for c in read_ahead],
        "submission_cells": [c.to_dict() for c in submission],
    }
    profile = dataclasses.replace(
        base, source="calibrate", origin=origin, measurements=measurements, **values
    )
    return profile, reasons


def _geomean(values: Sequence[float]) -> float:
    product = 1.0
    for v in values:
        product *= max(v, 1e-9)
    return float(product ** (1 / len(values)))


def run_calibration(
    directory: str | os.PathLike[str] = ".",
    *,
    quick: bool = False,
    budget_ms: float = DEFAULT_BUDGET_MS,
    progress: Progress | None = None,
) -> Calibration:
    """:func:`calibrate` in a fresh event loop (closed, with its rings, afterwards)."""
    return asyncio.run(calibrate(directory, quick=quick, budget_ms=budget_ms, progress=progress))
