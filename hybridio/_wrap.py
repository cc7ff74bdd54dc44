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
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import (
    IO,
    Any,
    AnyStr,
    BinaryIO,
    Generic,
    Protocol,
    TextIO,
    TypeVar,
    overload,
)

from ._aclosing import AsyncClosing
from ._engines.threads import run_in_thread
from ._layers.durability import sync_fd

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


class _AsyncWrapped(AsyncClosing, Generic[AnyStr]):
    """Shared part of the binary and text wrappers."""

    __slots__ = ("_cookie", "_fetched", "_lines", "_source")

    def __init__(self, source: Callable[[], Any]) -> None:
        self._source = source
        # Lines read ahead by iteration, where that read started, its size.
        self._lines: deque[AnyStr] = deque()
        self._cookie: Any = None
        self._fetched = 0

    @property
    def wrapped(self) -> IO[AnyStr]:
        """The blocking file object that does the work."""
        return self._source()

    async def _run(self, name: str, *args: Any) -> Any:
        return await run_in_thread(getattr(self._source(), name), *args)

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

    # -- one hop each.  Lines prefetched by iteration (self._lines) are
    # logically unread: reads serve them first, and position-dependent calls
    # account for them, so the file behaves as if read line by line.
    _TEXT = False

    def _pending_size(self) -> int:
        return sum(len(line) for line in self._lines)

    def _take(self, size: int) -> AnyStr:
        parts: list[AnyStr] = []
        want = size
        while self._lines and want > 0:
            line = self._lines.popleft()
            if len(line) > want:
                self._lines.appendleft(line[want:])
                line = line[:want]
            parts.append(line)
            want -= len(line)
        return parts[0][:0].join(parts) if parts else self._empty()

    def _empty(self) -> AnyStr:
        return "" if self._TEXT else b""  # type: ignore[return-value]

    async def _unread(self) -> None:
        """Put the file where a line-by-line reader would be (one hop).

        Back to where the prefetch started, then forward over what the caller
        consumed: characters for text (a text position is a cookie, not a
        count), bytes for binary.
        """
        if not self._lines:
            return
        consumed = self._fetched - self._pending_size()
        self._lines.clear()
        f, cookie = self._source(), self._cookie

        def reposition() -> None:
            f.seek(cookie)
            if consumed:
                f.read(consumed)

        await run_in_thread(reposition)

    async def read(self, size: int | None = -1, /) -> AnyStr:
        """``read()`` in a worker thread."""
        if not self._lines:
            return await self._run("read", size)
        if size is None or size < 0:
            head = self._take(self._pending_size())
            return head + await self._run("read", -1)
        head = self._take(size)
        if len(head) < size:
            head += await self._run("read", size - len(head))
        return head

    async def readline(self, size: int | None = -1, /) -> AnyStr:
        """``readline()`` in a worker thread."""
        if not self._lines:
            return await self._run("readline", size)
        line = self._lines.popleft()
        if size is not None and 0 <= size < len(line):
            self._lines.appendleft(line[size:])
            line = line[:size]
        return line

    async def readlines(self, hint: int | None = -1, /) -> list[AnyStr]:
        """``readlines()`` in a worker thread."""
        if hint is None or hint <= 0:
            lines = list(self._lines)
            self._lines.clear()
            return lines + await self._run("readlines", -1)
        lines, have = [], 0
        # As the stdlib: no more lines once their total size reaches hint.
        while self._lines and have < hint:
            lines.append(self._lines.popleft())
            have += len(lines[-1])
        if have < hint:
            lines += await self._run("readlines", hint - have)
        return lines

    async def write(self, data: AnyStr, /) -> int:
        """``write()`` in a worker thread."""
        await self._unread()
        return await self._run("write", data)

    async def writelines(self, lines: Iterable[AnyStr], /) -> None:
        """``writelines()`` in a worker thread (one hop for all lines)."""
        await self._unread()
        await self._run("writelines", list(lines))

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """``seek()`` in a worker thread."""
        if whence == os.SEEK_CUR:
            await self._unread()
        self._lines.clear()
        return await self._run("seek", offset, whence)

    async def tell(self) -> int:
        """``tell()`` in a worker thread."""
        await self._unread()
        return await self._run("tell")

    async def truncate(self, size: int | None = None, /) -> int:
        """``truncate()`` in a worker thread."""
        await self._unread()
        return await self._run("truncate", size)

    async def flush(self) -> None:
        """``flush()`` in a worker thread."""
        await self._run("flush")

    async def fsync(self) -> None:
        """Flush, then fsync the descriptor (one hop; ``F_FULLFSYNC`` on macOS)."""
        await run_in_thread(self._sync, False)

    async def fdatasync(self) -> None:
        """Flush, then fdatasync the descriptor (one hop; fsync where it is missing)."""
        await run_in_thread(self._sync, True)

    def _sync(self, data_only: bool) -> None:
        f = self._source()
        f.flush()
        sync_fd(f.fileno(), data_only)

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
        if self._lines:
            return self._lines.popleft()
        f = self._source()

        def fetch() -> tuple[Any, list[AnyStr]]:
            if f.isatty() or not f.seekable():
                one = f.readline()
                return None, [one] if one else []
            return f.tell(), f.readlines(_LINES_HINT)

        cookie, lines = await run_in_thread(fetch)
        if not lines:
            raise StopAsyncIteration
        if len(lines) > 1:
            self._cookie = cookie
            self._fetched = sum(len(line) for line in lines)
            self._lines.extend(lines[1:])
        return lines[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._source()!r}>"


class AsyncWrappedBinaryIO(_AsyncWrapped[bytes]):
    """A blocking binary file driven from async code, one thread hop per call."""

    __slots__ = ()

    async def read1(self, size: int = -1, /) -> bytes:
        """``read1()`` in a worker thread."""
        await self._unread()
        return await self._run("read1", size)

    async def readinto(self, buffer: Any, /) -> int | None:
        """``readinto()`` in a worker thread."""
        await self._unread()
        return await self._run("readinto", buffer)

    async def readall(self) -> bytes:
        """``readall()`` (raw files) or ``read()`` in a worker thread."""
        await self._unread()
        name = "readall" if hasattr(self._source(), "readall") else "read"
        return await self._run(name)

    async def peek(self, size: int = 0, /) -> bytes:
        """``peek()`` of a buffered reader in a worker thread."""
        await self._unread()
        return await self._run("peek", size)


class AsyncWrappedTextIO(_AsyncWrapped[str]):
    """A blocking text file driven from async code, one thread hop per call."""

    __slots__ = ()
    _TEXT = True

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
