"""No fd, thread, io_uring or Linux AIO context growth over many opens and loops (R1, R2)."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from pathlib import Path

import pytest

import hybridio
from tests.conftest import aio_contexts, evict, fd_count, uring_fds

CYCLES = {"uring": 200, "linux": 200, "thread": 40, "python": 40}


async def test_2000_open_close_cycles_leave_no_fd(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"data")
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        await f.read()  # the loop's context exists before the baseline
    gc.collect()
    fds, threads = fd_count(), threading.active_count()
    for i in range(2000):
        async with hybridio.async_open(path, "r+b" if i % 2 else "rb", backend=backend) as f:
            assert await f.read(4) == b"data"
    gc.collect()
    assert fd_count() == fds
    assert threading.active_count() == threads


def test_event_loop_cycles_return_fds_threads_and_aio_nr_to_baseline(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(8192))

    async def main() -> None:
        async with hybridio.async_open(path, "r+b", backend=backend) as f:
            assert len(await f.read_at(0, 4096)) == 4096
            await f.write_at(0, b"x")

    gc.collect()
    fds, threads = fd_count(), threading.active_count()
    aio, rings = aio_contexts(), uring_fds()
    for _ in range(CYCLES[backend]):
        asyncio.run(main())
    gc.collect()
    assert fd_count() == fds
    assert threading.active_count() == threads
    assert aio_contexts() == aio
    assert uring_fds() == rings


@pytest.mark.parametrize("mode", ["rb", "wb"])
async def test_a_constructor_failing_after_open_leaks_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from hybridio._engines.inline import InlineReader

    (tmp_path / "f").write_bytes(b"")
    for warm in ("rb", "rb", "wb"):
        async with hybridio.async_open(str(tmp_path / "f"), warm):
            pass  # the kernel context and (from the 2nd open) the open memo exist

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("constructor failed")

    fds = fd_count()
    # Every kernel-served file builds its inline reader once its fd exists:
    # the general open through __init__, the memo's through for_fd.
    monkeypatch.setattr(InlineReader, "__init__", broken)
    monkeypatch.setattr(InlineReader, "for_fd", broken)
    # A str path takes the open that needs no await, a Path the general one.
    for path in (str(tmp_path / "f"), tmp_path / "f"):
        with pytest.raises(RuntimeError, match="constructor failed"):
            await hybridio.async_open(path, mode)
        assert fd_count() == fds


async def test_kernel_reads_and_writes_leave_no_reference_cycles(
    tmp_path: Path, backend: str
) -> None:
    # A finished operation must be freed by reference counting: cyclic
    # garbage per operation makes the collector run more often, and its full
    # collections of a large heap held the loop for 10-20 ms.
    path = tmp_path / "f"
    path.write_bytes(os.urandom(64 * 1024))

    async def work() -> None:
        async with hybridio.async_open(str(path), "r+b", backend=backend) as f:
            await f.write(b"x" * 4096)  # write-behind, flushed by the close
            await f.write_at(8192, b"y" * 4096)
            await f.fsync()
        evict(path)
        async with hybridio.async_open(str(path), "rb", backend=backend) as f:
            await f.read_at(0, 4096)  # uncached: a kernel read
            await f.read_many([(4096, 4096), (16384, 4096)])

    await work()  # contexts and memo exist before the count
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(10):
            await work()
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith(("hybridio", "caio"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
