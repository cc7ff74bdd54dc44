"""Calibrate's measurements: the real engines timed on a real temporary file.

Every read goes through the code applications use: inline reads through
:class:`InlineReader`, kernel and thread reads through :class:`RawKernelFile`,
stream reads through :func:`hybridio.async_open`.  What is recorded per cell
(see :class:`Cell`): the throughput, the duration of each synchronous step of
one operation (what it costs the loop) and the worst lateness of a 1 ms
heartbeat beside the workload (every stall the loop suffered).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final, final

from .._engines import kernel
from .._engines.inline import InlineReader, unsupported_reason
from .._layers.raw import RawKernelFile
from .._profile import BUILTIN, TuningProfile
from ._cells import Cell, KiB, MiB
from ._rules import Way

#: Ops recorded per cell at most (bounds memory for the stall samples).
_MAX_OPS: Final = 200_000
#: Larger than any request: the raw file never switches to the other path.
_NEVER: Final = 1 << 62
_RWF_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)


# -- timing ---------------------------------------------------------------------------


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


# -- the file under test ----------------------------------------------------------------


class ScratchFile:
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

    def offsets(self, size: int, cache: str, rng: random.Random) -> Iterator[int]:
        """Random *size*-aligned offsets: cycling when warm, each block once when cold."""
        blocks = list(range(0, self.size - size + 1, size))
        rng.shuffle(blocks)
        if cache == "cold":
            # A block read once is cached afterwards; never read it twice.
            return iter(blocks)
        return itertools.cycle(blocks)


# -- one measurement per way of reading ------------------------------------------------------


async def measure_inline(tf: ScratchFile, cell: Cell, seconds: float, rng: random.Random) -> None:
    """Inline reads are synchronous: time each call; yield to the loop every ms."""
    reader = InlineReader(tf.fd)
    if not reader.enabled:
        cell.note = f"inline reads unavailable: {reader.reason}"
        return
    stalls: list[float] = []
    clock = time.perf_counter
    async with _Heartbeat() as beat:
        start = last_yield = clock()
        for offset in tf.offsets(cell.size, cell.cache, rng):
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


async def _measure_raw(
    raw: RawKernelFile,
    tf: ScratchFile,
    cell: Cell,
    seconds: float,
    rng: random.Random,
    inline: bool,
) -> None:
    """``raw.pread(cell.size)`` at random offsets, ``cell.concurrency`` in flight."""
    size = cell.size

    def op(offset: int) -> Coroutine[Any, Any, bytes]:
        return raw.pread(size, offset, inline=inline)

    offsets = tf.offsets(size, cell.cache, rng)
    cell.record(*await _drive(op, offsets, cell.concurrency, seconds))


class RawReads:
    """Kernel and thread reads through the real raw file: the kernel one with
    the thread switch and inline reads out of the way, the thread one with
    every read sent to a worker thread."""

    def __init__(self, tf: ScratchFile, engine: kernel.KernelEngine) -> None:
        self._tf = tf
        name = str(tf.path)
        self._chunked = RawKernelFile(
            tf.fd, engine, name, thread_read_min=_NEVER, sync_submit_max=_NEVER, inline_max=0
        )
        self._threaded = RawKernelFile(tf.fd, engine, name, thread_read_min=0, inline_max=0)

    async def measure(self, cell: Cell, seconds: float, rng: random.Random) -> None:
        """Fill *cell*: the thread engine if ``cell.engine`` is "thread", else the kernel one."""
        raw = self._threaded if cell.engine == "thread" else self._chunked
        await _measure_raw(raw, self._tf, cell, seconds, rng, inline=False)


async def measure_stream(
    tf: ScratchFile, cell: Cell, seconds: float, profile: TuningProfile
) -> None:
    """A stream read the way applications do it: 16 KiB reads served from a
    ``cell.size`` read-ahead buffer, one refill per buffer, routed by
    *profile* (the one being built, so the buffer is measured the way it will
    be used).  Warm: whole scans until the time is up.  Cold: one scan at
    most, since a second would read what the first one cached."""
    from .._api import async_open

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


async def measure_submission(
    tf: ScratchFile, uring: ModuleType, way: Way, cell: Cell, seconds: float, rng: random.Random
) -> None:
    """4 KiB reads through the real raw file on a fresh io_uring ring that
    submits *way*; inline reads off when warm, so the ring serves them."""
    loop = asyncio.get_running_loop()
    ctx = uring.Context(max_requests=BUILTIN.max_requests, sqpoll=way.sqpoll)
    ring = kernel.KernelEngine(
        loop,
        "uring",
        ctx,
        submit_mode=way.submit_mode,
        sqpoll_depth=way.sqpoll_depth,
        miss_sqpoll=way.miss_sqpoll,
    )
    try:
        if way.sqpoll and not ring.sqpoll:
            cell.note = "the kernel did not grant SQPOLL"
        inline = BUILTIN.inline_max if cell.cache == "cold" else 0
        raw = RawKernelFile(tf.fd, ring, str(tf.path), inline_max=inline)
        await _measure_raw(raw, tf, cell, seconds, rng, inline=True)
    finally:
        ring.close()


async def measure_crowd(
    tf: ScratchFile, uring: ModuleType, cell: Cell, seconds: float, rng: random.Random
) -> None:
    """Warm reads of ``cell.size`` in company through the real raw file on a
    plain ring with ``miss_sqpoll``: served inline ("crowd-inline"), or sent
    to the SQPOLL ring as ``sqpoll_read_min`` does ("crowd-sqpoll"); with
    every other CPU kept busy meanwhile when the name ends in "-busy" (the
    SQPOLL thread then takes a core the application wanted)."""
    loop = asyncio.get_running_loop()
    ctx = uring.Context(max_requests=BUILTIN.max_requests, sqpoll=False)
    ring = kernel.KernelEngine(loop, "uring", ctx, miss_sqpoll=True)
    spinners = _spin(max(1, (os.cpu_count() or 1) - 1)) if cell.engine.endswith("-busy") else []
    try:
        crowd = cell.size if cell.engine.startswith("crowd-sqpoll") else 0
        raw = RawKernelFile(tf.fd, ring, str(tf.path), inline_max=cell.size, sqpoll_read_min=crowd)
        await _measure_raw(raw, tf, cell, seconds, rng, inline=True)
        if crowd and ring._deep is ring:
            cell.note = "the kernel did not grant SQPOLL"
    finally:
        ring.close()
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _spin(count: int) -> list[subprocess.Popen[bytes]]:
    """*count* processes that keep a CPU busy until killed."""
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]
