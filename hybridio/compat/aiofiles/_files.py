"""aiofiles-shaped file objects over hybridio files.

aiofiles runs every method of a blocking file in a thread; its objects answer
``readable()``, ``fileno()`` and ``detach()`` synchronously but make
``seekable()``, ``writable()`` and ``isatty()`` coroutines.  These classes
keep that surface and delegate the I/O to a hybridio file (``_file``).
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any

from ..._layers.base import AsyncBinaryIO
from ..._layers.text import AsyncTextIO
from ..._wrap import AsyncWrappedTextIO

__all__ = (
    "AiofilesContextManager",
    "AsyncBufferedIOBase",
    "AsyncBufferedReader",
    "AsyncFileIO",
    "AsyncTextIOWrapper",
    "wrap_core",
)


def _detached() -> ValueError:
    return ValueError("raw stream has been detached")


class AsyncBase:
    """Common part: ``_file`` is the hybridio file doing the I/O."""

    def __init__(self, file: Any, exposed: Any = None) -> None:
        self._io = file
        # aiofiles code reads `f._file` (the blocking file it wraps); here it
        # is the hybridio file, or the stdlib object a wrapper drives.
        self._file = file if exposed is None else exposed
        self._detach_close: asyncio.Task[None] | None = None

    def _f(self) -> Any:
        if self._detach_close is not None:
            raise _detached()
        return self._io

    def __repr__(self) -> str:
        return f"{super().__repr__()} wrapping {self._file!r}"

    def __aiter__(self) -> AsyncBase:
        return self

    async def __anext__(self) -> Any:
        line = await self.readline()
        if line:
            return line
        raise StopAsyncIteration

    # sync, as aiofiles proxies them directly
    def readable(self) -> bool:
        """Whether the file was opened for reading."""
        return bool(self._f().readable())

    def fileno(self) -> int:
        """The file descriptor."""
        return int(self._f().fileno())

    @property
    def closed(self) -> bool:
        """Whether the file is closed (a detached file counts as closed)."""
        return self._detach_close is not None or bool(self._io.closed)

    @property
    def name(self) -> Any:
        """The name the file was opened with."""
        return self._io.name

    @property
    def mode(self) -> str:
        """The mode the file was opened with."""
        return str(self._io.mode)

    # coroutines in aiofiles, plain answers in the core
    async def seekable(self) -> bool:
        """Whether the file supports seek (a coroutine, as in aiofiles)."""
        return bool(self._f().seekable())

    async def writable(self) -> bool:
        """Whether the file was opened for writing (a coroutine, as in aiofiles)."""
        return bool(self._f().writable())

    async def isatty(self) -> bool:
        """Whether the file is a terminal (a coroutine, as in aiofiles)."""
        return bool(self._f().isatty())

    async def read(self, size: int | None = -1, /) -> Any:
        """Read up to *size* (all when negative)."""
        return await self._f().read(size)

    async def readline(self, size: int | None = -1, /) -> Any:
        """Read one line."""
        return await self._f().readline(size)

    async def readlines(self, hint: int | None = -1, /) -> list[Any]:
        """Read the remaining lines."""
        return list(await self._f().readlines(hint))

    async def write(self, data: Any, /) -> int:
        """Write *data*."""
        return int(await self._f().write(data))

    async def writelines(self, lines: Iterable[Any], /) -> None:
        """Write each of *lines*."""
        await self._f().writelines(lines)

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the position."""
        return int(await self._f().seek(offset, whence))

    async def tell(self) -> int:
        """The position."""
        return int(await self._f().tell())

    async def truncate(self, size: int | None = None, /) -> int:
        """Truncate at *size* (default: the position)."""
        return int(await self._f().truncate(size))

    async def flush(self) -> None:
        """Flush the write buffer."""
        await self._f().flush()

    async def close(self) -> None:
        """Close the file (idempotent)."""
        if self._detach_close is not None:
            await self._detach_close
            return
        await self._io.close()

    async def _exit(self) -> None:
        if self._detach_close is not None:
            await self._detach_close
            # What `with` on a detached stdlib file raises.
            raise _detached()
        exit_ = getattr(self._io, "__aexit__", None)
        if exit_ is not None:
            # A NamedTemporaryFile wrapper: closes and removes the file.
            await exit_(None, None, None)
        else:
            await self._io.close()

    def _detach_raw(self, binary: AsyncBinaryIO, pos: int) -> io.FileIO:
        """The stopgap behind ``detach()``; the core has none yet."""
        if binary.closed:
            raise ValueError("raw stream has been detached")
        fd = os.dup(binary.fileno())
        raw = io.FileIO(fd, _raw_mode(self.mode), closefd=True)
        try:
            raw.name = binary.name
            os.lseek(fd, pos, os.SEEK_SET)
        except BaseException:
            raw.close()
            raise
        self._detach_close = asyncio.ensure_future(self._io.close())
        return raw


def _raw_mode(mode: str) -> str:
    m = mode.replace("b", "").replace("t", "")
    if "+" in m:
        return "rb+" if "r" in m else ("ab+" if "a" in m else "wb+")
    return {"r": "rb", "w": "wb", "a": "ab", "x": "wb"}.get(m[:1], "rb")


def _core_position(binary: Any) -> int:
    # The core exposes no synchronous position yet: detach() needs one.
    if getattr(binary, "_wbuf", b""):
        raise io.UnsupportedOperation("detach() with unflushed writes: flush() first")
    pos = getattr(binary, "_pos", None)
    if not isinstance(pos, int):
        raise io.UnsupportedOperation("detach() is not supported on this kind of file")
    return pos


class AsyncFileIO(AsyncBase):
    """``buffering=0``: the surface of aiofiles' ``AsyncFileIO``."""

    async def readall(self) -> bytes:
        """Read to the end of the file."""
        return bytes(await self._f().read())

    async def readinto(self, buffer: Any, /) -> int:
        """Read into *buffer*."""
        return int(await self._f().readinto(buffer))


class AsyncBufferedIOBase(AsyncFileIO):
    """Buffered binary files: aiofiles' ``AsyncBufferedIOBase`` surface."""

    async def read1(self, size: int = -1, /) -> bytes:
        """At most one underlying read."""
        return bytes(await self._f().read1(size))

    @property
    def raw(self) -> Any:
        """The hybridio file (aiofiles gives the ``FileIO``; hybridio has no separate raw)."""
        return self._io

    def detach(self) -> io.FileIO:
        """Separate the raw file: a blocking ``FileIO`` at the current position."""
        f = self._f()
        return self._detach_raw(f, _core_position(f))


class AsyncBufferedReader(AsyncBufferedIOBase):
    """Readable buffered binary files: adds ``peek``."""

    async def peek(self, size: int = 0, /) -> bytes:
        """Bytes ahead of the position, without moving it (at least 1 unless at EOF)."""
        f = self._f()
        if not f.seekable():
            raise io.UnsupportedOperation("peek() on a non-seekable hybridio file")
        data = await f.read1(max(size, io.DEFAULT_BUFFER_SIZE))
        if data:
            await f.seek(-len(data), os.SEEK_CUR)
        return bytes(data)


class AsyncTextIOWrapper(AsyncBase):
    """Text files: aiofiles' ``AsyncTextIOWrapper`` surface."""

    def __init__(self, file: Any, exposed: Any = None) -> None:
        super().__init__(file, exposed)
        self._touched = False

    async def read(self, size: int | None = -1, /) -> Any:
        """Read up to *size* characters."""
        self._touched = True
        return await super().read(size)

    async def readline(self, size: int | None = -1, /) -> Any:
        """Read one line."""
        self._touched = True
        return await super().readline(size)

    async def readlines(self, hint: int | None = -1, /) -> list[Any]:
        """Read the remaining lines."""
        self._touched = True
        return await super().readlines(hint)

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the position (a cookie from ``tell()``)."""
        pos = await super().seek(offset, whence)
        self._touched = pos != 0
        return pos

    @property
    def buffer(self) -> AsyncBufferedReader:
        """The binary file under the text layer, aiofiles-shaped."""
        return AsyncBufferedReader(self._io.buffer)

    @property
    def encoding(self) -> str:
        """The text encoding."""
        return str(self._io.encoding)

    @property
    def errors(self) -> str:
        """The error handler."""
        return str(self._io.errors)

    @property
    def line_buffering(self) -> bool:
        """Whether a newline flushes."""
        return bool(self._io.line_buffering)

    @property
    def newlines(self) -> Any:
        """Newlines seen so far."""
        return self._io.newlines

    def detach(self) -> io.BufferedReader | io.BufferedWriter | io.BufferedRandom:
        """Separate the binary buffer, as a blocking buffered file."""
        f = self._f()
        if self._touched:
            # The text layer decodes ahead; its byte position is not
            # available synchronously.
            raise io.UnsupportedOperation("detach() after reading: not supported yet")
        binary = f.buffer
        raw = self._detach_raw(binary, _core_position(binary))
        if raw.readable() and raw.writable():
            return io.BufferedRandom(raw)
        return io.BufferedReader(raw) if raw.readable() else io.BufferedWriter(raw)


def wrap_core(file: Any, buffering: int = -1, exposed: Any = None) -> AsyncBase:
    """The aiofiles class for a hybridio file (or wrapper) opened with *buffering*."""
    inner = getattr(file, "file", file)  # a NamedTemporaryFile wrapper
    if isinstance(inner, (AsyncTextIO, AsyncWrappedTextIO)):
        return AsyncTextIOWrapper(file, exposed)
    if buffering == 0:
        return AsyncFileIO(file, exposed)
    if file.readable():
        return AsyncBufferedReader(file, exposed)
    return AsyncBufferedIOBase(file, exposed)


class AiofilesContextManager(Awaitable[Any]):
    """What ``aiofiles.open()`` returns: await it or ``async with`` it."""

    __slots__ = ("_coro", "_obj")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._obj: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        if self._obj is None:
            self._obj = yield from self._coro.__await__()
        return self._obj

    async def __aenter__(self) -> Any:
        return await self

    async def __aexit__(self, *exc_info: object) -> None:
        obj, self._obj = self._obj, None
        if obj is not None:
            exit_ = getattr(obj, "_exit", None)
            await (exit_() if exit_ is not None else obj.close())


def in_thread(fn: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``aiofiles.os.wrap``: *fn* as a coroutine taking ``loop=``/``executor=``."""
    import functools

    from ..._engines.threads import run_in_thread

    @functools.wraps(fn)
    async def run(*args: Any, loop: Any = None, executor: Any = None, **kwargs: Any) -> Any:
        return await run_in_thread(functools.partial(fn, *args, **kwargs), executor=executor)

    return run
