"""Batched positional I/O and the inline page-cache path (issue 4)."""

from __future__ import annotations

import array
import asyncio
import ctypes
import errno
import mmap
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hybridio
from hybridio._engines import inline, kernel
from hybridio._profile import BUILTIN
from tests.conftest import evict
from tests.fakes import Fault, install_faults

SIZE = 64 * 1024

ranges = st.lists(
    st.tuples(st.integers(0, SIZE + 5000), st.integers(0, 9000)),
    max_size=40,
)


def _resident(path: Path) -> bool:
    """Whether any page of *path* is in the page cache (mincore: no readahead).

    A probing ``preadv(RWF_NOWAIT)`` would start readahead of the very pages it
    asks about, and make the next read a race.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed")
            return any(b & 1 for b in vec)
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)


def _evict(path: Path) -> bool:
    """Drop the file's pages from the page cache; False if this filesystem keeps them."""
    evict(path)
    return not _resident(path)


@pytest.fixture
def data_file(tmp_path: Path) -> tuple[Path, bytes]:
    payload = os.urandom(SIZE)
    path = tmp_path / "data.bin"
    path.write_bytes(payload)
    return path, payload


@given(reqs=ranges, evict=st.booleans())
def test_read_many_equals_preads_one_by_one(
    backend: str, data_file: tuple[Path, bytes], reqs: list[tuple[int, int]], evict: bool
) -> None:
    path, _ = data_file
    if evict:
        _evict(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        expected = [os.pread(fd, size, off) for off, size in reqs]
    finally:
        os.close(fd)

    async def main() -> list[Any]:
        async with hybridio.async_open(path, "rb", backend=backend) as f:
            return await f.read_many(reqs)

    assert asyncio.run(main()) == expected


@given(
    writes=st.lists(
        st.tuples(st.integers(0, 3000), st.binary(max_size=700)),
        max_size=30,
    )
)
def test_write_many_equals_pwrites_in_order(
    backend: str, tmp_path: Path, writes: list[tuple[int, bytes]]
) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for p in (ours, theirs):
        p.write_bytes(b"\xee" * 1000)
    fd = os.open(theirs, os.O_WRONLY)
    try:
        expected = [os.pwrite(fd, data, off) for off, data in writes]
    finally:
        os.close(fd)

    async def main() -> list[Any]:
        async with hybridio.async_open(ours, "r+b", backend=backend) as f:
            return await f.write_many(writes)

    assert asyncio.run(main()) == expected
    assert ours.read_bytes() == theirs.read_bytes()


async def test_batches_larger_than_the_ring_are_split(
    backend: str, data_file: tuple[Path, bytes]
) -> None:
    path, payload = data_file
    _evict(path)
    reqs = [((i * 97) % (SIZE - 512), 512) for i in range(3 * BUILTIN.max_requests + 7)]
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        got = await f.read_many(reqs)
        assert got == [payload[o : o + s] for o, s in reqs]
        assert await f.read_many([]) == []


async def test_readinto_many_fills_any_writable_buffer(
    backend: str, data_file: tuple[Path, bytes]
) -> None:
    path, payload = data_file
    big = bytearray(300)
    arr = array.array("i", [0] * 8)
    target = bytearray(100)
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        counts = await f.readinto_many(
            [(10, big), (1000, memoryview(target)[10:60]), (5000, arr), (SIZE - 3, bytearray(10))]
        )
        assert counts == [300, 50, 32, 3]
        assert big == payload[10:310]
        assert target[10:60] == payload[1000:1050] and target[:10] == bytes(10)
        assert arr.tobytes() == payload[5000:5032]
        with pytest.raises(TypeError, match="read-write"):
            await f.readinto_many([(0, b"readonly")])
        with pytest.raises(TypeError, match="read-write"):
            await f.readinto_at(0, b"readonly")


async def test_readinto_many_accepts_numpy_arrays(data_file: tuple[Path, bytes]) -> None:
    np = pytest.importorskip("numpy")
    path, payload = data_file
    out = np.zeros((4, 16), dtype=np.uint8)
    async with hybridio.async_open(path, "rb") as f:
        assert await f.readinto_at(64, out) == 64
        assert await f.readinto_many([(0, out[1])]) == [16]
    assert out[0].tobytes() == payload[64:80]
    assert out[1].tobytes() == payload[:16]


async def test_a_cached_read_does_not_suspend(data_file: tuple[Path, bytes]) -> None:
    path, payload = data_file
    path.read_bytes()  # warm the page cache
    async with hybridio.async_open(path, "rb") as f:
        if f.stats.inline_disabled_reason is not None:  # type: ignore[attr-defined]
            pytest.skip(f"inline path off: {f.stats.inline_disabled_reason}")  # type: ignore[attr-defined]
        ran = []
        asyncio.get_running_loop().call_soon(ran.append, True)
        data = await f.read_at(4096, 4096)
        batch = await f.read_many([(0, 100), (8192, 4096)])
        assert ran == []  # no loop iteration happened: nothing suspended
        assert data == payload[4096:8192]
        assert batch == [payload[:100], payload[8192:12288]]
        assert f.stats.inline_ops == 3  # type: ignore[attr-defined]
        assert f.stats.kernel_ops == 0  # type: ignore[attr-defined]


async def test_an_evicted_range_goes_to_the_kernel_and_returns_the_same_bytes(
    backend: str, data_file: tuple[Path, bytes]
) -> None:
    path, payload = data_file
    # The RWF_NOWAIT read that finds the page missing starts readahead of it, and
    # on a fast device that readahead can finish before the kernel looks at the
    # page again: the read is then served inline, correctly.  Each attempt must
    # have gone one way or the other; one of them must have missed.
    for _attempt in range(20):
        if not _evict(path):
            pytest.skip("this filesystem keeps pages resident after POSIX_FADV_DONTNEED")
        async with hybridio.async_open(path, "rb", backend=backend) as f:
            cold = await f.read_at(20000, 4096)
            stats = f.stats  # type: ignore[attr-defined]
            assert cold == payload[20000:24096]
            assert stats.backend == backend
            missed = stats.inline_misses == 1
            assert (stats.kernel_ops, stats.inline_ops) == ((1, 0) if missed else (0, 1))
            if missed:
                warm = await f.read_at(20000, 4096)
                assert f.stats.inline_ops == 1  # type: ignore[attr-defined]
                assert warm == cold
                return
    pytest.skip("readahead filled every evicted page before RWF_NOWAIT looked again")


async def test_a_range_the_page_cache_misses_goes_to_the_kernel_and_returns_the_same_bytes(
    backend: str, data_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, payload = data_file
    real = inline._preadv
    assert real is not None
    misses = [20000]

    def cache(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        """A page cache without the page at 20000 the first time it is asked."""
        if offset in misses:
            misses.remove(offset)
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        n: int = real(fd, buffers, offset, flags)
        return n

    monkeypatch.setattr(inline, "_preadv", cache)
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        cold = await f.read_at(20000, 4096)
        stats = f.stats  # type: ignore[attr-defined]
        assert (stats.kernel_ops, stats.inline_misses, stats.inline_ops) == (1, 1, 0)
        assert stats.backend == backend
        warm = await f.read_at(20000, 4096)
        assert f.stats.inline_ops == 1  # type: ignore[attr-defined]
        assert cold == warm == payload[20000:24096]
    assert misses == []


async def test_a_failing_op_raises_batcherror_after_the_batch(
    data_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, payload = data_file
    _evict(path)
    # The kernel engine serves every read (none inline), and the one at offset
    # 100 fails the way a dying disk fails it.
    monkeypatch.setenv("HYBRIDIO_INLINE", "0")
    hybridio.reload_settings()
    eio = Fault("read", error=errno.EIO, offset=100)
    install_faults(monkeypatch, eio)
    async with hybridio.async_open(path, "rb") as f:
        reqs = [(0, 10), (100, 10), (200, 10)]
        with pytest.raises(hybridio.BatchError) as info:
            await f.read_many(reqs)
        assert set(info.value.errors) == {1}
        assert info.value.errno == 5
        assert info.value.results[0] == payload[:10]
        got = await f.read_many(reqs, return_exceptions=True)
        assert isinstance(got[1], OSError) and got[2] == payload[200:210]
    assert eio.hits == 2  # the fault was injected, once per batch


async def test_batch_cancel_storm_leaves_nothing_in_flight(
    backend: str, data_file: tuple[Path, bytes]
) -> None:
    path, payload = data_file
    loop = asyncio.get_running_loop()
    handler_calls: list[Any] = []
    loop.set_exception_handler(lambda _loop, context: handler_calls.append(context))
    reqs = [(i * 4096, 4096) for i in range(16)]
    async with hybridio.async_open(path, "r+b", backend=backend) as f:
        for round_no in range(50):
            _evict(path)
            task = asyncio.ensure_future(f.read_many(reqs))
            for _ in range(round_no % 3):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.wait([task], timeout=30)
            assert task.done()
            if not task.cancelled():
                assert task.result() == [payload[o : o + s] for o, s in reqs]
        assert f._raw.engine._inflight == 0  # type: ignore[attr-defined]
        assert await f.read_many(reqs) == [payload[o : o + s] for o, s in reqs]
    assert handler_calls == []


def test_sqpoll_is_off_unless_asked() -> None:
    async def main() -> bool:
        async with hybridio.async_open(__file__, "rb", backend="uring") as f:
            return bool(f._raw.engine.sqpoll)  # type: ignore[attr-defined]

    if kernel.probe("uring") is not None:
        pytest.skip("io_uring unavailable here")
    assert asyncio.run(main()) is False


# A miss of preadv2(RWF_NOWAIT) still starts readahead, and submitting that
# waits when the device queue is full: 200-250 ms for the first miss here
# while the disk was busy writing back earlier tests' files.  This test is
# about the back-off, so its stall bound allows for that wait.
@pytest.mark.stall_bound(1.0)
async def test_the_inline_path_backs_off_on_cold_data_and_returns_when_warm(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cold.bin"
    payload = os.urandom(16 << 20)
    path.write_bytes(payload)
    # 1 MiB apart: past any readahead window, so every read is a real miss --
    # unless the miss's own readahead finishes before the kernel looks again,
    # which a fast device can do: then the streak is broken; try again.
    offsets = [i << 20 for i in range(16)]
    for _attempt in range(5):
        if not _evict(path):
            pytest.skip("this filesystem keeps pages resident after POSIX_FADV_DONTNEED")
        async with hybridio.async_open(path, "rb", access="random") as f:
            got = [await f.read_at(off, 16) for off in offsets]
            assert got == [payload[o : o + 16] for o in offsets]
            stats = f.stats  # type: ignore[attr-defined]
            assert stats.inline_misses + stats.inline_skipped + stats.inline_ops == len(offsets)
        if stats.inline_skipped:  # a streak of misses stopped the attempts
            break
    else:
        pytest.skip("readahead filled evicted pages before RWF_NOWAIT looked again")
    path.read_bytes()  # now cached
    async with hybridio.async_open(path, "rb") as f:
        for off in offsets:
            assert await f.read_at(off, 16) == payload[off : off + 16]
        assert f.stats.inline_ops == len(offsets)  # type: ignore[attr-defined]
