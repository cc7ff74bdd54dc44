"""Platform fallbacks (RELIABILITY D1; issue 9 item 7), exercised on Linux.

* Without ``os.pread``/``os.pwrite`` (Windows) the thread engine's positional
  calls seek, transfer and seek back under the handle lock.
* On macOS fsync must be ``fcntl(fd, F_FULLFSYNC)`` (plain fsync where the
  filesystem refuses it, any other error raised), on kernel-served and
  thread-served files alike; where ``os.fdatasync`` is missing, fdatasync is
  fsync.

macOS is simulated: ``sys.platform`` reads "darwin", ``fcntl.F_FULLFSYNC``
exists, and a recording ``fcntl.fcntl`` answers it with the real ``fsync``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._layers.buffered import KernelBinaryFile
from hybridio._layers.stream import open_stream
from hybridio._modes import parse_mode

# Not a real fcntl command on Linux: only the fake below understands it.
FAKE_F_FULLFSYNC = 0x7F51


async def _kernel(path: Path, backend: str) -> Any:
    f = await hybridio.async_open(path, "wb", backend=backend)  # type: ignore[arg-type]
    assert isinstance(f, KernelBinaryFile)
    return f


async def _thread(path: Path, backend: str) -> Any:
    return await open_stream(os.fspath(path), parse_mode("wb"))


OPENERS: dict[str, Callable[[Path, str], Any]] = {"kernel": _kernel, "thread": _thread}


async def test_positional_calls_without_pread_and_pwrite_seek_and_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 7: no AttributeError without os.pread/os.pwrite; read_at/write_at
    see buffered writes, land at their offset, and leave the stream where it
    was (the fd offset is restored)."""
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcdef")
    f = await open_stream(os.fspath(path), parse_mode("r+b"), buffering=4)
    try:
        monkeypatch.delattr(os, "pread")
        monkeypatch.delattr(os, "pwrite")
        assert await f.read(2) == b"01"  # read-ahead: the fd is ahead of the position
        await f.write(b"AB")  # buffered at 2..4
        assert await f.read_at(0, 6) == b"01AB45"
        assert await f.write_at(10, b"XYZ") == 3
        assert await f.read_at(8, 100) == b"89XYZdef"
        assert await f.tell() == 4
        assert await f.read(3) == b"456"
        await f.write(b"!")
        assert await f.read_at(0, 0) == b""
    finally:
        await f.close()
    assert path.read_bytes() == b"01AB456!89XYZdef"


class FakeMacOS:
    """fcntl.fcntl and os.fsync as macOS would see them, recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.full_fsync_error: int | None = None
        self._fcntl = fcntl.fcntl
        self._fsync = os.fsync
        monkeypatch.setattr(fcntl, "F_FULLFSYNC", FAKE_F_FULLFSYNC, raising=False)
        monkeypatch.setattr(fcntl, "fcntl", self.fcntl)
        monkeypatch.setattr(os, "fsync", self.fsync)

    def fcntl(self, fd: int, cmd: int, *args: Any) -> Any:
        if cmd != FAKE_F_FULLFSYNC:
            return self._fcntl(fd, cmd, *args)
        self.calls.append("F_FULLFSYNC")
        if self.full_fsync_error is not None:
            raise OSError(self.full_fsync_error, os.strerror(self.full_fsync_error))
        self._fsync(fd)  # the real work, as close as Linux gets
        return 0

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync")
        self._fsync(fd)


@pytest.mark.parametrize("layer", list(OPENERS))
async def test_fsync_on_macos_uses_f_fullfsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer: str
) -> None:
    """D1: fsync and fdatasync are F_FULLFSYNC on darwin, on the kernel engine
    too (which used caio's plain fsync), and the data was flushed first."""
    path = tmp_path / "f"
    f = await OPENERS[layer](path, "thread")
    try:
        await f.write(b"durable")
        fake = FakeMacOS(monkeypatch)
        monkeypatch.setattr(sys, "platform", "darwin")
        await f.fsync()
        await f.fdatasync()
        monkeypatch.setattr(sys, "platform", "linux")
        assert fake.calls == ["F_FULLFSYNC", "F_FULLFSYNC"]
        assert path.read_bytes() == b"durable"
    finally:
        await f.close()


@pytest.mark.parametrize("layer", list(OPENERS))
@pytest.mark.parametrize("refusal", [errno.ENOTSUP, errno.EINVAL])
async def test_fsync_on_macos_falls_back_to_fsync_where_f_fullfsync_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer: str, refusal: int
) -> None:
    """D1: a filesystem that refuses F_FULLFSYNC gets a plain fsync, not an error."""
    path = tmp_path / "f"
    f = await OPENERS[layer](path, "thread")
    try:
        await f.write(b"x")
        fake = FakeMacOS(monkeypatch)
        fake.full_fsync_error = refusal
        monkeypatch.setattr(sys, "platform", "darwin")
        await f.fsync()
        monkeypatch.setattr(sys, "platform", "linux")
        assert fake.calls == ["F_FULLFSYNC", "fsync"]
    finally:
        await f.close()


@pytest.mark.parametrize("layer", list(OPENERS))
async def test_an_f_fullfsync_io_error_is_raised_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer: str
) -> None:
    """D1: EIO from F_FULLFSYNC may be the only report of lost data: raised,
    with the errno, and not papered over by a fallback fsync."""
    path = tmp_path / "f"
    f = await OPENERS[layer](path, "thread")
    try:
        fake = FakeMacOS(monkeypatch)
        fake.full_fsync_error = errno.EIO
        monkeypatch.setattr(sys, "platform", "darwin")
        with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked
            await f.fsync()
        monkeypatch.setattr(sys, "platform", "linux")
        assert info.value.errno == errno.EIO
        assert fake.calls == ["F_FULLFSYNC"]
    finally:
        await f.close()


async def _fdatasync_without_os_fdatasync(
    f: Any, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        await f.write(b"data")
        fake = FakeMacOS(monkeypatch)  # records os.fsync; the platform stays Linux
        monkeypatch.delattr(os, "fdatasync")
        await f.fdatasync()
        assert fake.calls == ["fsync"]
        assert path.read_bytes() == b"data"
    finally:
        await f.close()


async def test_kernel_fdatasync_falls_back_to_fsync_where_the_os_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """D1: without os.fdatasync, fdatasync() is an fsync, on every backend."""
    path = tmp_path / "f"
    await _fdatasync_without_os_fdatasync(await _kernel(path, backend), path, monkeypatch)


async def test_thread_fdatasync_falls_back_to_fsync_where_the_os_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    await _fdatasync_without_os_fdatasync(await _thread(path, ""), path, monkeypatch)
