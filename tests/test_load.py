"""Concurrency, fairness, backpressure and resource limits (L1, L2, L4, L5, F3)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import TuningProfile
from hybridio.engines import kernel

from .conftest import fd_count

CHUNK = 64 * 1024


async def test_concurrent_non_overlapping_writes_then_reads_are_byte_exact(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "l1"
    chunks = [os.urandom(CHUNK) for _ in range(32)]
    big = os.urandom(4 << 20)
    async with hybridio.async_open(path, "w+b", backend=backend) as f:
        await asyncio.gather(*(f.write_at(i * CHUNK, c) for i, c in enumerate(chunks)))
        await f.write_at(len(chunks) * CHUNK, big)  # a single 4 MiB transfer
        back = await asyncio.gather(*(f.read_at(i * CHUNK, CHUNK) for i in range(len(chunks))))
        tail = await f.read_at(len(chunks) * CHUNK, len(big))
    expected = hashlib.sha256(b"".join(chunks) + big).hexdigest()
    assert hashlib.sha256(b"".join(back) + tail).hexdigest() == expected
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected


def test_tiny_ring_40_concurrent_operations_all_complete(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "l2"
    path.write_bytes(bytes(range(256)) * 64)
    tiny = TuningProfile(max_requests=2, inline_max=0, source="test")

    async def main() -> list[Any]:
        async with hybridio.async_open(path, "r+b", backend=backend, profile=tiny) as f:
            assert f._raw.engine._max == 2  # type: ignore[attr-defined]
            reads = [f.read_at(i * 100, 100) for i in range(20)]
            writes = [f.write_at(10_000 + i * 10, b"w" * 10) for i in range(20)]
            results = await asyncio.wait_for(asyncio.gather(*reads, *writes), timeout=60)
            batch = await asyncio.wait_for(
                f.read_many([(i * 50, 50) for i in range(40)]), timeout=60
            )
            return [*results, *batch]

    results = asyncio.run(main())  # a fresh loop: its context is created with the tiny ring
    data = bytes(range(256)) * 64
    assert results[:20] == [data[i * 100 : i * 100 + 100] for i in range(20)]
    assert results[20:40] == [10] * 20
    assert path.read_bytes()[10_000:10_200] == b"w" * 200
    assert results[40:] == [
        (data[:10_000] + b"w" * 200 + data[10_200:])[i * 50 : i * 50 + 50] for i in range(40)
    ]


async def test_one_async_open_awaited_by_10_tasks_opens_one_fd(tmp_path: Path) -> None:
    path = tmp_path / "l4"
    path.write_bytes(b"shared")
    async with hybridio.async_open(path, "rb"):
        pass  # the loop's kernel context exists before the baseline
    fds = fd_count()
    opening = hybridio.async_open(path, "rb")

    async def use() -> bytes:
        f = await opening
        return await f.read_at(0, 6)

    results = await asyncio.gather(*(use() for _ in range(10)))
    assert results == [b"shared"] * 10
    assert fd_count() == fds + 1
    f = await opening
    await f.close()
    assert fd_count() == fds


async def test_readers_of_cached_data_let_other_tasks_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hot"
    path.write_bytes(os.urandom(4 << 20))
    path.read_bytes()  # page-cached: every read below completes without suspending
    # Every read after a streak's first is "overdue": the loop must turn every
    # other read, deterministically (the real budget is YIELD_AFTER seconds).
    monkeypatch.setattr(kernel, "YIELD_AFTER", -1.0)
    ticks = 0
    stop = False

    async def other_task() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    async with hybridio.async_open(path, "rb", buffering=65536) as f:
        before = ticks
        for offset in range(0, 4 << 20, 4096):
            await f.read_at(offset, 4096)
        positional = ticks - before
        before = ticks
        while await f.read(16384):
            pass
        streaming = ticks - before
        before = ticks
        for offset in range(0, 4 << 20, 64 * 4096):
            await f.read_many([(offset + i * 4096, 4096) for i in range(64)])
        batched = ticks - before
        before = ticks
        # 8 concurrent readers share one turn: the ticker runs between rounds.
        await asyncio.gather(*(f.read_at(offset, 4096) for offset in range(0, 1 << 20, 4096)))
        concurrent = ticks - before
    stop = True
    await ticker
    assert positional >= 512  # a turn every other read
    assert streaming >= 32  # every other 64 KiB read-ahead refill
    assert batched >= 8  # every other batch
    assert concurrent >= 1
    assert kernel.YIELD_AFTER < 0


def test_efbig_from_rlimit_fsize_is_raised_and_the_fd_released(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, errno, os, resource, signal, sys
        import hybridio

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        backend = sys.argv[2]

        async def main():
            async with hybridio.async_open(sys.argv[1] + ".warm", "wb", backend=backend):
                pass  # the loop's kernel context exists before the baseline
            base = len(os.listdir("/proc/self/fd"))
            f = await hybridio.async_open(sys.argv[1], "wb", backend=backend)
            await f.write(b"x" * 4000)                       # buffered: fine
            await f.write(b"y" * 200)                        # still buffered
            try:
                await f.flush()
            except OSError as exc:
                flush_errno = exc.errno
            else:
                flush_errno = None
            try:
                await f.close()
            except OSError as exc:
                close_errno = exc.errno
            else:
                close_errno = None
            print(flush_errno, close_errno, f.closed, len(os.listdir("/proc/self/fd")) - base)

        asyncio.run(main())
        """
    )
    for backend in ("uring", "thread"):
        if hybridio.engines.kernel.probe(backend) is not None:
            continue
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"big-{backend}"), backend],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert out[0] == str(errno.EFBIG), out
        assert out[2] == "True"
        assert out[3] == "0"  # the fd is released although flush and close failed
        assert (tmp_path / f"big-{backend}").stat().st_size == 4096


def test_basic_io_on_uvloop(tmp_path: Path, backend: str, loop_factory: Any) -> None:
    path = tmp_path / "uv"

    async def main() -> list[bytes]:
        async with hybridio.async_open(path, "w+b", backend=backend) as f:
            await f.write(b"hello uvloop\n" * 1000)
            await f.seek(0)
            first = await f.readline()
            pages = await f.read_many([(0, 5), (13, 5)])
            return [first, *pages]

    loop = loop_factory()
    try:
        assert loop.run_until_complete(main()) == [b"hello uvloop\n", b"hello", b"hello"]
    finally:
        loop.close()
