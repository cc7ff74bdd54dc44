"""Sequential reads started early in threads (the profile's prefetch_min/prefetch_depth)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import threading
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._layers import prefetch
from hybridio._layers.prefetch import ReadAhead

PIECE = 64 * 1024
DATA = os.urandom(PIECE * 10 + PIECE // 2)
PROFILE = hybridio.TuningProfile(
    prefetch_min=PIECE, prefetch_depth=3, read_ahead=16 * 1024, origin="test"
)


async def _open(path: Path, mode: str = "rb", **kwargs: Any) -> Any:
    return await hybridio.async_open(path, mode, strategy="kernel", profile=PROFILE, **kwargs)


async def _settled(ahead: ReadAhead) -> None:
    """Wait (bounded) until the early reads ended, keeping them."""
    futures = [early.future for early in ahead._queue]
    await asyncio.to_thread(concurrent.futures.wait, futures, 30)


class _GatedPool(concurrent.futures.ThreadPoolExecutor):
    """A pool whose jobs start at once and then wait for *gate*: early reads
    that are running (past cancelling) until the test lets them finish."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(4)
        self._gate = gate

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(self._gated, fn, *args)

    def _gated(self, fn: Any, *args: Any) -> Any:
        self._gate.wait(30)
        return fn(*args)


async def test_pieces_read_front_to_back_are_read_early(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    f = await _open(path)
    try:
        got = []
        while piece := await f.read(PIECE):
            got.append(piece)
        assert b"".join(got) == DATA
        # The first two pieces start it; every later full piece was read early.
        assert f.stats.thread_ops == len(DATA) // PIECE - 2
        assert await f.tell() == len(DATA)
    finally:
        await f.close()
    assert f._raw.ahead is not None and not f._raw.ahead.busy


@pytest.mark.parametrize("mode", ["r+b", "rb"])
async def test_what_never_reads_early(tmp_path: Path, mode: str) -> None:
    # Writable files (their writes would race it), unbuffered ones (raw
    # semantics), pieces below prefetch_min, and positional reads.
    path = tmp_path / "f"
    path.write_bytes(DATA)
    cases: list[tuple[dict[str, Any], int]] = [({}, PIECE // 2)]
    if mode == "r+b":
        cases.append(({}, PIECE))
    else:
        cases.append(({"buffering": 0}, PIECE))
    for kwargs, size in cases:
        f = await _open(path, mode, **kwargs)
        try:
            got = []
            while piece := await f.read(size):
                got.append(piece)
            assert b"".join(got) == DATA
            for off in range(0, len(DATA), PIECE):
                assert await f.read_at(off, PIECE) == DATA[off : off + PIECE]
            assert f._raw.ahead is None and f.stats.thread_ops == 0, (kwargs, size)
        finally:
            await f.close()


async def test_a_seek_or_another_size_drops_the_early_reads(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    f = await _open(path)
    try:
        assert await f.read(PIECE) + await f.read(PIECE) == DATA[: 2 * PIECE]
        await f.seek(5 * PIECE + 7)
        assert await f.read(PIECE) == DATA[5 * PIECE + 7 : 6 * PIECE + 7]
        assert await f.read(2 * PIECE) == DATA[6 * PIECE + 7 : 8 * PIECE + 7]
        await f.seek(-PIECE, os.SEEK_CUR)
        assert await f.read() == DATA[7 * PIECE + 7 :]
        assert f.stats.thread_ops == 0  # nothing read early was what came next
    finally:
        await f.close()


async def test_a_piece_short_when_read_early_is_read_again(tmp_path: Path) -> None:
    # Read early at EOF, the piece came back short; the file grew since: the
    # read serves the file as it is now, not the early short piece.
    path = tmp_path / "f"
    path.write_bytes(DATA[: 2 * PIECE + PIECE // 2])
    f = await _open(path)
    try:
        assert await f.read(PIECE) + await f.read(PIECE) == DATA[: 2 * PIECE]
        assert f._raw.ahead is not None
        await _settled(f._raw.ahead)
        with open(path, "ab") as g:
            g.write(DATA[2 * PIECE + PIECE // 2 : 4 * PIECE])
        assert await f.read(PIECE) == DATA[2 * PIECE : 3 * PIECE]
        assert await f.read(PIECE) == DATA[3 * PIECE : 4 * PIECE]
        assert await f.read(PIECE) == b""
    finally:
        await f.close()


@contextlib.asynccontextmanager
async def _held(tmp_path: Path) -> AsyncIterator[tuple[list[Any], threading.Event]]:
    """A file two pieces in, its early reads running and held until the event
    is set; in a list, so that a test can drop the last reference to it."""
    path = tmp_path / "f"
    path.write_bytes(DATA)
    gate = threading.Event()
    pool = _GatedPool(gate)
    try:
        files = [await _open(path, executor=pool)]
        assert await files[0].read(PIECE) + await files[0].read(PIECE) == DATA[: 2 * PIECE]
        assert files[0]._raw.ahead is not None and files[0]._raw.ahead.busy
        yield files, gate
    finally:
        gate.set()
        pool.shutdown()


async def test_close_waits_for_running_early_reads(tmp_path: Path) -> None:
    async with _held(tmp_path) as (files, gate):
        f = files[0]
        ahead, fd = f._raw.ahead, f.fileno()
        closing = asyncio.ensure_future(f.close())
        await asyncio.sleep(0.02)
        assert not closing.done()  # waiting for the early reads ...
        os.fstat(fd)  # ... with the fd still open under them
        gate.set()
        await asyncio.wait_for(closing, 30)
        assert not ahead.busy
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(fd)


async def test_the_collector_waits_for_running_early_reads(tmp_path: Path) -> None:
    async with _held(tmp_path) as (files, gate):
        futures = [early.future for early in files[0]._raw.ahead._queue]
        threading.Timer(0.05, gate.set).start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            files.clear()
            gc.collect()
        # The close under the collector waited for them (the gate opens later).
        assert all(future.done() for future in futures)


def _blocked_pool() -> tuple[concurrent.futures.ThreadPoolExecutor, threading.Event]:
    """A one-thread pool that runs nothing until the event is set."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    gate = threading.Event()
    pool.submit(gate.wait, 30)
    return pool, gate


async def test_a_cancelled_take_leaves_a_stray_that_settle_waits_for(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    pool, gate = _blocked_pool()
    fd = os.open(path, os.O_RDONLY)
    try:
        ahead = ReadAhead(fd, pool, 2)
        ahead.start(0, PIECE)
        task = asyncio.ensure_future(ahead.take(0, PIECE))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ahead.busy
        settle = asyncio.ensure_future(ahead.settle())
        await asyncio.sleep(0.01)
        assert not settle.done()  # still waiting for the queued read
        gate.set()
        await asyncio.wait_for(settle, 30)
        assert not ahead.busy
    finally:
        gate.set()
        pool.shutdown()
        os.close(fd)


async def test_a_failed_early_read_is_left_to_the_read_asked_for(tmp_path: Path) -> None:
    # pread of a directory fails (EISDIR): take() says "not read early" and
    # forgets the rest, so the caller's own read raises at its own time.
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        ahead = ReadAhead(fd, None, 3)
        ahead.start(0, PIECE)
        assert await asyncio.wait_for(ahead.take(0, PIECE), 30) is None
        assert not ahead._queue
        await asyncio.wait_for(ahead.settle(), 30)
    finally:
        os.close(fd)


async def test_early_reads_of_all_files_together_leave_threads_free(tmp_path: Path) -> None:
    # More files read front to back than the cap allows early reads: the cap
    # holds across files (the pool keeps threads for other work), and the
    # files past it read their pieces as asked, the same bytes.
    gate = threading.Event()
    pool = _GatedPool(gate)
    cap = prefetch._cap()
    files = []
    try:
        for i in range(cap // PROFILE.prefetch_depth + 2):
            path = tmp_path / f"f{i}"
            path.write_bytes(DATA)
            f = await _open(path, executor=pool)
            files.append(f)
            assert await f.read(PIECE) + await f.read(PIECE) == DATA[: 2 * PIECE]
        queued = sum(len(f._raw.ahead._queue) for f in files if f._raw.ahead is not None)
        assert queued == prefetch._running == cap
        gate.set()
        for f in files:
            rest = []
            while piece := await f.read(PIECE):
                rest.append(piece)
            assert b"".join(rest) == DATA[2 * PIECE :]
    finally:
        gate.set()
        for f in files:
            await f.close()
        pool.shutdown()
    # A finished read's count drops in its worker thread just after it is done.
    assert await asyncio.to_thread(_until, lambda: prefetch._running == 0)


def _until(check: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
async def test_a_forked_child_closes_without_waiting_for_the_parents_reads(
    tmp_path: Path,
) -> None:
    # The parent's early reads run in threads the child does not have: the
    # child's close must not wait for them (it would wait forever).
    async with _held(tmp_path) as (files, gate):
        f = files[0]
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                asyncio.run(asyncio.wait_for(f.close(), 10))
                code = 0 if f.closed and prefetch._running == 0 else 2
            finally:
                os._exit(code)
        assert await asyncio.to_thread(_exit_code, pid) == 0
        gate.set()
        await f.close()


def _exit_code(pid: int, seconds: float = 30) -> int | None:
    """The child's exit code; None (and the child killed) past *seconds*."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None
