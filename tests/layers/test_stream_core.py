"""The parts of the thread-served stream that need no event loop, and the lock
bracket every layer shares: the blocking state machine driven with plain calls,
the three file kinds, and :class:`Exclusive` releasing what it took."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from hybridio._layers.exclusive import Exclusive
from hybridio._layers.stream import (
    CompressedStreamFile,
    StreamFile,
    UnbufferedStreamFile,
    open_stream,
)
from hybridio._layers.streamcore import StreamCore
from hybridio._modes import parse_mode


def _core(path: Path, mode: str, chunk: int) -> StreamCore:
    core = StreamCore()
    core._init_core(io.FileIO(path, mode), None, chunk, appending=False)
    return core


def test_the_blocking_core_runs_with_plain_calls(tmp_path: Path) -> None:
    """Write-behind, lazy seek, refill and line search, without a loop."""
    path = tmp_path / "f"
    core = _core(path, "w+b", chunk=4)
    try:
        core._wbuf += b"ab\ncdef"
        assert core._logical_pos() == 7
        core._flush_sync()
        assert path.read_bytes() == b"ab\ncdef"
        assert not core._wbuf
        assert core._seek_sync(0, io.SEEK_SET) == 0
        core._fill_sync(1)  # a plain file reads one chunk, not to EOF
        assert core._rbuf == b"ab\nc"
        assert core._line_from_buffer(-1, False) == b"ab\n"
        assert core._logical_pos() == 3
        assert core._line_from_buffer(-1, False) is None  # needs more data
        core._fill_sync(10, newline=True)
        assert core._line_from_buffer(-1, True) == b"cdef"
        # A write after read-ahead lands at the logical position.
        core._rbuf, core._rpos = b"", 0
        core._seek_to = 1
        core._wbuf += b"X"
        core._flush_sync()
        assert path.read_bytes() == b"aX\ncdef"
    finally:
        core._close_sync()


def test_the_blocking_core_keeps_an_error_after_some_bytes(tmp_path: Path) -> None:
    """A refill that fails after bytes arrived delivers them, then the error."""
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    core = _core(path, "rb", chunk=2)
    reads = iter([b"ab", OSError(5, "EIO")])

    def read(_n: int) -> bytes:
        item = next(reads)
        if isinstance(item, OSError):
            raise item
        return item

    core._read_raw = read
    try:
        core._fill_sync(3)
        assert core._rbuf == b"ab"
        with pytest.raises(OSError, match="EIO"):
            core._take_pending()
        core._take_pending()  # raised once only
    finally:
        core._close_sync()


@pytest.mark.parametrize(
    ("buffering", "compression", "kind"),
    [
        (-1, "none", StreamFile),
        (0, "none", UnbufferedStreamFile),
        (-1, "gzip", CompressedStreamFile),
        (0, "gzip", CompressedStreamFile),  # a compressor always gets a buffer
    ],
)
async def test_each_kind_of_file_is_its_own_class(
    tmp_path: Path, buffering: int, compression: str, kind: type[StreamFile]
) -> None:
    path = tmp_path / "f"
    f = await open_stream(
        os.fspath(path), parse_mode("wb"), buffering=buffering, compression=compression
    )
    try:
        assert type(f) is kind
        assert await f.write(b"data") == 4
    finally:
        await f.close()


class _Owner:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._busy = False


class _Refusing(Exclusive):
    __slots__ = ()

    def entered(self, owner: object) -> None:
        raise ValueError("refused")


class _Leaving(Exclusive):
    __slots__ = ()

    def leaving(self, owner: object) -> None:
        assert isinstance(owner, _Owner)
        assert owner._busy  # still held
        raise KeyError("leaving")


async def test_exclusive_sets_busy_and_releases_on_every_exit() -> None:
    owner = _Owner()
    async with Exclusive(owner):
        assert owner._busy
        assert owner._lock.locked()
    assert not owner._busy
    assert not owner._lock.locked()
    with pytest.raises(RuntimeError):
        async with Exclusive(owner):
            raise RuntimeError("body")
    assert not owner._busy
    assert not owner._lock.locked()
    with pytest.raises(ValueError, match="refused"):
        async with _Refusing(owner):
            pytest.fail("the body ran")  # pragma: no cover
    assert not owner._busy
    assert not owner._lock.locked()
    with pytest.raises(KeyError, match="leaving"):
        async with _Leaving(owner):
            pass
    assert not owner._busy
    assert not owner._lock.locked()


async def test_exclusive_cancelled_while_waiting_leaves_the_holder_alone() -> None:
    owner = _Owner()
    async with Exclusive(owner):
        waiter = asyncio.ensure_future(Exclusive(owner).__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiter, timeout=5)
        assert owner._busy  # still the holder's
    assert not owner._busy
    assert not owner._lock.locked()
