"""Binary files on the kernel engine: the builtin open()'s errors and edge cases
(RELIABILITY B4-B8, F1, F2, F4), on every kernel backend."""

from __future__ import annotations

import array
import asyncio
import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import contexts
from hybridio._layers.buffered import KernelBinaryFile
from hybridio._layers.raw import RawKernelFile
from hybridio._modes import parse_mode
from hybridio._profile import BUILTIN


async def test_await_and_async_with_both_open(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f.bin"
    f = await hybridio.async_open(path, "wb", backend=backend)
    assert f.backend == backend  # type: ignore[attr-defined]
    assert await f.write(b"abc") == 3
    await f.close()
    async with hybridio.async_open(path, "rb", backend=backend) as g:
        assert isinstance(g, hybridio.AsyncBinaryIO)
        assert await g.read() == b"abc"
        assert g.name == os.fspath(path)  # open(Path).name is a str
        assert g.mode == "rb"
        assert g.readable() and not g.writable() and g.seekable()
    assert g.closed


async def test_every_method_of_a_closed_file_raises_valueerror(
    tmp_path: Path, backend: str
) -> None:
    f = await hybridio.async_open(tmp_path / "f", "w+b", backend=backend)
    await f.close()
    await f.close()  # idempotent
    await f.aclose()
    calls: list[Any] = [
        f.read(),
        f.read(0),
        f.read1(1),
        f.readinto(bytearray(1)),
        f.readline(),
        f.readlines(),
        f.write(b"x"),
        f.writelines([b"x"]),
        f.seek(0),
        f.tell(),
        f.truncate(),
        f.flush(),
        f.fsync(),
        f.fdatasync(),
        f.read_at(0, 1),
        f.readinto_at(0, bytearray(1)),
        f.write_at(0, b"x"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed file"):
            await call
    for sync_call in (f.fileno, f.readable, f.writable, f.seekable, f.isatty):
        with pytest.raises(ValueError, match="closed file"):
            sync_call()
    with pytest.raises(ValueError, match="closed file"):
        async with f:
            pass
    with pytest.raises(ValueError, match="closed file"):
        async for _ in f:
            pass


async def test_wrong_direction_raises_unsupported_operation(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"data")
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        for call in (f.write(b"x"), f.write_at(0, b"x"), f.truncate(0), f.writelines([b"x"])):
            with pytest.raises(io.UnsupportedOperation):
                await call
    async with hybridio.async_open(path, "ab", backend=backend) as f:
        for rcall in (f.read(), f.read(1), f.readline(), f.read_at(0, 1), f.read1(1)):
            with pytest.raises(io.UnsupportedOperation):
                await rcall
    assert path.read_bytes() == b"data"


async def _error_of(opening: Any) -> BaseException:
    try:
        f = await opening()
    except BaseException as exc:
        return exc
    await f.close()
    raise AssertionError("no error")


def _builtin_error(*args: Any) -> BaseException:
    try:
        open(*args).close()
    except BaseException as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("case", ["missing", "directory", "nul", "exists"])
async def test_path_errors_match_builtin_open(tmp_path: Path, backend: str, case: str) -> None:
    (tmp_path / "exists").write_bytes(b"x")
    path: Any = {
        "missing": tmp_path / "missing" / "f",
        "directory": tmp_path,
        "nul": str(tmp_path / "a\0b"),
        "exists": tmp_path / "exists",
    }[case]
    mode = "xb" if case == "exists" else "rb"
    theirs = _builtin_error(path, mode)
    # A NUL is refused when async_open() is called, as open() refuses it.
    ours = await _error_of(lambda: hybridio.async_open(path, mode, backend=backend))
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)
    if isinstance(theirs, OSError):
        assert isinstance(ours, OSError)
        assert ours.errno == theirs.errno
        assert ours.filename == theirs.filename


async def test_str_bytes_and_pathlike_paths_and_fd(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    for name in (str(path), os.fsencode(path), path):
        async with hybridio.async_open(name, "rb", backend=backend) as f:
            assert f.name == os.fspath(name)
            assert await f.read(2) == b"12"
    fd = os.open(path, os.O_RDONLY)
    try:
        async with hybridio.async_open(fd, "rb", closefd=False, backend=backend) as f:
            assert f.name == fd
            assert await f.read() == b"12345"
        os.fstat(fd)  # still open: closefd=False
    finally:
        os.close(fd)
    with pytest.raises(ValueError, match="Cannot use closefd=False with file name"):
        hybridio.async_open(path, "rb", closefd=False)


async def test_opener_is_called_with_path_and_flags(tmp_path: Path, backend: str) -> None:
    seen = []

    def opener(name: str, flags: int) -> int:
        seen.append((name, flags))
        return os.open(name, flags, 0o600)

    async with hybridio.async_open(tmp_path / "f", "wb", opener=opener, backend=backend) as f:
        await f.write(b"x")
    assert seen == [(str(tmp_path / "f"), parse_mode("wb").os_flags)]
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600


async def test_wrong_data_types_raise_typeerror_and_later_writes_land(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    async with hybridio.async_open(path, "wb", backend=backend) as f:
        with pytest.raises(TypeError, match="a bytes-like object is required, not 'str'"):
            await f.write("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await f.write([1, 2])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await f.write_at(0, "text")  # type: ignore[arg-type]
        await f.write(b"ok")
        await f.write(bytearray(b"ba"))
        await f.write(array.array("B", [1, 2]))
        await f.write(memoryview(bytes(range(12))).cast("B", (3, 4)))
        await f.write(array.array("i", [7]))
    expected = b"okba\x01\x02" + bytes(range(12)) + array.array("i", [7]).tobytes()
    assert path.read_bytes() == expected


async def test_sizes_and_offsets_are_validated(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    async with hybridio.async_open(path, "r+b", backend=backend) as f:
        with pytest.raises(ValueError, match="non-negative or -1"):
            await f.read(-2)
        with pytest.raises(TypeError):
            await f.read(1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="negative offset"):
            await f.read_at(-1, 1)
        with pytest.raises(ValueError, match="negative offset"):
            await f.write_at(-1, b"x")
        with pytest.raises(ValueError, match="negative size"):
            await f.read_at(0, -1)
        with pytest.raises(ValueError, match="whence value 5 unsupported"):
            await f.seek(0, 5)
        with pytest.raises(TypeError):
            await f.seek(1.5)  # type: ignore[arg-type]
        with pytest.raises(OSError, match="Invalid argument"):
            await f.seek(-1)
        assert await f.tell() == 0
        assert await f.read(0) == b""


async def test_read_zero_makes_no_syscall(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    async with hybridio.async_open(path, "rb") as f:
        assert await f.read(0) == b""
        assert await f.read_at(0, 0) == b""
        assert f.stats.ops == 0  # type: ignore[attr-defined]
        assert await f.read(1) == b"a"
        assert f.stats.ops == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("offset", [2**31 + 1, 2**32 + 1])
async def test_large_offsets_round_trip_and_holes_read_as_zeros(
    tmp_path: Path, backend: str, offset: int
) -> None:
    path = tmp_path / "sparse"
    async with hybridio.async_open(path, "w+b", backend=backend) as f:
        assert await f.write_at(offset, b"far away") == 8
        assert await f.read_at(offset, 8) == b"far away"
        assert await f.read_at(offset - 4, 4) == b"\0\0\0\0"
        assert await f.read_at(1000, 16) == bytes(16)
        assert await f.tell() == 0
        assert await f.seek(0, os.SEEK_END) == offset + 8
    with open(path, "rb") as check:
        check.seek(offset)
        assert check.read() == b"far away"


async def test_a_read_across_eof_returns_exactly_the_rest(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    payload = os.urandom(10_000)
    path.write_bytes(payload)
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        assert await f.read_at(9_990, 4096) == payload[9_990:]
        assert await f.read_at(10_000, 4096) == b""
        buf = bytearray(b"\xff" * 64)
        assert await f.readinto_at(9_980, buf) == 20
        assert buf[:20] == payload[9_980:] and buf[20:] == b"\xff" * 44
        await f.seek(9_000)
        assert await f.read(5_000) == payload[9_000:]
        assert await f.read(1) == b""
        assert await f.read() == b""


async def test_lines_iteration_and_readlines(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "lines"
    lines = [b"line %d\n" % i for i in range(5000)] + [b"no newline at end"]
    async with hybridio.async_open(path, "wb", backend=backend) as f:
        await f.writelines(lines)
    async with hybridio.async_open(path, "rb", backend=backend, buffering=100) as f:
        assert [line async for line in f] == lines
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        assert await f.readlines() == lines
        await f.seek(0)
        assert await f.readline(3) == b"lin"
        assert await f.readline() == b"e 0\n"
        assert await f.readlines(10) == lines[1:3]


async def test_append_lands_at_the_end_even_after_another_writer(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"start\n")
    async with hybridio.async_open(path, "ab", backend=backend) as f:
        assert await f.tell() == 6
        with open(path, "ab") as other:
            other.write(b"other\n")
        await f.write(b"ours\n")
        await f.flush()
        assert await f.tell() == 17
        await f.write_at(0, b"positional appends too\n")
    assert path.read_bytes() == b"start\nother\nours\npositional appends too\n"


async def test_unbuffered_writes_reach_the_os_before_returning(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    async with hybridio.async_open(path, "wb", buffering=0, backend=backend) as f:
        for i in range(1, 4):
            await f.write(b"x")
            assert path.stat().st_size == i


async def test_buffered_writes_wait_for_flush(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    async with hybridio.async_open(path, "wb", buffering=1024, backend=backend) as f:
        await f.write(b"x" * 10)
        assert path.stat().st_size == 0
        await f.flush()
        assert path.stat().st_size == 10
        await f.write(b"y" * 2000)  # larger than the buffer: written through
        assert path.stat().st_size == 2010
        await f.fsync()
        await f.fdatasync()


async def test_large_read_and_write_are_chunked_and_exact(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "big"
    payload = os.urandom(3 * BUILTIN.max_chunk + 12345)
    async with hybridio.async_open(path, "w+b", backend=backend) as f:
        assert await f.write(payload) == len(payload)
        await f.seek(0)
        assert await f.read() == payload
        assert await f.read_at(100, len(payload)) == payload[100:]
    assert path.read_bytes() == payload


async def test_fd_closed_behind_the_objects_back_raises_ebadf(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    f = await hybridio.async_open(path, "r+b", backend=backend)
    os.close(f.fileno())
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await f.read_at(0, 1)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await f.close()
    assert info.value.errno == errno.EBADF
    assert f.closed
    await f.close()


class ScriptedEngine:
    """A fault-injecting engine: writes land partially, by a scripted count."""

    name = "scripted"
    closed = False
    sqpoll = False

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.calls: list[tuple[int, int]] = []
        self.loop = asyncio.get_running_loop()

    class budget:
        @staticmethod
        def spent() -> bool:
            return False

    def op_write(self, fd: int, data: bytes, offset: int) -> tuple[int, bytes, int]:
        return (fd, data, offset)

    async def run_one(self, op: tuple[int, bytes, int], landed: Any = None) -> Any:
        fd, data, offset = op
        count = self.counts.pop(0) if self.counts else len(data)
        self.calls.append((offset, count))
        if count < 0:
            return OSError(-count, os.strerror(-count))
        return os.pwrite(fd, data[:count], offset) if count else 0


@pytest.mark.parametrize("counts", [[3, 4], [12, 1, 6]])
async def test_short_writes_complete_at_the_right_offsets(
    tmp_path: Path, counts: list[int]
) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    engine = ScriptedEngine(list(counts))
    raw = RawKernelFile(fd, engine, str(path))  # type: ignore[arg-type]
    assert (
        await raw.pwrite_all(b"abcdefghijklmnopqrstuvwxyz"[: sum(counts) + 5], 10)
        == sum(counts) + 5
    )
    os.close(fd)
    expected_offsets = [10]
    for c in counts:
        expected_offsets.append(expected_offsets[-1] + c)
    assert [off for off, _ in engine.calls] == expected_offsets
    assert path.read_bytes()[10:] == b"abcdefghijklmnopqrstuvwxyz"[: sum(counts) + 5]


async def test_a_zero_byte_write_raises_instead_of_looping(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        raw = RawKernelFile(fd, ScriptedEngine([2, 0]), str(path))  # type: ignore[arg-type]
        with pytest.raises(OSError, match="0 bytes"):
            await raw.pwrite_all(b"abcdef", 0)
    finally:
        os.close(fd)


async def test_an_engine_errno_becomes_oserror_with_errno_and_filename(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        raw = RawKernelFile(fd, ScriptedEngine([-errno.ENOSPC]), str(path))  # type: ignore[arg-type]
        f = KernelBinaryFile(raw, parse_mode("wb"), name=str(path), closefd=False)
        await f.write(b"data")
        with pytest.raises(OSError, match="No space left") as info:
            await f.flush()
        assert info.value.errno == errno.ENOSPC
        assert info.value.filename == str(path)
        # Nothing lost: the data is still buffered and lands on the next flush.
        await f.close()
        assert path.read_bytes() == b"data"
    finally:
        os.close(fd)


class FakeOp:
    """An operation whose get_value() fails as caio's do."""

    def __init__(self, error: int) -> None:
        self.error = error

    def get_value(self) -> Any:
        raise SystemError(os.strerror(self.error))


def test_caio_systemerror_is_translated_to_oserror_with_errno() -> None:
    value = contexts._result("uring", FakeOp(errno.EIO), -errno.EIO)
    assert isinstance(value, OSError) and value.errno == errno.EIO
    op = FakeOp(0)
    value = contexts._result("linux", op, (1 << 64) - errno.ENOSPC)
    assert isinstance(value, OSError) and value.errno == errno.ENOSPC


async def test_unclosed_file_warns_and_loses_no_data(tmp_path: Path) -> None:
    path = tmp_path / "f"
    f = await hybridio.async_open(path, "wb")
    await f.write(b"buffered")
    with pytest.warns(ResourceWarning, match="unclosed file"):
        f.__del__()  # type: ignore[attr-defined]
    assert path.read_bytes() == b"buffered"


async def test_read1_from_the_read_buffer_keeps_the_position_and_a_shared_fd_offset(
    tmp_path: Path, backend: str
) -> None:
    payload = os.urandom(20000)
    path = tmp_path / "f"
    path.write_bytes(payload)
    fd = os.open(path, os.O_RDWR)
    try:
        # Opened from an fd, the file leaves the fd's offset where an unbuffered
        # FileIO would have it, also after reads the read buffer served.
        async with hybridio.async_open(
            fd, "r+b", backend=backend, buffering=8192, closefd=False
        ) as f:
            assert await f.read1(100) == payload[:100]  # fills the read buffer
            assert await f.read1(1000) == payload[100:1100]
            assert os.lseek(fd, 0, os.SEEK_CUR) == 1100
            assert await f.read1(-1) == payload[1100:8192]  # the rest of the buffer
            assert await f.tell() == 8192 == os.lseek(fd, 0, os.SEEK_CUR)
            await f.seek(200)
            await f.write(b"new")  # write-behind: read1 must not read around it
            assert await f.read1(5) == payload[203:208]
            await f.seek(200)
            assert await f.read1(5) == b"new" + payload[203:205]
            assert await f.tell() == 205
    finally:
        os.close(fd)
