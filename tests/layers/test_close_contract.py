"""One close contract for every layer (RELIABILITY F3, X3; issue 9 item 10).

Kernel-served, thread-served, compressed and text files alike: close() is
idempotent, completes when cancelled, releases the fd even when the flush
failed, raises the flush error, and -- when it was also cancelled -- delivers
the CancelledError with the flush error as ``__cause__``.  An unclosed file
reclaimed by the garbage collector lands what it buffered (a text file's
pending text too), and a failure to do so reaches ``sys.unraisablehook``.

Faults are real: the file's fd is replaced (dup2) by a read-only fd of the
same file, so every write the file makes fails with EBADF while the fd itself
stays valid and closable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._layers.buffered import KernelBinaryFile
from hybridio._layers.stream import open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode
from tests.conftest import fd_count

Opener = Callable[[Path, concurrent.futures.Executor], Awaitable[Any]]


async def _kernel(path: Path, executor: concurrent.futures.Executor) -> Any:
    f = await hybridio.async_open(path, "wb", strategy="kernel", executor=executor)
    assert isinstance(f, KernelBinaryFile)
    return f


async def _thread(path: Path, executor: concurrent.futures.Executor) -> Any:
    return await open_stream(os.fspath(path), parse_mode("wb"), executor=executor)


async def _gzip(path: Path, executor: concurrent.futures.Executor) -> Any:
    return await open_stream(
        os.fspath(path), parse_mode("wb"), compression="gzip", executor=executor
    )


async def _text_kernel(path: Path, executor: concurrent.futures.Executor) -> Any:
    f = await hybridio.async_open(path, "w", strategy="kernel", executor=executor)
    assert isinstance(f, AsyncTextIO) and isinstance(f.buffer, KernelBinaryFile)
    return f


async def _text_thread(path: Path, executor: concurrent.futures.Executor) -> Any:
    binary = await open_stream(os.fspath(path), parse_mode("w"), executor=executor)
    return AsyncTextIO(binary, encoding="utf-8")


LAYERS: dict[str, Opener] = {
    "kernel": _kernel,
    "thread": _thread,
    "gzip": _gzip,
    "text-kernel": _text_kernel,
    "text-thread": _text_thread,
}


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="close-test")
    yield pool
    pool.shutdown(wait=True)


async def _write(f: Any) -> None:
    await f.write("some text\n" if isinstance(f, AsyncTextIO) else b"some bytes\n")


def _make_writes_fail(f: Any, path: Path) -> None:
    """Every later write of *f* fails with EBADF; its fd stays valid."""
    readonly = os.open(path, os.O_RDONLY)
    try:
        os.dup2(readonly, f.fileno())
    finally:
        os.close(readonly)


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_a_flush_error_surfaces_from_close_and_the_fd_is_released(
    tmp_path: Path, layer: str, executor: concurrent.futures.Executor
) -> None:
    """F3: the flush error is raised by the first close; the fd goes anyway;
    a second close does nothing."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    baseline = fd_count() - 1  # the engine's own fds (a ring) stay
    await _write(f)
    _make_writes_fail(f, path)
    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked
        await f.close()
    assert info.value.errno == errno.EBADF
    assert f.closed
    assert fd_count() == baseline
    await f.close()  # idempotent: nothing raised the second time


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_a_cancelled_close_closes_and_delivers_the_cancellation_with_the_flush_error(
    tmp_path: Path, layer: str, executor: concurrent.futures.Executor
) -> None:
    """X3 + F3: cancelled while flushing, close still completes and releases
    the fd; CancelledError is raised afterwards, the flush error its cause
    (before: kernel files dropped the cancellation or the error, thread-served
    and text files dropped the error)."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    baseline = fd_count() - 1  # the engine's own fds (a ring) stay
    await _write(f)
    _make_writes_fail(f, path)
    task = asyncio.ensure_future(f.close())
    await asyncio.sleep(0)  # the close is under way (a thread hop or a kernel write)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await asyncio.wait_for(task, 10)
    cause = info.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.EBADF
    assert f.closed
    assert fd_count() == baseline
    await f.close()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python >= 3.11")
@pytest.mark.parametrize("layer", list(LAYERS))
async def test_a_close_that_times_out_raises_timeout_error_with_the_flush_error_in_the_chain(
    tmp_path: Path, layer: str, executor: concurrent.futures.Executor
) -> None:
    """X3: asyncio.timeout() sees the CancelledError it expects (and turns it
    into TimeoutError); the flush error is still in the chain; the file is
    closed."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    await _write(f)
    _make_writes_fail(f, path)
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0):
            await f.close()
    cancelled = info.value.__cause__
    assert isinstance(cancelled, asyncio.CancelledError)
    cause = cancelled.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.EBADF
    assert f.closed


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_a_cancelled_close_without_error_still_lands_everything(
    tmp_path: Path, layer: str, executor: concurrent.futures.Executor
) -> None:
    """X3: a clean close cancelled (several times) lands the data, then raises
    a plain CancelledError."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    await _write(f)
    task = asyncio.ensure_future(f.close())
    await asyncio.sleep(0)
    for _ in range(3):
        task.cancel()
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError) as info:
        await asyncio.wait_for(task, 10)
    assert info.value.__cause__ is None
    assert f.closed
    data = path.read_bytes()
    if layer == "gzip":
        import gzip

        data = gzip.decompress(data)
    assert data.rstrip(b"\n").endswith((b"some bytes", b"some text"))


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_a_close_error_carries_the_flush_error_as_context(
    tmp_path: Path, layer: str, executor: concurrent.futures.Executor
) -> None:
    """F3 (CPython test_close_error_on_close): with the fd closed behind the
    file's back both the flush and the release fail; the release error is
    raised with the flush error as __context__, and close does not hang."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    baseline = fd_count() - 1  # the engine's own fds (a ring) stay
    await _write(f)
    os.close(f.fileno())
    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked
        await asyncio.wait_for(f.close(), 10)
    assert info.value.errno == errno.EBADF
    context = info.value.__context__
    assert isinstance(context, OSError) and context.errno == errno.EBADF
    assert f.closed
    assert fd_count() == baseline


class Unraisables:
    """Records what reaches sys.unraisablehook."""

    def __init__(self) -> None:
        self.seen: list[BaseException | None] = []

    def __call__(self, args: Any) -> None:
        self.seen.append(args.exc_value)


async def _release_hidden_references(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    """Make the test's reference to the file the last one, deterministically.

    A worker thread keeps the finished open's future (the file is its result)
    until it picks its next job, and the loop keeps the handle that resumed
    this task until the task suspends again: join the workers, then suspend.
    """
    executor.shutdown(wait=True)
    await asyncio.sleep(0)


@pytest.mark.parametrize("layer", [name for name in LAYERS if name != "gzip"])
async def test_an_unclosed_file_reclaimed_by_gc_lands_its_buffer(
    tmp_path: Path, layer: str, executor: concurrent.futures.ThreadPoolExecutor
) -> None:
    """R2, principle 7: GC of an unclosed handle warns, lands what it buffered
    -- a text file's pending text included (it was lost before) -- and frees
    the fd."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    baseline = fd_count() - 1  # the engine's own fds (a ring) stay
    await _write(f)
    await _release_hidden_references(executor)
    with pytest.warns(ResourceWarning, match="unclosed file"):  # noqa: PT031 - drop + collect
        del f
        gc.collect()  # not needed by CPython's refcounting; harmless elsewhere
    assert path.read_bytes() in (b"some bytes\n", b"some text\n")
    assert fd_count() == baseline


@pytest.mark.parametrize("layer", [name for name in LAYERS if name != "gzip"])
async def test_a_failed_write_at_gc_reaches_the_unraisable_hook(
    tmp_path: Path,
    layer: str,
    executor: concurrent.futures.ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Principle 7: when the garbage collector cannot land an unclosed file's
    buffer, the OSError (errno included) reaches sys.unraisablehook instead of
    being swallowed; the fd is released."""
    path = tmp_path / "f"
    f = await LAYERS[layer](path, executor)
    baseline = fd_count() - 1  # the engine's own fds (a ring) stay
    await _write(f)
    _make_writes_fail(f, path)
    await _release_hidden_references(executor)
    hook = Unraisables()
    monkeypatch.setattr(sys, "unraisablehook", hook)
    with pytest.warns(ResourceWarning, match="unclosed file"):  # noqa: PT031 - drop + collect
        del f
        gc.collect()  # not needed by CPython's refcounting; harmless elsewhere
    errors = [exc for exc in hook.seen if isinstance(exc, OSError)]
    assert [exc.errno for exc in errors] == [errno.EBADF], hook.seen
    assert fd_count() == baseline
