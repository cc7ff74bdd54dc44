"""StreamFile: thread hops per buffer, non-seekable files, concurrency, closing,
cancellation and ownership (RELIABILITY F7, L3, X2-X4, B3, B8, R2)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import gc
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridio._layers.stream import StreamFile, open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """Counts thread hops (submissions)."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="counting")
        self.calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def counting() -> Any:
    executor = CountingExecutor()
    yield executor
    executor.shutdown(wait=True)


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_one_thread_hop_per_buffer_not_per_line(tmp_path: Path, counting: Any) -> None:
    """DESIGN 2 (aiofiles#47): 20,000 lines, small reads and small writes cost a
    handful of hops, bounded by size / buffer size."""
    path = tmp_path / "lines.txt"
    lines = [f"line {i}\n".encode() for i in range(20_000)]
    f = await open_stream(os.fspath(path), parse_mode("wb"), buffering=64 * 1024, executor=counting)
    for line in lines:
        await f.write(line)
    await f.close()
    size = path.stat().st_size
    assert counting.calls <= 2 + size // (64 * 1024) + 1  # open + flushes + close

    counting.calls = 0
    f = await open_stream(os.fspath(path), parse_mode("rb"), buffering=64 * 1024, executor=counting)
    got = [line async for line in f]
    await f.close()
    assert got == lines
    assert counting.calls <= 3 + size // (64 * 1024) + 1

    counting.calls = 0
    binary = await open_stream(os.fspath(path), parse_mode("r"), executor=counting)
    async with AsyncTextIO(binary, encoding="ascii") as t:
        assert [line async for line in t] == [x.decode() for x in lines]
    assert counting.calls <= 4


async def test_four_tasks_share_one_handle_4000_intact_lines(tmp_path: Path) -> None:
    """L3: writes are serialised per handle; every line intact, none lost."""
    path = tmp_path / "shared.txt"
    binary = await open_stream(os.fspath(path), parse_mode("w"), buffering=4096)
    f = AsyncTextIO(binary, encoding="utf-8")

    async def writer(n: int) -> None:
        for i in range(1000):
            await f.write(f"task {n} line {i:04d} " + "x" * (i % 50) + "\n")
            if i % 97 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(4)))
    await f.close()
    got = path.read_text().splitlines()
    assert len(got) == 4000
    for n in range(4):
        mine = [line for line in got if line.startswith(f"task {n} ")]
        assert [int(line.split()[3]) for line in mine] == list(range(1000))
        assert all(line.endswith(" " + "x" * (int(line.split()[3]) % 50)) for line in mine)


async def test_concurrent_binary_writers_to_gzip_handle(tmp_path: Path) -> None:
    """L3 on a GzipFile (not thread-safe): 4 tasks x 1000 lines, all intact."""
    import gzip

    path = tmp_path / "shared.gz"
    f = await open_stream(os.fspath(path), parse_mode("wb"), buffering=1024, compression="gzip")

    async def writer(n: int) -> None:
        for i in range(1000):
            await f.write(b"%d:%04d:" % (n, i) + b"y" * 40 + b"\n")

    await asyncio.gather(*(writer(n) for n in range(4)))
    await f.close()
    lines = gzip.decompress(path.read_bytes()).splitlines()
    assert len(lines) == 4000
    assert all(line.endswith(b":" + b"y" * 40) for line in lines)
    assert sorted(lines) == sorted(
        b"%d:%04d:" % (n, i) + b"y" * 40 for n in range(4) for i in range(1000)
    )


async def test_fifo_is_served_by_threads_and_open_does_not_block_the_loop(tmp_path: Path) -> None:
    """F7 (aiofile#14): a FIFO opens in a thread (no peer yet), reads and writes work."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(heartbeat())
    reader_task = asyncio.create_task(open_stream(os.fspath(fifo), parse_mode("rb")))
    await asyncio.sleep(0.02)
    assert not reader_task.done()  # blocked in open(2), in a thread
    writer = await open_stream(os.fspath(fifo), parse_mode("wb"))
    reader = await asyncio.wait_for(reader_task, 10)
    beat.cancel()
    assert ticks > 1
    assert reader.backend == writer.backend == "threads"
    assert not reader.seekable()
    with pytest.raises(io.UnsupportedOperation):
        await reader.seek(0)
    with pytest.raises(OSError, match="Illegal seek") as info:
        await reader.tell()
    assert info.value.errno == errno.ESPIPE
    with pytest.raises(io.UnsupportedOperation):
        await reader.read_at(0, 1)
    payload = b"".join(b"fifo line %d\n" % i for i in range(50_000))  # > pipe buffer

    async def produce() -> None:
        await writer.write(payload)
        await writer.close()

    async def consume() -> list[bytes]:
        return [line async for line in reader]

    _, got = await asyncio.wait_for(asyncio.gather(produce(), consume()), 30)
    await reader.close()
    assert b"".join(got) == payload


async def test_pipe_read_returns_as_soon_as_the_request_is_served() -> None:
    """A small read on a pipe must not wait for read-ahead the caller did not ask for."""
    r, w = os.pipe()
    f = await open_stream(r, parse_mode("rb"), closefd=True)
    try:
        os.write(w, b"hello\n")
        assert await asyncio.wait_for(f.readline(), 10) == b"hello\n"
        os.write(w, b"abc")
        assert await asyncio.wait_for(f.read(2), 10) == b"ab"
        assert await asyncio.wait_for(f.read1(10), 10) == b"c"
    finally:
        os.close(w)
        await f.close()


@pytest.mark.parametrize("path", ["/proc/self/status", "/proc/cpuinfo"])
async def test_proc_files_read_completely(path: str) -> None:
    """F7: /proc files report size 0 but have content; read() and lines get it all."""
    if not os.path.exists(path):
        pytest.skip(f"{path} not available")
    f = await open_stream(path, parse_mode("rb"))
    data = await f.read()
    await f.close()
    with open(path, "rb") as sync:
        assert data.startswith(sync.read(10))
    f = await open_stream(path, parse_mode("r"))
    async with AsyncTextIO(f, encoding="utf-8") as t:
        lines = [line async for line in t]
    assert lines and all(line.endswith("\n") for line in lines)


async def test_character_devices() -> None:
    """F7: /dev/zero and /dev/null through the thread engine."""
    f = await open_stream("/dev/zero", parse_mode("rb"))
    assert await f.read(100_000) == bytes(100_000)
    await f.close()
    f = await open_stream("/dev/null", parse_mode("wb"))
    assert await f.write(b"x" * 1_000_000) == 1_000_000
    await f.close()


async def test_close_is_idempotent_and_every_method_then_raises(tmp_path: Path) -> None:
    """B8."""
    path = tmp_path / "f"
    f = await open_stream(os.fspath(path), parse_mode("w+b"))
    await f.write(b"abc")
    await f.close()
    await f.close()
    await f.aclose()
    assert f.closed
    assert path.read_bytes() == b"abc"
    for call in (
        f.read(),
        f.read1(),
        f.readline(),
        f.write(b"x"),
        f.seek(0),
        f.tell(),
        f.truncate(),
        f.flush(),
        f.fsync(),
        f.read_at(0, 1),
        f.write_at(0, b"x"),
    ):
        with pytest.raises(ValueError, match="closed file"):
            await call
    with pytest.raises(ValueError, match="closed file"):
        f.fileno()
    with pytest.raises(ValueError, match="closed file"):
        f.readable()
    with pytest.raises(ValueError, match="closed file"):
        f.__aiter__()
    with pytest.raises(ValueError, match="closed file"):
        async with f:
            pass


async def test_close_cancelled_still_closes_then_reraises(tmp_path: Path) -> None:
    """X3: cancelling aclose() closes the file anyway; the cancellation follows."""
    path = tmp_path / "f.gz"
    f = await open_stream(os.fspath(path), parse_mode("wb"), compression="gzip")
    await f.write(os.urandom(1 << 20))
    task = asyncio.create_task(f.close())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert f.closed
    import gzip

    assert len(gzip.decompress(path.read_bytes())) == 1 << 20


async def test_cancelled_open_leaks_no_fd(tmp_path: Path) -> None:
    """X2: 40 cancellations during open bring the fd count back to its baseline."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    baseline = fd_count()
    for i in range(40):
        task = asyncio.create_task(open_stream(os.fspath(path), parse_mode("rb")))
        for _ in range(i % 4):
            await asyncio.sleep(0)
        task.cancel()
        try:
            f = await task
        except asyncio.CancelledError:
            continue
        await f.close()
    assert fd_count() == baseline


async def test_cancelled_write_leaves_a_consistent_position(tmp_path: Path) -> None:
    """X4: a write cancelled during its flush completes; tell() counts it and the
    next write lands right after it."""
    path = tmp_path / "f"
    gate = threading.Event()

    class SlowExecutor(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            def slow() -> Any:
                gate.wait(10)
                return fn(*args, **kwargs)

            return super().submit(slow)

    executor = SlowExecutor(max_workers=1)
    gate.set()
    f = await open_stream(os.fspath(path), parse_mode("wb"), buffering=16, executor=executor)
    gate.clear()
    task = asyncio.create_task(f.write(b"A" * 40))  # >= buffer: one thread hop
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()  # waits for the running thread call
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await f.tell() == 40
    await f.write(b"B" * 5)
    await f.close()
    executor.shutdown()
    assert path.read_bytes() == b"A" * 40 + b"B" * 5


async def test_unclosed_file_emits_resource_warning_and_is_flushed(tmp_path: Path) -> None:
    """R2, C6: GC of an unclosed handle warns, still writes buffered data and frees the fd.

    Deterministic (issue 9 item 11: the warning used to fire at teardown now
    and then): the last reference is dropped inside ``pytest.warns``, after
    the two hidden ones are gone -- the worker thread that ran the open keeps
    its finished future (whose result is the file) until it takes another
    job, so the test's own pool is joined; and the loop keeps the handle that
    resumed this task while the step runs, so the task suspends once.
    """
    path = tmp_path / "f"
    baseline = fd_count()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    f: StreamFile | None = await open_stream(os.fspath(path), parse_mode("wb"), executor=executor)
    assert f is not None
    await f.write(b"buffered")
    executor.shutdown(wait=True)
    await asyncio.sleep(0)
    with pytest.warns(ResourceWarning, match="unclosed file <StreamFile"):  # noqa: PT031
        f = None
        gc.collect()  # CPython's refcounting already finalised it; harmless
    assert path.read_bytes() == b"buffered"
    assert fd_count() == baseline


async def test_positional_io_does_not_move_the_position(tmp_path: Path) -> None:
    """Principle 3 on the thread engine: read_at/write_at see buffered data, leave
    the position alone, and validate their arguments (B6)."""
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    f = await open_stream(os.fspath(path), parse_mode("r+b"))
    assert await f.read(3) == b"012"
    await f.write(b"ab")  # buffered at 3..5
    assert await f.read_at(0, 10) == b"012ab56789"
    assert await f.write_at(8, b"XY") == 2
    assert await f.tell() == 5
    assert await f.read() == b"567XY"
    buf = bytearray(4)
    assert await f.readinto_at(2, buf) == 4 and buf == b"2ab5"
    with pytest.raises(ValueError, match="negative offset"):
        await f.read_at(-1, 1)
    with pytest.raises(ValueError, match="negative offset"):
        await f.write_at(-1, b"x")
    assert await f.write_at(20, b"Z") == 1
    assert await f.read_at(10, 20) == bytes(10) + b"Z"
    await f.close()


async def test_write_type_errors_then_valid_write(tmp_path: Path) -> None:
    """B5: wrong types raise TypeError; any buffer-protocol object is accepted."""
    import array

    path = tmp_path / "f"
    f = await open_stream(os.fspath(path), parse_mode("wb"))
    with pytest.raises(TypeError, match="not 'str'"):
        await f.write("text")
    with pytest.raises(TypeError, match="not 'list'"):
        await f.write([1, 2])
    await f.write(bytearray(b"ab"))
    await f.write(array.array("h", [1, 2]))
    await f.write(memoryview(b"abcdef").cast("B", shape=[2, 3]))
    await f.close()
    assert path.read_bytes() == b"ab" + array.array("h", [1, 2]).tobytes() + b"abcdef"


async def test_read_size_arguments(tmp_path: Path) -> None:
    """B6: read(0) is b'' without a hop; read(-2) ValueError; read(1.5) TypeError."""
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    executor = CountingExecutor()
    f = await open_stream(os.fspath(path), parse_mode("rb"), executor=executor)
    calls = executor.calls
    assert await f.read(0) == b""
    assert executor.calls == calls
    with pytest.raises(ValueError, match="non-negative or -1"):
        await f.read(-2)
    with pytest.raises(TypeError):
        await f.read(1.5)  # type: ignore[arg-type]
    await f.close()
    executor.shutdown()


async def test_constructor_failure_after_open_releases_the_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B3/R2: the file is open when StreamFile() fails; the fd is closed."""
    path = tmp_path / "f"
    path.write_bytes(b"x")

    def boom(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("constructor failed")

    monkeypatch.setattr(StreamFile, "__init__", boom)
    baseline = fd_count()
    with pytest.raises(RuntimeError):
        await open_stream(os.fspath(path), parse_mode("rb"))
    with pytest.raises(RuntimeError):
        await open_stream(os.fspath(path), parse_mode("rb"), compression="gzip")
    assert fd_count() == baseline


async def test_fsync_and_fdatasync(tmp_path: Path) -> None:
    """D1: fsync flushes buffer (and compressor) then syncs the fd."""
    path = tmp_path / "f"
    f = await open_stream(os.fspath(path), parse_mode("wb"))
    await f.write(b"durable")
    await f.fsync()
    assert path.read_bytes() == b"durable"
    await f.write(b"!")
    await f.fdatasync()
    assert path.read_bytes() == b"durable!"
    await f.close()


async def test_fd_closed_behind_our_back_raises_ebadf(tmp_path: Path) -> None:
    """F4: the next operation raises OSError(EBADF); close() does not crash."""
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    f = await open_stream(os.fspath(path), parse_mode("rb"))
    os.close(f.fileno())
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await f.read()
    assert info.value.errno == errno.EBADF
    # close() reports the EBADF as FileIO.close() does, and still ends closed.
    with contextlib.suppress(OSError):
        await f.close()
    assert f.closed


@pytest.mark.parametrize("buffering", [-1, 0])
async def test_stats_count_what_the_thread_engine_moved(tmp_path: Path, buffering: int) -> None:
    """Issue 9 item 10: f.stats of a thread-served file counts its transfers
    (it was all zeros), as a kernel-served file counts kernel operations."""
    path = tmp_path / "f"
    f = await open_stream(os.fspath(path), parse_mode("w+b"), buffering=buffering)
    try:
        assert f.stats.thread_ops == f.stats.thread_bytes == 0
        await f.write(b"x" * 1000)
        await f.flush()
        assert await f.read_at(0, 1000) == b"x" * 1000
        await f.seek(0)
        assert await f.read() == b"x" * 1000
        stats = f.stats
        assert stats.backend == "threads"
        assert stats.kernel_ops == stats.inline_ops == 0
        assert stats.thread_bytes == 3000
        assert stats.ops == stats.thread_ops >= 3
    finally:
        await f.close()
