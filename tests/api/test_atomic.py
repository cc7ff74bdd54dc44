"""Atomic replace (RELIABILITY D2, D3): async_open(..., atomic=True), write_bytes/write_text."""

from __future__ import annotations

import asyncio
import gzip
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import _atomic_target as atomic
from tests.conftest import fd_count


def leftovers(directory: Path) -> list[str]:
    """Temporary files of atomic writes, recognisable by name."""
    return sorted(n for n in os.listdir(directory) if n.endswith(atomic.SUFFIX))


def strategies() -> list[dict[str, Any]]:
    return [{"strategy": "thread"}, {"strategy": "kernel"}, {}]


@pytest.fixture(params=strategies(), ids=["thread", "kernel", "auto"])
def how(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


async def test_atomic_write_replaces_and_keeps_permissions(
    tmp_path: Path, how: dict[str, Any]
) -> None:
    target = tmp_path / "t.bin"
    target.write_bytes(b"old content")
    os.chmod(target, 0o640)
    async with hybridio.async_open(target, "wb", atomic=True, **how) as f:
        await f.write(b"new")
        await f.write_at(3, b" content, longer")
        # Nothing is visible until the commit; the temporary file is private.
        assert target.read_bytes() == b"old content"
        (temp,) = leftovers(tmp_path)
        assert stat.S_IMODE(os.stat(tmp_path / temp).st_mode) == 0o600
        assert f.name == os.fspath(target)  # as open(Path).name
    assert target.read_bytes() == b"new content, longer"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert leftovers(tmp_path) == []


async def test_atomic_write_on_every_kernel_backend(tmp_path: Path, backend: str) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")
    async with hybridio.async_open(target, "w+b", atomic=True, backend=backend) as f:
        await f.write(b"x" * 70_000)
        await f.write_at(0, b"head")
        assert await f.read_at(0, 6) == b"headxx"
    assert target.read_bytes() == b"head" + b"x" * 69_996
    assert leftovers(tmp_path) == []


async def test_kernel_extras_work_through_an_atomic_file(tmp_path: Path) -> None:
    target = tmp_path / "t"
    async with hybridio.async_open(target, "w+b", atomic=True, strategy="kernel") as f:
        await f.write_many([(0, b"abcd"), (4, b"efgh")])
        buf = bytearray(4)
        await f.readinto_many([(4, buf)])  # type: ignore[attr-defined]
        assert buf == b"efgh"
        assert f.stats.backend == f.backend
    assert target.read_bytes() == b"abcdefgh"


async def test_new_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        await hybridio.write_bytes(tmp_path / "new", b"x", atomic=True)
        async with hybridio.async_open(tmp_path / "new2", "w", atomic=True) as f:
            await f.write("y")
    finally:
        os.umask(old)
    for name in ("new", "new2"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o640


async def test_text_and_compressed_atomic_writes(tmp_path: Path) -> None:
    target = tmp_path / "log.txt.gz"
    async with hybridio.async_open(
        target, "w", encoding="utf-8", atomic=True, compression="auto"
    ) as f:
        assert isinstance(f, hybridio.AsyncTextIO)
        await f.write("héllo\n" * 1000)
    with gzip.open(target, "rt", encoding="utf-8") as g:
        assert g.read() == "héllo\n" * 1000
    with gzip.open(target) as g:
        g.read()
        assert g.name == os.fspath(target)  # FNAME names the target, not the temporary
    await hybridio.write_text(target, "zwei\n", encoding="utf-8", atomic=True, compression="auto")
    assert await hybridio.read_text(target, encoding="utf-8", compression="auto") == "zwei\n"
    assert leftovers(tmp_path) == []


async def test_w_plus_reads_back_what_it_wrote(tmp_path: Path) -> None:
    target = tmp_path / "rw"
    async with hybridio.async_open(target, "w+b", atomic=True) as f:
        await f.write(b"abcdef")
        await f.seek(2)
        assert await f.read() == b"cdef"
    assert target.read_bytes() == b"abcdef"


class Boom(Exception):
    pass


@pytest.mark.parametrize("mode", ["wb", "w", "xb"])
async def test_exception_inside_async_with_leaves_the_target_untouched(
    tmp_path: Path, how: dict[str, Any], mode: str
) -> None:
    target = tmp_path / "t"
    if "x" not in mode:
        target.write_bytes(b"old")
    async with hybridio.async_open(tmp_path / "warm", "wb", **how):
        pass  # the loop's kernel engine (ring fds) exists before counting
    os.unlink(tmp_path / "warm")
    fds = fd_count()
    boom = Boom("the original error")

    async def body() -> None:
        async with hybridio.async_open(target, mode, atomic=True, **how) as f:
            await f.write(b"partial" if "b" in mode else "partial")
            raise boom

    with pytest.raises(Boom) as info:
        await body()
    assert info.value is boom
    if "x" in mode:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    assert fd_count() == fds


async def test_exception_in_async_with_on_an_awaited_file(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")
    f = await hybridio.async_open(target, "wb", atomic=True)

    async def body() -> None:
        async with f:
            await f.write(b"new")
            raise Boom

    with pytest.raises(Boom):
        await body()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", ["wb", "w"])
async def test_cancellation_inside_async_with_leaves_the_target_untouched(
    tmp_path: Path, how: dict[str, Any], mode: str
) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")
    inside = asyncio.Event()

    async def writer() -> None:
        async with hybridio.async_open(target, mode, atomic=True, **how) as f:
            await f.write(b"new" if "b" in mode else "new")
            await f.flush()
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(writer())
    await asyncio.wait_for(inside.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


async def test_failed_commit_removes_the_temporary_and_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")

    def fail(step: str) -> None:
        if step == "fsynced":
            raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(atomic, "_step", fail)
    with pytest.raises(OSError, match="injected"):
        await hybridio.write_bytes(target, b"new", atomic=True)
    with pytest.raises(OSError, match="injected"):
        async with hybridio.async_open(target, "wb", atomic=True) as f:
            await f.write(b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("rename", ["renameat2", "link"])
async def test_x_mode_never_clobbers_a_file_created_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rename: str
) -> None:
    if rename == "renameat2" and atomic.renameat2 is None:
        pytest.skip("no renameat2 in this libc")
    if rename == "link":
        monkeypatch.setattr(atomic, "renameat2", None)
    target = tmp_path / "t"
    f = await hybridio.async_open(target, "xb", atomic=True)
    await f.write(b"mine")
    target.write_bytes(b"theirs")  # another process wins the race
    with pytest.raises(FileExistsError):
        await f.close()
    assert target.read_bytes() == b"theirs"
    assert leftovers(tmp_path) == []
    # Without a competitor, "x" creates the file.
    other = tmp_path / "u"
    async with hybridio.async_open(other, "x", atomic=True) as t:
        await t.write("created")
    assert other.read_text() == "created"
    assert leftovers(tmp_path) == []


async def test_x_mode_on_an_existing_file_fails_at_open(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"keep")
    fds = fd_count()
    with pytest.raises(FileExistsError) as info:
        await hybridio.async_open(target, "x", atomic=True)
    with pytest.raises(FileExistsError) as builtin, open(target, "x"):
        pass
    assert str(info.value) == str(builtin.value)
    with pytest.raises(FileExistsError):
        await hybridio.write_bytes(target, b"x", atomic=True, exclusive=True)
    assert target.read_bytes() == b"keep"
    assert leftovers(tmp_path) == []
    assert fd_count() == fds


async def test_path_errors_match_builtin_open(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "f"
    with pytest.raises(FileNotFoundError) as info:
        await hybridio.async_open(missing, "wb", atomic=True)
    with pytest.raises(FileNotFoundError) as builtin, open(missing, "wb"):
        pass
    assert str(info.value) == str(builtin.value)
    with pytest.raises(IsADirectoryError):
        await hybridio.async_open(tmp_path, "wb", atomic=True)
    with pytest.raises(IsADirectoryError):
        await hybridio.write_bytes(tmp_path, b"", atomic=True)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("f", "r"), {}),
        (("f", "rb"), {}),
        (("f", "r+b"), {}),
        (("f", "ab"), {}),
        ((3, "wb"), {"closefd": False}),
        (("f", "wb"), {"opener": os.open}),
    ],
)
def test_atomic_refuses_what_it_cannot_do_before_any_io(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    monkeypatch.chdir(tmp_path)
    fds = fd_count()
    with pytest.raises(ValueError, match="atomic=True"):
        hybridio.async_open(*args, atomic=True, **kwargs)
    assert fd_count() == fds
    assert os.listdir(tmp_path) == []


async def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = tmp_path / "t"
    first = atomic.temp_names("t")[0]
    (tmp_path / first).symlink_to(victim)
    await hybridio.write_bytes(target, b"new", atomic=True)
    assert target.read_bytes() == b"new"
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / first).is_symlink()  # not ours: left alone


async def test_a_symlinked_target_keeps_its_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    await hybridio.write_bytes(link, b"new", atomic=True)
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


async def test_a_live_writers_temporary_file_is_not_swept(tmp_path: Path) -> None:
    target = tmp_path / "t"
    slow = await hybridio.async_open(target, "wb", atomic=True)
    await slow.write(b"slow writer")
    assert len(leftovers(tmp_path)) == 1
    await hybridio.write_bytes(target, b"fast writer", atomic=True)
    assert target.read_bytes() == b"fast writer"
    assert len(leftovers(tmp_path)) == 1  # the live one survived the sweep
    await slow.close()
    assert target.read_bytes() == b"slow writer"
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- crash test

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import hybridio
    from hybridio import _atomic_target as atomic

    target, step, strategy = sys.argv[1], sys.argv[2], sys.argv[3]
    NEW = bytes(range(256)) * 4096  # 1 MiB

    def stop(name):
        if name == step:
            sys.stdout.write(f"at {name}\\n")
            sys.stdout.flush()
            sys.stdin.read()  # the parent SIGKILLs us here

    atomic._step = stop

    async def main():
        f = await hybridio.async_open(target, "wb", atomic=True, strategy=strategy)
        await f.write(NEW[: len(NEW) // 2])
        await f.flush()
        stop("mid-write")
        await f.write(NEW[len(NEW) // 2 :])
        await f.close()
        stop("closed")

    asyncio.run(main())
    """
)


def _run_child_until(target: Path, step: str, strategy: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, os.fspath(target), step, strategy],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, f"the child never reached {step!r}"
        assert proc.stdout.readline() == f"at {step}\n".encode()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


NEW = bytes(range(256)) * 4096


@pytest.mark.parametrize(
    ("step", "expect"),
    [("mid-write", "old"), ("fsynced", "old"), ("replaced", "new"), ("closed", "new")],
)
async def test_sigkill_at_each_step_leaves_old_or_new_never_a_mix(
    tmp_path: Path, step: str, expect: str, strategy: str
) -> None:
    target = tmp_path / "t"
    old = b"old content " * 1000
    target.write_bytes(old)
    await asyncio.to_thread(_run_child_until, target, step, strategy)
    assert target.read_bytes() == (old if expect == "old" else NEW)
    if step in ("mid-write", "fsynced"):
        assert len(leftovers(tmp_path)) == 1  # recognisable by name
    else:
        assert leftovers(tmp_path) == []
    # The next successful atomic write to the same target cleans up.
    await hybridio.write_bytes(target, b"third", atomic=True)
    assert target.read_bytes() == b"third"
    assert leftovers(tmp_path) == []


async def test_many_leftovers_are_all_swept(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"old")
    await asyncio.to_thread(_run_child_until, target, "mid-write", "thread")
    # A second writer crashing reclaims the first one's stale slot: still one.
    await asyncio.to_thread(_run_child_until, target, "fsynced", "thread")
    assert len(leftovers(tmp_path)) == 1
    for name in atomic.temp_names("t")[2:5]:  # leftovers from other crashes
        (tmp_path / name).write_bytes(b"junk")
        os.chmod(tmp_path / name, 0o600)
    await hybridio.write_bytes(target, b"final", atomic=True)
    assert target.read_bytes() == b"final"
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- fsync (D1)


@pytest.mark.parametrize("kind", ["kernel", "thread", "gzip", "text", "text-gzip"])
async def test_fsync_reaches_the_file_on_every_kind(tmp_path: Path, kind: str) -> None:
    """D1: after fsync() the bytes are in the file (a compressed writer's
    data decodes without its trailer), before close()."""
    import zlib

    p = tmp_path / "f.gz"
    kwargs: dict[str, Any] = {
        "kernel": {"strategy": "kernel"},
        "thread": {"strategy": "thread"},
        "gzip": {"compression": "gzip"},
        "text": {},
        "text-gzip": {"compression": "gzip"},
    }[kind]
    text = kind.startswith("text")
    mode = "w" if text else "wb"
    f = await hybridio.async_open(p, mode, **kwargs)
    try:
        if isinstance(f, hybridio.AsyncTextIO):
            # No flush() first: fsync() itself encodes and flushes the text.
            await f.write("durable text")
            await f.fsync()
            await f.write(" and more")
            await f.fdatasync()
        else:
            await f.write(b"durable bytes")
            await f.fsync()
            await f.fdatasync()
        on_disk = p.read_bytes()
        if kind.endswith("gzip"):
            on_disk = zlib.decompressobj(wbits=31).decompress(on_disk)
        assert on_disk == (b"durable text and more" if text else b"durable bytes")
    finally:
        await f.close()


async def test_an_fsync_error_is_raised_never_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error (injected)")

    f = await hybridio.async_open(tmp_path / "f.gz", "wb", compression="gzip")
    await f.write(b"x")
    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError, match="injected"):
        await f.fsync()
    target = tmp_path / "t"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="injected"):
        await hybridio.write_bytes(target, b"new", atomic=True)
    monkeypatch.undo()
    await f.close()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
