"""Regressions of issue 9 ("Correctness first") on the kernel engine.

Each test here failed on the code before the fix: data lost, duplicated or
misplaced when many tasks share a handle, an fd's offset ignored, cancelled and
failed writes whose position disagreed with the file, and a file that lost its
buffer when used under a second event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import Strategy
from tests.conftest import tmpfs

RECORD = 100


def _record(task: int, i: int) -> bytes:
    body = f"{task:04d}:{i:06d}:".encode()
    return body + b"x" * (RECORD - len(body) - 1) + b"\n"


def _kernel(path: Path, mode: str, backend: str, **kw: Any) -> Any:
    return hybridio.async_open(path, mode, strategy=Strategy.KERNEL, backend=backend, **kw)  # type: ignore[call-overload]


# -- item 1: many tasks on one handle ----------------------------------------------


@pytest.mark.parametrize("tasks", [4, 64])
async def test_many_tasks_writing_one_handle_lose_duplicate_and_tear_nothing(
    tmp_path: Path, backend: str, tasks: int
) -> None:
    path = tmp_path / "f"
    per_task = 4000 // tasks
    async with _kernel(path, "wb", backend) as f:

        async def writer(t: int) -> None:
            for i in range(per_task):
                await f.write(_record(t, i))
                if i % 7 == 0:
                    await asyncio.sleep(0)

        await asyncio.gather(*(writer(t) for t in range(tasks)))
        assert await f.tell() == tasks * per_task * RECORD
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == tasks * per_task
    assert sorted(lines) == sorted(_record(t, i) for t in range(tasks) for i in range(per_task))


async def test_many_tasks_reading_one_handle_see_each_byte_once(
    tmp_path: Path, backend: str
) -> None:
    block = 64 << 10
    blocks = 64  # 4 MiB
    path = tmp_path / "f"
    path.write_bytes(b"".join(i.to_bytes(4, "big") * (block // 4) for i in range(blocks)))
    # Out of the page cache, so that reads suspend in the kernel engine.
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    async with _kernel(path, "rb", backend, buffering=0) as f:
        seen: list[bytes] = []

        async def reader() -> None:
            while chunk := await f.read(block):
                seen.append(chunk)
                await asyncio.sleep(0)

        await asyncio.gather(*(reader() for _ in range(16)))
    assert sum(map(len, seen)) == blocks * block
    assert sorted(int.from_bytes(c[:4], "big") for c in seen) == list(range(blocks))
    assert all(c == c[:4] * (block // 4) for c in seen)


async def test_concurrent_seek_and_read_pairs_behave_as_if_serialised(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    data = os.urandom(1 << 20)
    path.write_bytes(data)
    async with _kernel(path, "r+b", backend) as f:

        async def line(i: int) -> None:
            for j in range(20):
                off = ((i * 20 + j) * 4099) % (len(data) - 64)
                # A seek+read pair is not atomic across tasks, but each call
                # is: tell() always equals a position some call produced.
                await f.seek(off)
                got = await f.read(64)
                assert len(got) == 64
                assert got in data

        await asyncio.gather(*(line(i) for i in range(32)))


# -- item 2: an fd's own offset ----------------------------------------------------


async def test_an_fd_is_used_from_its_offset_and_left_where_fileio_would(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"AAAAAAAAAA")
    fd = os.open(path, os.O_RDWR)
    try:
        os.lseek(fd, 4, os.SEEK_SET)
        async with _kernel(fd, "r+b", backend, closefd=False) as f:  # type: ignore[arg-type]
            assert await f.tell() == 4
            await f.write(b"BB")
            await f.flush()
            assert os.lseek(fd, 0, os.SEEK_CUR) == 6
        # What a later os.write or print() to the same fd writes comes after.
        os.write(fd, b"CC")
        assert path.read_bytes() == b"AAAABBCCAA"

        os.lseek(fd, 0, os.SEEK_SET)
        assert os.read(fd, 4) == b"AAAA"
        async with _kernel(fd, "rb", backend, closefd=False) as f:  # type: ignore[arg-type]
            assert await f.read(3) == b"BBC"
        assert os.lseek(fd, 0, os.SEEK_CUR) == 7
    finally:
        os.close(fd)


def test_a_redirected_stdout_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = (
        "import asyncio, hybridio\n"
        "print('before', flush=True)\n"
        "async def main():\n"
        "    f = await hybridio.async_open(1, 'wb', closefd=False)\n"
        "    await f.write(b'hybridio\\n')\n"
        "    await f.close()\n"
        "asyncio.run(main())\n"
        "print('after', flush=True)\n"
    )
    with out.open("wb") as sink:
        subprocess.run([sys.executable, "-c", code], stdout=sink, check=True, timeout=60)
    assert out.read_bytes() == b"before\nhybridio\nafter\n"


# -- item 3: cancelled writes --------------------------------------------------------


async def test_a_cancelled_large_write_leaves_nothing_beyond_tell(
    tmp_path: Path, backend: str
) -> None:
    payload = os.urandom(4 << 20)
    outcomes: set[str] = set()
    for round_ in range(24):
        path = tmp_path / f"f{round_}"
        async with _kernel(path, "wb", backend) as f:
            task = asyncio.ensure_future(f.write(payload))
            for _ in range(round_ % 8):
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
                outcomes.add("done")
            except asyncio.CancelledError as exc:
                # Never an internal subclass carrying results.
                outcomes.add("cancelled" if type(exc) is asyncio.CancelledError else repr(exc))
            pos = await f.tell()
            await f.flush()
            assert os.fstat(f.fileno()).st_size == pos
            # The next write lands at tell(), not at a stale offset.
            await f.write(b"TAIL")
        assert path.read_bytes() == payload[:pos] + b"TAIL"
    assert "cancelled" in outcomes
    assert outcomes <= {"done", "cancelled"}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is 3.11+")
async def test_a_timeout_around_write_at_raises_timeouterror(tmp_path: Path, backend: str) -> None:
    payload = os.urandom(8 << 20)
    async with _kernel(tmp_path / "f", "wb", backend) as f:
        for _ in range(5):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0):  # type: ignore[attr-defined]
                    await f.write_at(0, payload)
        await f.write_at(0, b"ok")


# -- item 4: ENOSPC -------------------------------------------------------------------


@contextlib.contextmanager
def _tiny_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with tmpfs(mnt, f"size={size}"):
        yield mnt


async def _records_with_enospc_retry(f: Any, filler: Path) -> int:
    failures = 0
    for i in range(1000):
        record = _record(0, i)
        while True:
            try:
                await f.write(record)
                break
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                failures += 1
                filler.unlink()
    await f.flush()
    return failures


async def test_a_write_that_raised_enospc_does_not_land_again_on_retry(
    tmp_path: Path, strategy: str
) -> None:
    with _tiny_tmpfs(tmp_path, "1m") as mnt:
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * ((1 << 20) - (64 << 10)))
        target = mnt / "records"
        async with hybridio.async_open(target, "wb", strategy=strategy, buffering=8192) as f:
            failures = await _records_with_enospc_retry(f, filler)
        assert failures >= 1
        with open(target, "rb") as check:  # the stdlib gets exactly 1,000 records
            assert check.read() == b"".join(_record(0, i) for i in range(1000))


async def test_a_large_write_that_failed_moves_tell_by_what_landed(tmp_path: Path) -> None:
    with _tiny_tmpfs(tmp_path, "6m") as mnt:
        target = mnt / "big"
        async with hybridio.async_open(target, "wb", strategy=Strategy.KERNEL) as f:
            with pytest.raises(OSError, match="No space left") as info:
                await f.write(os.urandom(12 << 20))
            assert info.value.errno == errno.ENOSPC
            landed = os.fstat(f.fileno()).st_size
            assert 0 < landed < 12 << 20
            assert await f.tell() == landed


# -- item 6: a file that outlives its event loop ----------------------------------------


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_file_used_in_a_second_event_loop_keeps_its_buffer(
    tmp_path: Path, backend: str, loop_kind: str
) -> None:
    if loop_kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    path = tmp_path / "f"
    holder: dict[str, Any] = {}

    async def first() -> None:
        f = holder["f"] = await _kernel(path, "w+b", backend)
        await f.write(b"one;")

    async def second() -> bytes:
        f = holder["f"]
        await f.write(b"two;")
        await f.seek(0)
        data: bytes = await f.read()
        await f.write_at(100, b"!")
        assert await f.read_at(0, 8) == b"one;two;"
        await f.close()
        return data

    for coro in (first, second):
        loop = new_loop()
        try:
            result = loop.run_until_complete(asyncio.wait_for(coro(), 30))
        finally:
            loop.close()
    assert result == b"one;two;"
    assert path.read_bytes() == b"one;two;" + bytes(92) + b"!"


# -- load: streaming writers by checksum ---------------------------------------------------


async def test_64_tasks_streaming_to_one_handle_by_checksum(tmp_path: Path) -> None:
    path = tmp_path / "f"
    chunks = {t: [os.urandom(1000 + 37 * t) for _ in range(20)] for t in range(64)}
    async with hybridio.async_open(path, "wb") as f:

        async def writer(t: int) -> None:
            for c in chunks[t]:
                # One record per write: a header naming its task and length.
                await f.write(t.to_bytes(2, "big") + len(c).to_bytes(4, "big") + c)

        await asyncio.gather(*(writer(t) for t in range(64)))
    data = memoryview(path.read_bytes())
    got: dict[int, list[str]] = {t: [] for t in range(64)}
    while data:
        t = int.from_bytes(data[:2], "big")
        n = int.from_bytes(data[2:6], "big")
        got[t].append(hashlib.sha256(data[6 : 6 + n]).hexdigest())
        data = data[6 + n :]
    assert got == {t: [hashlib.sha256(c).hexdigest() for c in cs] for t, cs in chunks.items()}


async def test_closing_an_owned_fd_leaves_the_shared_offset_for_its_dups(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    dup = os.dup(fd)  # shares the open file description, and so the offset
    try:
        async with _kernel(fd, "wb", backend) as f:  # type: ignore[arg-type]
            await f.write(b"hybridio")
        os.write(dup, b"!")
        assert path.read_bytes() == b"hybridio!"
    finally:
        os.close(dup)
