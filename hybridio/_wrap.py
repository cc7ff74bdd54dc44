# mypy: disable-error-code="no-any-return"
"""Async wrappers around blocking file objects: ``wrap()``, stdio, ``iter_chunked()``.

A wrapped object keeps its own semantics (it IS the stdlib object doing the
work); each call is one hop on the library's thread pool.  Line iteration of a
seekable file reads many lines per hop; a terminal or pipe is read one line
per hop so an interactive ``stdin`` yields each line as it is typed.
"""

from __future__ import annotations

import io
import os
import sys
import types
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    AnyStr,
    BinaryIO,
    Generic,
    Protocol,
    TextIO,
    TypeVar,
    overload,
)

from typing_extensions import Self

from .engines.threads import run_in_thread

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "AsyncWrappedBinaryIO",
    "AsyncWrappedTextIO",
    "iter_chunked",
    "stderr",
    "stderr_bytes",
    "stdin",
    "stdin_bytes",
    "stdout",
    "stdout_bytes",
    "wrap",
)

_T_co = TypeVar("_T_co", covariant=True)

# Bytes (or characters) of whole lines fetched per hop when iterating.
_LINES_HINT = 64 * 1024


class _AsyncWrapped(Generic[AnyStr]):
    """Shared part of the binary and text wrappers."""

    __slots__ = ("_lines", "_source")

    def __init__(self, source: Callable[[], Any]) -> None:
        self._source = source
        self._lines: deque[AnyStr] = deque()

    @property
    def wrapped(self) -> IO[AnyStr]:
        """The blocking file object that does the work."""
        return self._source()

    async def _run(self, name: str, *args: Any) -> Any:
        return await run_in_thread(getattr(self._source(), name), *args)

    def _take_lines(self) -> AnyStr | None:
        return self._lines.popleft() if self._lines else None

    # -- attributes answered without a hop (the stdlib answers them from memory)
    @property
    def name(self) -> Any:
        """``name`` of the wrapped file."""
        return self._source().name

    @property
    def mode(self) -> str:
        """``mode`` of the wrapped file."""
        return str(self._source().mode)

    @property
    def closed(self) -> bool:
        """Whether the wrapped file is closed."""
        return self._source().closed

    def readable(self) -> bool:
        """``readable()`` of the wrapped file."""
        return self._source().readable()

    def writable(self) -> bool:
        """``writable()`` of the wrapped file."""
        return self._source().writable()

    def seekable(self) -> bool:
        """``seekable()`` of the wrapped file."""
        return self._source().seekable()

    def fileno(self) -> int:
        """``fileno()`` of the wrapped file."""
        return self._source().fileno()

    def isatty(self) -> bool:
        """``isatty()`` of the wrapped file."""
        return self._source().isatty()

    # -- one hop each
    async def read(self, size: int | None = -1, /) -> AnyStr:
        """``read()`` in a worker thread."""
        return await self._run_read("read", size)

    async def readline(self, size: int | None = -1, /) -> AnyStr:
        """``readline()`` in a worker thread."""
        return await self._run_read("readline", size)

    async def readlines(self, hint: int | None = -1, /) -> list[AnyStr]:
        """``readlines()`` in a worker thread."""
        return await self._run_read("readlines", hint)

    async def _run_read(self, name: str, *args: Any) -> Any:
        if self._lines:
            # Lines prefetched by iteration come first: hand them back to the
            # file's position by seeking, so read() continues after the
            # last line the caller actually saw.
            await self._unread_lines()
        return await self._run(name, *args)

    async def _unread_lines(self) -> None:
        pending = list(self._lines)
        self._lines.clear()
        f = self._source()

        def rewind() -> None:
            if isinstance(f, io.TextIOBase) or "b" not in str(getattr(f, "mode", "b")):
                raise io.UnsupportedOperation("mixing iteration and reads on a text wrapper")
            f.seek(-sum(len(line) for line in pending), os.SEEK_CUR)

        await run_in_thread(rewind)

    async def write(self, data: AnyStr, /) -> int:
        """``write()`` in a worker thread."""
        return await self._run("write", data)

    async def writelines(self, lines: Iterable[AnyStr], /) -> None:
        """``writelines()`` in a worker thread (one hop for all lines)."""
        await self._run("writelines", list(lines))

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """``seek()`` in a worker thread."""
        self._lines.clear()
        return await self._run("seek", offset, whence)

    async def tell(self) -> int:
        """``tell()`` in a worker thread."""
        if self._lines:
            await self._unread_lines()
        return await self._run("tell")

    async def truncate(self, size: int | None = None, /) -> int:
        """``truncate()`` in a worker thread."""
        return await self._run("truncate", size)

    async def flush(self) -> None:
        """``flush()`` in a worker thread."""
        await self._run("flush")

    async def fsync(self) -> None:
        """Flush, then ``os.fsync`` the descriptor (one hop)."""
        f = self._source()

        def sync() -> None:
            f.flush()
            os.fsync(f.fileno())

        await run_in_thread(sync)

    async def fdatasync(self) -> None:
        """Flush, then ``os.fdatasync`` the descriptor (one hop)."""
        f = self._source()

        def sync() -> None:
            f.flush()
            os.fdatasync(f.fileno())

        await run_in_thread(sync)

    async def close(self) -> None:
        """``close()`` in a worker thread."""
        self._lines.clear()
        await self._run("close")

    async def aclose(self) -> None:
        """Same as :meth:`close`."""
        await self.close()

    def __aiter__(self) -> AsyncIterator[AnyStr]:
        return self

    async def __anext__(self) -> AnyStr:
        line = self._take_lines()
        if line is not None:
            return line
        f = self._source()

        def fetch() -> list[AnyStr]:
            if f.isatty() or not f.seekable():
                one = f.readline()
                return [one] if one else []
            return f.readlines(_LINES_HINT)

        lines = await run_in_thread(fetch)
        if not lines:
            raise StopAsyncIteration
        self._lines.extend(lines[1:])
        return lines[0]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._source()!r}>"


class AsyncWrappedBinaryIO(_AsyncWrapped[bytes]):
    """A blocking binary file driven from async code, one thread hop per call."""

    __slots__ = ()

    async def read1(self, size: int = -1, /) -> bytes:
        """``read1()`` in a worker thread."""
        return await self._run_read("read1", size)

    async def readinto(self, buffer: Any, /) -> int | None:
        """``readinto()`` in a worker thread."""
        return await self._run_read("readinto", buffer)

    async def readall(self) -> bytes:
        """``readall()`` (raw files) or ``read()`` in a worker thread."""
        name = "readall" if hasattr(self._source(), "readall") else "read"
        return await self._run_read(name)

    async def peek(self, size: int = 0, /) -> bytes:
        """``peek()`` of a buffered reader in a worker thread."""
        return await self._run_read("peek", size)


class AsyncWrappedTextIO(_AsyncWrapped[str]):
    """A blocking text file driven from async code, one thread hop per call."""

    __slots__ = ()

    @property
    def encoding(self) -> str:
        """``encoding`` of the wrapped file."""
        return self._source().encoding

    @property
    def errors(self) -> str | None:
        """``errors`` of the wrapped file."""
        return self._source().errors

    @property
    def newlines(self) -> str | tuple[str, ...] | None:
        """``newlines`` of the wrapped file."""
        return self._source().newlines

    @property
    def buffer(self) -> AsyncWrappedBinaryIO:
        """The wrapped file's binary ``buffer``, wrapped."""
        src = self._source
        return AsyncWrappedBinaryIO(lambda: src().buffer)


def _is_text(fileobj: object) -> bool:
    if isinstance(fileobj, io.TextIOBase):
        return True
    if isinstance(fileobj, (io.RawIOBase, io.BufferedIOBase)):
        return False
    # Duck-typed objects (tempfile wrappers, SpooledTemporaryFile): by mode.
    mode = getattr(fileobj, "mode", None)
    if isinstance(mode, str):
        return "b" not in mode
    return hasattr(fileobj, "encoding")


@overload
def wrap(fileobj: TextIO | io.TextIOBase) -> AsyncWrappedTextIO: ...
@overload
def wrap(fileobj: BinaryIO | io.RawIOBase | io.BufferedIOBase) -> AsyncWrappedBinaryIO: ...
@overload
def wrap(fileobj: IO[Any]) -> AsyncWrappedBinaryIO | AsyncWrappedTextIO: ...
def wrap(fileobj: Any) -> AsyncWrappedBinaryIO | AsyncWrappedTextIO:
    """Drive an open blocking file object from async code (one thread hop per call).

    Text files (``io.TextIOBase``, or a ``mode`` without ``"b"``) give an
    :class:`AsyncWrappedTextIO`, others an :class:`AsyncWrappedBinaryIO`.
    Anything that is not an open file object raises ``TypeError``.
    """
    if isinstance(fileobj, type) or not (
        isinstance(fileobj, io.IOBase)
        or (hasattr(fileobj, "close") and (hasattr(fileobj, "read") or hasattr(fileobj, "write")))
    ):
        raise TypeError(f"Unsupported io type: {fileobj!r}.")

    def source() -> Any:
        return fileobj

    if _is_text(fileobj):
        return AsyncWrappedTextIO(source)
    return AsyncWrappedBinaryIO(source)


def _sys_stream(name: str, binary: bool) -> Callable[[], Any]:
    # Looked up at each call: pytest's capsys, contextlib.redirect_stdout and
    # friends replace sys.stdout after import.
    def source() -> Any:
        stream = getattr(sys, name)
        return stream.buffer if binary else stream

    return source


stdin = AsyncWrappedTextIO(_sys_stream("stdin", False))
stdout = AsyncWrappedTextIO(_sys_stream("stdout", False))
stderr = AsyncWrappedTextIO(_sys_stream("stderr", False))
stdin_bytes = AsyncWrappedBinaryIO(_sys_stream("stdin", True))
stdout_bytes = AsyncWrappedBinaryIO(_sys_stream("stdout", True))
stderr_bytes = AsyncWrappedBinaryIO(_sys_stream("stderr", True))


class _Readable(Protocol[_T_co]):
    async def read(self, size: int, /) -> _T_co: ...


async def iter_chunked(f: _Readable[AnyStr], size: int = 64 * 1024) -> AsyncIterator[AnyStr]:
    """Yield ``await f.read(size)`` until it returns empty (aiofile's ``iter_chunked``)."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be int, not {type(size).__name__}")
    if size < 1:
        raise ValueError("size must be at least 1")
    while True:
        chunk = await f.read(size)
        if not chunk:
            return
        yield chunk
