"""Inline (RWF_NOWAIT) reads: an argument error is not a filesystem refusal (issue 9 item 10).

One read with a bad offset used to switch inline reads off for the file's
lifetime, with "the filesystem refused RWF_NOWAIT" as the reason.  EINVAL is
now checked against a known-good read before the filesystem is blamed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import inline
from hybridio._engines.inline import InlineReader

pytestmark = pytest.mark.skipif(
    inline.unsupported_reason(None) is not None,
    reason=f"no inline reads here: {inline.unsupported_reason(None)}",
)

DATA = bytes(range(256)) * 16
#: Its end passes the largest file offset (2**63 - 1): EINVAL from the kernel.
BAD_OFFSET = 2**63 - 4


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    os.pread(fd, len(DATA), 0)  # cached
    yield fd
    os.close(fd)


def test_an_einval_from_a_bad_offset_keeps_inline_reads_on(fd: int) -> None:
    reader = InlineReader(fd)
    assert reader.enabled
    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked
        os.preadv(fd, [bytearray(8)], BAD_OFFSET)
    assert info.value.errno == errno.EINVAL  # the premise
    assert reader.read(8, BAD_OFFSET) is None  # left to the kernel engine
    assert reader.enabled
    assert reader.reason is None
    assert reader.read(16, 0) == DATA[:16]
    assert reader.misses == 0


def test_a_bad_offset_in_a_batch_is_one_miss_and_the_rest_is_served(fd: int) -> None:
    reader = InlineReader(fd)
    reqs = [(0, 4), (BAD_OFFSET, 8), (4, 4)]
    results: list[Any] = [b""] * len(reqs)
    assert reader.read_batch(reqs, results, 1 << 20) == [1]
    assert results[0] == DATA[:4] and results[2] == DATA[4:8]
    assert reader.enabled


@pytest.mark.parametrize("code", [errno.EINVAL, errno.EOPNOTSUPP])
def test_a_filesystem_that_refuses_rwf_nowait_turns_inline_reads_off(
    fd: int, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The other side: when even a known-good read is refused (a fake
    filesystem here), the file stops trying, and says why."""
    calls: list[int] = []

    def refusing(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        calls.append(offset)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(inline, "_preadv", refusing)
    reader = InlineReader(fd)
    assert reader.read(8, 64) is None
    assert not reader.enabled
    assert reader.reason is not None and "refused RWF_NOWAIT" in reader.reason
    # EINVAL is double-checked with one read at offset 0; EOPNOTSUPP is not.
    assert calls == ([64, 0] if code == errno.EINVAL else [64])


async def test_read_at_with_a_bad_offset_does_not_disable_the_inline_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    async with hybridio.async_open(path, "rb") as f:
        assert await f.read_at(0, 16) == DATA[:16]
        with pytest.raises((OSError, OverflowError, ValueError)):
            await f.read_at(BAD_OFFSET, 8)
        before = f.stats.inline_ops
        assert await f.read_at(16, 16) == DATA[16:32]
        stats = f.stats
        assert stats.inline_disabled_reason is None
        assert stats.inline_ops == before + 1


def test_readers_share_one_scratch_buffer_without_sharing_results(tmp_path: Path) -> None:
    # Inline reads land in a reused buffer, the reader's own up to 64 KiB and
    # one per thread above (a fresh 1 MiB bytearray per read ran at a quarter
    # of pread's speed); every result must still be its own bytes, whatever
    # size the next read has.
    big = os.urandom(1 << 20)
    small = os.urandom(5000)
    fds = []
    for name, data in (("big", big), ("small", small)):
        (tmp_path / name).write_bytes(data)
        fds.append(os.open(tmp_path / name, os.O_RDONLY))
        os.pread(fds[-1], len(data), 0)  # cached
    try:
        a, b = InlineReader(fds[0], 1 << 20), InlineReader(fds[1], 1 << 20)
        first = a.read(4096, 0)
        second = a.read(4096, 4096)  # the reader's own buffer, used again
        whole = a.read(1 << 20, 0)
        short = b.read(8192, 0)  # stops at EOF: 5000 bytes
        batch: list[Any] = [b""] * 3
        assert b.read_batch([(0, 10), (4990, 100), (100, 4000)], batch, 1 << 20) == []
        again = a.read(3, (1 << 20) - 3)
        assert (first, second, whole) == (big[:4096], big[4096:8192], big)
        assert (short, again) == (small, big[-3:])
        assert batch == [small[:10], small[4990:], small[100:4100]]
        assert all(type(x) is bytes for x in (first, second, whole, short, again, *batch))
    finally:
        for fd in fds:
            os.close(fd)


def _preadv_raising(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Every RWF_NOWAIT read fails with *code* (a fake filesystem)."""

    def failing(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(inline, "_preadv", failing)


def test_a_batch_on_a_filesystem_that_refuses_rwf_nowait_leaves_every_range_to_the_kernel(
    fd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _preadv_raising(monkeypatch, errno.EOPNOTSUPP)
    reader = InlineReader(fd)
    results: list[Any] = [None] * 4
    assert reader.read_batch([(0, 8), (8, 0), (16, 8), (24, 8)], results, 1 << 20) == [0, 2, 3]
    assert not reader.enabled
    assert results == [None] * 4


def test_a_batch_read_error_that_is_not_a_refusal_is_raised(
    fd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _preadv_raising(monkeypatch, errno.EIO)
    reader = InlineReader(fd)
    with pytest.raises(OSError, match=os.strerror(errno.EIO)) as info:
        reader.read_batch([(0, 8), (16, 8)], [None, None], 1 << 20)
    assert info.value.errno == errno.EIO
    assert reader.enabled
