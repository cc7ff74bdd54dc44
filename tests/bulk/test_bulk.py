"""The bulk path: threaded() and the one-thread-call whole-file helpers."""

from __future__ import annotations

import asyncio
import bz2
import concurrent.futures
import errno
import gzip
import hashlib
import inspect
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import _bulk as bulk
from hybridio import _copy, _wholefile
from hybridio._bulk import threaded
from hybridio._engines import fairness


@threaded
def write_random(path: str, size: int, *, seed: bytes = b"") -> str:
    """Write *size* random bytes; return the writing thread's name."""
    with open(path, "wb") as f:
        f.write(seed + os.urandom(size - len(seed)))
    return threading.current_thread().name


async def test_threaded_keeps_metadata_and_runs_in_the_pool(tmp_path: Path) -> None:
    assert write_random.__name__ == "write_random"
    assert write_random.__doc__ is not None and "random bytes" in write_random.__doc__
    assert inspect.iscoroutinefunction(write_random)
    assert list(inspect.signature(write_random).parameters) == ["path", "size", "seed"]
    name = await write_random(os.fspath(tmp_path / "r"), 10, seed=b"ab")
    assert name.startswith("hybridio")
    assert (tmp_path / "r").read_bytes()[:2] == b"ab"


async def test_aiomisc_threaded_hash_example(tmp_path: Path) -> None:
    """aiomisc example (c): two 1 MiB random files hash to different blake2b digests."""
    a, b = tmp_path / "a", tmp_path / "b"
    await write_random(os.fspath(a), 1 << 20)
    await write_random(os.fspath(b), 1 << 20)
    da, db = await bulk.hash_file(a), await bulk.hash_file(b)
    assert da != db
    assert da == hashlib.blake2b(a.read_bytes()).hexdigest()


async def test_whole_file_helpers(tmp_path: Path) -> None:
    p = tmp_path / "f"
    assert await bulk.write_bytes(p, b"\x00bytes") == 6
    assert await bulk.read_bytes(p) == b"\x00bytes"
    assert await bulk.write_text(p, "héllo\n", encoding="utf-8") == 6
    assert await bulk.read_text(p, encoding="utf-8") == "héllo\n"
    await bulk.copy(p, tmp_path / "g")
    assert (tmp_path / "g").read_text(encoding="utf-8") == "héllo\n"
    assert await bulk.hash_file(p, "sha256") == hashlib.sha256(p.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="unsupported hash type"):
        await bulk.hash_file(p, "no-such-hash")
    with pytest.raises(FileNotFoundError):
        await bulk.read_bytes(tmp_path / "missing")


# --------------------------------------------------------------------------- threaded


async def test_threaded_with_an_executor_runs_there() -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine") as pool:

        @hybridio.threaded(executor=pool)
        def where(tag: str) -> str:
            return f"{tag}:{threading.current_thread().name}"

        got = await where("x")
    assert got.startswith("x:mine")
    assert where.__name__ == "where"


class Counter:
    """@threaded on methods, static methods and class methods (both decorator orders)."""

    base = 10

    def __init__(self) -> None:
        self.n = 0

    @hybridio.threaded
    def bump(self, by: int) -> str:
        self.n += by
        return threading.current_thread().name

    @hybridio.threaded
    @staticmethod
    def twice(x: int) -> int:
        return 2 * x

    @staticmethod
    @hybridio.threaded
    def thrice(x: int) -> int:
        return 3 * x

    @hybridio.threaded
    @classmethod
    def plus_base(cls, x: int) -> int:
        return cls.base + x

    @classmethod
    @hybridio.threaded
    def minus_base(cls, x: int) -> int:
        return x - cls.base


async def test_threaded_methods_static_and_class_methods() -> None:
    c = Counter()
    assert (await c.bump(5)).startswith("hybridio")
    assert c.n == 5
    assert await Counter.twice(4) == 8
    assert await c.twice(4) == 8
    assert await Counter.thrice(4) == 12
    assert await Counter.plus_base(1) == 11
    assert await c.minus_base(15) == 5
    assert inspect.iscoroutinefunction(Counter.plus_base)


def test_threaded_refuses_a_non_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        hybridio.threaded(42)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- threaded_iterable


def _iter_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hybridio-iter")]


async def test_threaded_iterable_yields_everything_in_order_with_bounded_prefetch() -> None:
    produced: list[int] = []

    @hybridio.threaded_iterable(max_size=3)
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            produced.append(i)
            yield i

    seen = []
    async for i in numbers(50):
        # The producer is never more than max_size items (+ the one it holds) ahead.
        assert len(produced) - len(seen) <= 3 + 1
        seen.append(i)
    assert seen == list(range(50))
    assert _iter_threads() == []


async def test_threaded_iterable_generator_error_reaches_the_consumer() -> None:
    @hybridio.threaded_iterable
    def broken() -> Iterator[int]:
        yield 1
        raise OSError(5, "injected")

    got: list[int] = []

    async def consume() -> None:
        async for i in broken():
            got.append(i)

    with pytest.raises(OSError, match="injected"):
        await consume()
    assert got == [1]
    assert _iter_threads() == []


async def test_threaded_iterable_cancelled_mid_stream_stops_the_generator() -> None:
    """Cancelling the task waiting in __anext__ closes the generator in its
    thread (its finally runs) and no producer thread is left."""
    before = threading.active_count()
    gate = threading.Event()
    finalised = threading.Event()

    @hybridio.threaded_iterable(max_size=2)
    def slow() -> Iterator[int]:
        try:
            yield 0
            yield 1
            gate.wait(30)  # the consumer is now waiting in __anext__
            yield 2
            yield 3
        finally:
            finalised.set()

    got: list[int] = []
    two = asyncio.Event()

    async def consume() -> None:
        async for i in slow():
            got.append(i)
            if i == 1:
                two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two.wait(), 30)
    await asyncio.sleep(0)  # the consumer is back in __anext__, waiting
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert finalised.is_set()
    assert got == [0, 1]
    assert _iter_threads() == []
    assert threading.active_count() <= before  # no thread left behind


async def test_threaded_iterable_aclose_and_async_with_run_the_finally() -> None:
    finalised: list[str] = []

    @hybridio.threaded_iterable(max_size=1)
    def endless(tag: str) -> Iterator[int]:
        try:
            i = 0
            while True:  # blocks in the full channel once the consumer stops
                yield i
                i += 1
        finally:
            finalised.append(tag)

    it = endless("aclose")
    assert await it.__anext__() == 0
    await it.aclose()
    assert finalised == ["aclose"]
    with pytest.raises(StopAsyncIteration):
        await it.__anext__()

    async def body_cancelled() -> None:
        async with endless("with") as it2:
            async for _ in it2:
                await asyncio.sleep(3600)

    task = asyncio.create_task(body_cancelled())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert finalised == ["aclose", "with"]
    assert _iter_threads() == []


async def test_threaded_iterable_in_an_executor() -> None:
    finalised = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="it") as pool:

        @hybridio.threaded_iterable(executor=pool, max_size=1)
        def names() -> Iterator[str]:
            try:
                while True:
                    yield threading.current_thread().name
            finally:
                finalised.set()

        it = names()
        assert (await it.__anext__()).startswith("it")
        await it.aclose()
        assert finalised.is_set()
        # The pool's one worker is free again: the producer really ended.
        assert await asyncio.wait_for(asyncio.wrap_future(pool.submit(lambda: 7)), 30) == 7


def test_threaded_iterable_bad_max_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        hybridio.threaded_iterable(max_size=0)
    with pytest.raises(TypeError):
        hybridio.threaded_iterable(max_size=1.5)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- whole-file helpers


def _counting_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of each function the bulk helpers run in a thread."""
    calls: list[str] = []
    real = _wholefile.run_in_thread

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", "?"))
        return await real(fn, *args, **kwargs)

    for module in (_wholefile, _copy):
        monkeypatch.setattr(module, "run_in_thread", counting)
    return calls


async def test_each_helper_is_one_thread_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_threads(monkeypatch)
    p = tmp_path / "f"
    for job in (
        hybridio.write_bytes(p, b"x" * 10_000_000),
        hybridio.read_bytes(p),
        hybridio.write_text(p, "t" * 100, encoding="ascii", atomic=True),
        hybridio.read_text(p, encoding="ascii"),
        hybridio.hash_file(p, chunk_size=4096),
        hybridio.process(p, lambda chunks: sum(map(len, chunks)), 7),
        hybridio.copy(p, tmp_path / "g"),
    ):
        calls.clear()
        await job
        assert len(calls) == 1, calls


async def test_hash_file_and_process_chunking(tmp_path: Path) -> None:
    p = tmp_path / "data"
    payload = os.urandom(3 * 4096 + 17)
    p.write_bytes(payload)
    for size in (1, 4096, 1 << 20):
        digest = await hybridio.hash_file(p, "sha1", chunk_size=size)
        assert digest == hashlib.sha1(payload).hexdigest()
    assert await hybridio.hash_file(p) == hashlib.blake2b(payload).hexdigest()
    sizes = await hybridio.process(p, lambda chunks: [len(c) for c in chunks], 4096)
    assert sizes == [4096, 4096, 4096, 17]
    with pytest.raises(ValueError, match="chunk_size"):
        await hybridio.hash_file(p, chunk_size=0)
    with pytest.raises(TypeError, match="callable"):
        await hybridio.process(p, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open)])
async def test_compression_aware_helpers(tmp_path: Path, suffix: str, opener: Any) -> None:
    p = tmp_path / f"f.txt{suffix}"
    text = "ligne\nzwei\r\n" * 1000
    await hybridio.write_text(p, text, encoding="utf-8", newline="", compression="auto")
    with opener(p, "rt", encoding="utf-8", newline="") as f:
        assert f.read() == text
    assert await hybridio.read_text(p, encoding="utf-8", compression="auto") == text.replace(
        "\r\n", "\n"
    )
    raw = await hybridio.read_bytes(p, compression="auto")
    assert raw == text.encode()
    assert await hybridio.read_bytes(p) == p.read_bytes()  # no compression: the raw bytes
    # Detected by the magic bytes, whatever the name says.
    q = tmp_path / "misnamed"
    q.write_bytes(p.read_bytes())
    assert await hybridio.read_bytes(q, compression="auto") == raw
    assert await hybridio.hash_file(q, "md5", compression="auto") == hashlib.md5(raw).hexdigest()
    with pytest.raises(ValueError, match="compresslevel is only valid"):
        await hybridio.write_bytes(tmp_path / "plain", b"", compresslevel=3)


async def test_bad_arguments_raise_the_stdlib_types(tmp_path: Path) -> None:
    p = tmp_path / "f"
    with pytest.raises(TypeError, match="bytes-like"):
        await hybridio.write_bytes(p, "text")
    with pytest.raises(TypeError, match="must be str"):
        await hybridio.write_text(p, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        await hybridio.read_text(p, encoding="no-such-codec")
    assert not p.exists()
    with pytest.raises(FileExistsError):
        await hybridio.write_bytes(tmp_path, b"", exclusive=True)
    p.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        await hybridio.write_bytes(p, b"x", exclusive=True)
    assert p.read_bytes() == b"keep"


# --------------------------------------------------------------------------- copy


def _extents(path: Path) -> list[tuple[int, int]] | None:
    """The data extents of *path*, or None where the filesystem cannot tell."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        out, pos = [], 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    break
                return None
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end))
            pos = end
        return out
    finally:
        os.close(fd)


def _make_sparse(path: Path, size: int, pieces: list[tuple[int, bytes]]) -> None:
    with open(path, "wb") as f:
        for offset, data in pieces:
            f.seek(offset)
            f.write(data)
        f.truncate(size)


def _sparse_supported(path: Path) -> bool:
    probe = path / "probe"
    _make_sparse(probe, 1 << 22, [(1 << 21, b"x")])
    try:
        return os.stat(probe).st_blocks * 512 < (1 << 21) and _extents(probe) not in (None, [])
    finally:
        probe.unlink()


def _same_content(a: Path, b: Path) -> None:
    sa, sb = os.stat(a), os.stat(b)
    assert sa.st_size == sb.st_size
    ea, eb = _extents(a), _extents(b)
    if ea is not None and eb is not None and sa.st_blocks * 512 < sa.st_size:
        # Sparse: the same data extents hold the same bytes; everything else is
        # a hole in both (reads as zeros).
        assert ea == eb
        with open(a, "rb") as fa, open(b, "rb") as fb:
            for start, end in ea:
                fa.seek(start)
                fb.seek(start)
                assert fa.read(end - start) == fb.read(end - start)
        return
    assert a.read_bytes() == b.read_bytes()


COPY_PATHS = ["copy_file_range", "sendfile", "read-write loop"]


def _force_copy_path(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    def unsupported(*args: object) -> int:
        raise OSError(errno.ENOSYS, "forced off by the test")

    if how in ("sendfile", "read-write loop"):
        monkeypatch.setattr(os, "copy_file_range", unsupported)
    if how == "read-write loop":
        monkeypatch.setattr(os, "sendfile", unsupported)


@pytest.mark.parametrize("how", COPY_PATHS)
async def test_copy_sparse_file_stays_sparse_with_identical_bytes_and_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    src_dir, dst_dir = tmp_path / "a", tmp_path / "b"
    src_dir.mkdir()
    dst_dir.mkdir()
    src = src_dir / "sparse.bin"
    pieces = [(0, b"head" * 1000), (5 << 20, os.urandom(70_000)), (9 << 20, b"tail")]
    _make_sparse(src, (12 << 20) + 3, pieces)  # ends in a hole
    os.chmod(src, 0o751)
    _force_copy_path(monkeypatch, how)
    assert await hybridio.copy(src, dst_dir) == os.path.join(dst_dir, "sparse.bin")
    dst = dst_dir / "sparse.bin"
    _same_content(src, dst)
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o751
    if _sparse_supported(tmp_path):
        assert os.stat(dst).st_blocks <= os.stat(src).st_blocks
        assert os.stat(dst).st_blocks * 512 < 1 << 20


async def test_copy_sparse_file_larger_than_2_gib(tmp_path: Path) -> None:
    if not _sparse_supported(tmp_path):
        pytest.skip("this filesystem does not keep holes: a dense 3 GiB copy is too costly")
    src = tmp_path / "huge.bin"
    marker = os.urandom(5000)
    _make_sparse(src, (3 << 30) + 7, [(4096, marker), ((2 << 30) + 12345, marker)])
    dst = tmp_path / "other" / "huge.bin"
    dst.parent.mkdir()
    await hybridio.copy(src, dst)
    _same_content(src, dst)
    assert os.stat(dst).st_blocks * 512 < 1 << 20
    with open(dst, "rb") as f:
        f.seek((2 << 30) + 12345)
        assert f.read(5000) == marker


@pytest.mark.parametrize("how", COPY_PATHS)
async def test_copy_zero_byte_and_dense_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    _force_copy_path(monkeypatch, how)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    os.chmod(empty, 0o600)
    await hybridio.copy(empty, tmp_path / "empty2")
    assert (tmp_path / "empty2").read_bytes() == b""
    assert stat.S_IMODE(os.stat(tmp_path / "empty2").st_mode) == 0o600
    dense = tmp_path / "dense"
    payload = os.urandom((3 << 20) + 5)
    dense.write_bytes(payload)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dense").write_bytes(b"an older, longer file" * 400_000)
    await hybridio.copy(dense, tmp_path / "sub" / "dense")
    assert (tmp_path / "sub" / "dense").read_bytes() == payload


async def test_copy_keeps_shutil_semantics(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"data")
    with pytest.raises(shutil.SameFileError):
        await hybridio.copy(src, src)
    with pytest.raises(FileNotFoundError):
        await hybridio.copy(tmp_path / "missing", tmp_path / "x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(shutil.SpecialFileError, match="named pipe"):
        await hybridio.copy(fifo, tmp_path / "y")
    link = tmp_path / "link"
    link.symlink_to(src)
    await hybridio.copy(link, tmp_path / "followed")
    assert not (tmp_path / "followed").is_symlink()
    assert (tmp_path / "followed").read_bytes() == b"data"
    await hybridio.copy(link, tmp_path / "kept", follow_symlinks=False)
    assert (tmp_path / "kept").is_symlink()
    # /proc files report size 0 but have content: copied to EOF all the same.
    await hybridio.copy("/proc/self/status", tmp_path / "status")
    assert b"Pid:" in (tmp_path / "status").read_bytes()


# --------------------------------------------------------------------------- read_bytes inline


async def test_read_bytes_of_a_small_cached_file_needs_no_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "small"
    payload = os.urandom(4096)
    p.write_bytes(payload)
    p.read_bytes()  # in the page cache
    calls = _counting_threads(monkeypatch)
    assert await hybridio.read_bytes(p) == payload
    if _wholefile._inline_read(p) is not None:  # inline possible on this filesystem
        assert calls == []
    # Not inline: empty files (/proc reports 0), large files, non-regular files.
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert await hybridio.read_bytes(empty) == b""
    assert b"Pid:" in await hybridio.read_bytes("/proc/self/status")
    with pytest.raises(FileNotFoundError) as info:
        await hybridio.read_bytes(tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as builtin, open(tmp_path / "missing", "rb"):
        pass
    assert str(info.value) == str(builtin.value)
    with pytest.raises(IsADirectoryError):
        await hybridio.read_bytes(tmp_path)


async def test_read_bytes_of_a_fifo_goes_to_a_thread(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as f:
            f.write(b"through the pipe")

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert await asyncio.wait_for(hybridio.read_bytes(fifo), 30) == b"through the pipe"
    finally:
        t.join(30)


async def test_inline_read_bytes_gives_the_loop_a_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "small"
    p.write_bytes(b"x" * 100)
    if not _wholefile._inline_max() or _wholefile._inline_read(p) is None:
        pytest.skip("inline reads are not possible here")
    monkeypatch.setattr(fairness, "BUDGET_SECONDS", 0.0)  # every streak is over budget at once
    ticks = 0
    done = False

    async def other() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    seen = ticks
    for _ in range(50):
        await hybridio.read_bytes(p)
    assert ticks > seen  # the other task ran while the cached reads went on
    done = True
    await asyncio.wait_for(task, 30)


async def test_read_bytes_of_an_evicted_file_is_still_exact(tmp_path: Path) -> None:
    p = tmp_path / "cold"
    payload = os.urandom(64 * 1024)
    with open(p, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    assert await hybridio.read_bytes(p) == payload


async def test_write_bytes_refuses_a_non_contiguous_buffer_before_touching_the_target(
    tmp_path: Path,
) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")
    with pytest.raises(BufferError):
        await hybridio.write_bytes(target, memoryview(bytearray(8))[::2])
    assert target.read_bytes() == b"old"  # open("wb") would have emptied it
