"""``async_open(..., atomic=True)``: a file whose ``close()`` commits an atomic replace.

The blocking recipe (temporary file next to the target, fsync, rename, fsync
the directory) is :class:`AtomicTarget` in ``_atomic_target``; this module puts
the async file objects on top: closing commits, leaving ``async with`` with an
exception discards.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import types
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from ._atomic_target import SUFFIX, AtomicTarget, temp_names
from ._engines.threads import bind, run_in_thread, run_to_completion
from ._layers.base import AsyncBinaryIO
from ._layers.closing import close_once
from ._layers.text import AsyncTextIO

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ._api import _Request
    from ._modes import FileMode

__all__ = (
    "SUFFIX",
    "AtomicBinaryFile",
    "AtomicTarget",
    "AtomicTextIO",
    "check_atomic_args",
    "open_atomic",
    "temp_names",
)


def check_atomic_args(file: object, fmode: FileMode, opener: object) -> None:
    """Refuse what atomic replace cannot do, before any I/O (ValueError)."""
    if not (fmode.creating or fmode.writing):
        raise ValueError(f"atomic=True needs a 'w' or 'x' mode, not {fmode.mode!r}")
    if isinstance(file, int):
        raise ValueError("atomic=True needs a path, not a file descriptor")
    if opener is not None:
        raise ValueError("atomic=True opens the temporary file itself; it cannot take an opener")


def _forwarded(path: str, doc: str) -> Any:
    """A read-only property that is the attribute *path* of the file object
    (``attrgetter``: no Python frame per access)."""
    return property(operator.attrgetter(path), doc=doc)


class _Discards(Protocol):
    async def close(self) -> None: ...
    async def _close_discarding(self) -> None: ...


class _CommitOnExit:
    """The ``async with`` exit of both atomic files: a clean exit commits
    (``close()``), an exception or a cancellation discards instead."""

    __slots__ = ()

    async def __aexit__(
        self: _Discards,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self._close_discarding()


# Methods served by the file underneath as they are: bound once per file, so
# an atomic file costs no extra call frame per operation.
_DELEGATED = (
    "read",
    "read1",
    "readinto",
    "readinto1",
    "readline",
    "readlines",
    "write",
    "writelines",
    "seek",
    "tell",
    "truncate",
    "flush",
    "fsync",
    "fdatasync",
    "read_at",
    "readinto_at",
    "write_at",
    "read_many",
    "write_many",
    "readable",
    "writable",
    "seekable",
    "fileno",
    "isatty",
)


class AtomicBinaryFile(_CommitOnExit, AsyncBinaryIO):
    """A binary file whose ``close()`` commits an atomic replace.

    Leaving ``async with`` with an exception (or a cancellation) discards the
    temporary file instead: the target keeps its old content.
    """

    def __init__(self, inner: AsyncBinaryIO, target: AtomicTarget, executor: Executor | None):
        self._inner = inner
        self._target = target
        self._executor = executor
        self._close_task: asyncio.Task[None] | None = None
        self._discard = False
        self.name = inner.name
        self.mode = inner.mode
        self.plan = inner.plan
        for name in _DELEGATED:
            setattr(self, name, getattr(inner, name))

    # The abstract methods, for the type; instances use the bound ones above.
    async def read(self, size: int | None = -1, /) -> bytes:
        return await self._inner.read(size)

    async def read1(self, size: int = -1, /) -> bytes:
        return await self._inner.read1(size)

    async def readinto(self, buffer: Any, /) -> int:
        return await self._inner.readinto(buffer)

    async def readline(self, size: int | None = -1, /) -> bytes:
        return await self._inner.readline(size)

    async def write(self, data: Any, /) -> int:
        return await self._inner.write(data)

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        return await self._inner.seek(offset, whence)

    async def tell(self) -> int:
        return await self._inner.tell()

    async def truncate(self, size: int | None = None, /) -> int:
        return await self._inner.truncate(size)

    async def flush(self) -> None:
        await self._inner.flush()

    async def fsync(self) -> None:
        await self._inner.fsync()

    async def fdatasync(self) -> None:
        await self._inner.fdatasync()

    async def read_at(self, offset: int, size: int, /) -> bytes:
        return await self._inner.read_at(offset, size)

    async def readinto_at(self, offset: int, buffer: Any, /) -> int:
        return await self._inner.readinto_at(offset, buffer)

    async def write_at(self, offset: int, data: Any, /) -> int:
        return await self._inner.write_at(offset, data)

    def readable(self) -> bool:
        return self._inner.readable()

    def writable(self) -> bool:
        return self._inner.writable()

    def seekable(self) -> bool:
        return self._inner.seekable()

    def fileno(self) -> int:
        return self._inner.fileno()

    closed = _forwarded("_inner.closed", "True once closed (committed or discarded).")
    backend = _forwarded("_inner.backend", "What serves the file underneath.")
    stats = _forwarded("_inner.stats", "The counters of the file underneath.")
    temp_name = _forwarded(
        "_target.temp", "Name of the temporary file (in the target's directory) until commit."
    )

    async def __anext__(self) -> bytes:
        return await self._inner.__anext__()

    def __getattr__(self, name: str) -> Any:
        # Extras of the file underneath (readinto_many, ...) work as they are.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def discard_on_close(self) -> None:
        """Make the next ``close()`` discard the content instead of committing."""
        self._discard = True

    async def close(self) -> None:
        """Flush, close and commit (fsync, rename, fsync the directory);
        idempotent; completes even when cancelled.

        If the flush, the close or the commit fails, the temporary file is
        removed, the target is unchanged, and the error is raised -- the
        close contract of :mod:`hybridio._layers.closing`.
        """
        await close_once(self, self._finish)

    async def _finish(self) -> None:
        target = self._target
        if self._discard:
            try:
                with contextlib.suppress(Exception):
                    await self._inner.close()
            finally:
                await run_in_thread(target.discard, executor=self._executor)
            return
        try:
            await self._inner.close()
        except BaseException:
            await run_in_thread(target.discard, executor=self._executor)
            raise
        await run_in_thread(target.commit, executor=self._executor)

    async def _close_discarding(self) -> None:
        self._discard = True
        await self.close()

    def __del__(self) -> None:
        # Never closed: the content was never committed; drop the temporary
        # file (the file underneath warns about the unclosed handle itself).
        target = getattr(self, "_target", None)
        if target is not None and getattr(self, "_close_task", True) is None:
            target.discard()


class AtomicTextIO(_CommitOnExit, AsyncTextIO):
    """A text file over an :class:`AtomicBinaryFile`: ``async with`` that
    ends with an exception discards instead of committing."""

    __slots__ = ()

    async def _close_discarding(self) -> None:
        buffer = self.buffer
        if isinstance(buffer, AtomicBinaryFile):
            buffer.discard_on_close()
        # The exception being handled is the one to report, not a flush error
        # of content that is thrown away anyway.
        with contextlib.suppress(Exception):
            await self.close()


async def open_atomic(
    request: _Request,
    open_binary: Callable[[_Request], Coroutine[Any, Any, AsyncBinaryIO]],
    make_text: Callable[[AsyncBinaryIO, type[AsyncTextIO]], AsyncTextIO] | None,
) -> AsyncBinaryIO | AsyncTextIO:
    """``async_open(..., atomic=True)``: the file is opened on a fresh
    temporary file; closing it commits, ``async with`` + exception discards."""

    fmode = request.fmode
    executor = request.executor
    target = await run_in_thread(
        bind(AtomicTarget, request.file, exclusive=fmode.creating, readable=fmode.updating),
        executor=executor,
        cleanup=AtomicTarget.discard,
    )
    try:
        inner = await open_binary(request._replace(opener=target.opener))
    except BaseException:
        await run_to_completion(run_in_thread(target.discard, executor=executor))
        raise
    binary = AtomicBinaryFile(inner, target, executor)
    if make_text is None:
        return binary
    try:
        return make_text(binary, AtomicTextIO)
    except BaseException:
        binary.discard_on_close()
        await binary.close()
        raise
