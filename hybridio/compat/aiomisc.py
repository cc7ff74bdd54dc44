"""Drop-in for ``aiomisc.io``: ``from hybridio.compat.aiomisc import async_open, Compression``.

aiomisc's file objects are created unopened (``await f`` / ``async with f`` /
``await f.open()`` opens them); ``readable()``, ``seekable()``,
``writable()`` and ``tell()`` are coroutines, ``closed()`` and ``buffer()``
are methods, ``fp`` is the open file.  The I/O is done by a hybridio file
(``fp``), compressed ones included.  ``loop=`` is accepted and ignored with a
``DeprecationWarning`` (hybridio always uses the running loop).
"""

from __future__ import annotations

import enum
import sys
import warnings
from collections.abc import Generator, Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload

from .._api import async_open as _core_open
from .._compression import Compression as _CoreCompression
from .._layers.base import AsyncBinaryIO as _CoreBinary
from .._layers.text import AsyncTextIO as _CoreText

__all__ = (
    "AsyncBinaryIO",
    "AsyncFileIO",
    "AsyncTextIO",
    "Compression",
    "async_open",
)

_F = TypeVar("_F", _CoreBinary, _CoreText)


class Compression(enum.Enum):
    """aiomisc's ``Compression``, each member naming a hybridio compression."""

    NONE = "none"
    GZIP = "gzip"
    BZ2 = "bz2"
    LZMA = "lzma"

    def to_core(self) -> _CoreCompression:
        """The hybridio ``Compression`` of the same format."""
        return _CoreCompression.NONE if self is Compression.NONE else _CoreCompression(self.value)


def _warn_loop(loop: object) -> None:
    if loop is not None:
        warnings.warn(
            "loop= is ignored: hybridio uses the running event loop",
            DeprecationWarning,
            stacklevel=3,
        )


class AsyncFileIO(Generic[_F]):
    """aiomisc's ``AsyncFileIO``: an unopened file until awaited or entered."""

    def __init__(
        self,
        fname: str | Path,
        mode: str = "r",
        executor: Executor | None = None,
        *args: Any,
        compression: Compression = Compression.NONE,
        loop: Any = None,
        **kwargs: Any,
    ) -> None:
        _warn_loop(loop)
        self.executor = executor
        self._fname = fname
        self._mode = mode
        self._args = args
        self._kwargs = kwargs
        self._compression = compression
        self._fp: Any = None

    @classmethod
    def open_fp(cls, fp: Any, executor: Executor | None = None, loop: Any = None) -> Any:
        """An already open hybridio file, aiomisc-shaped."""
        _warn_loop(loop)
        afp = cls(fp.name, fp.mode, executor=executor)
        afp._fp = fp
        return afp

    async def open(self) -> None:
        """Open the file (nothing if already open)."""
        if self._fp is not None:
            return
        comp = self._compression.to_core()
        self._fp = await _core_open(
            self._fname,
            self._mode,
            *self._args,
            compression=comp if comp is not _CoreCompression.NONE else None,
            executor=self.executor,
            **self._kwargs,
        )

    @property
    def fp(self) -> _F:
        """The open hybridio file; ``RuntimeError`` before ``open()``."""
        if self._fp is None:
            raise RuntimeError("file is not opened")
        return self._fp  # type: ignore[no-any-return]

    def closed(self) -> bool:
        """Whether the file is closed (a method, as in aiomisc)."""
        return self.fp.closed

    def __await__(self) -> Generator[Any, None, Any]:
        yield from self.open().__await__()
        return self

    async def __aenter__(self) -> Any:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.fp.close()

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        line = await self.fp.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def __getattr__(self, name: str) -> Any:
        # aiomisc forwards any other attribute of the file object.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.fp, name)

    @property
    def mode(self) -> str:
        """The mode the file was opened with."""
        return str(self.fp.mode)

    @property
    def name(self) -> Any:
        """The file name."""
        return self.fp.name

    def fileno(self) -> int:
        """The file descriptor."""
        return self.fp.fileno()

    def isatty(self) -> bool:
        """Whether the file is a terminal."""
        return self.fp.isatty()

    async def readable(self) -> bool:
        """Whether the file reads (a coroutine, as in aiomisc)."""
        return self.fp.readable()

    async def seekable(self) -> bool:
        """Whether the file seeks (a coroutine, as in aiomisc)."""
        return self.fp.seekable()

    async def writable(self) -> bool:
        """Whether the file writes (a coroutine, as in aiomisc)."""
        return self.fp.writable()

    async def tell(self) -> int:
        """The position."""
        return await self.fp.tell()

    async def close(self) -> None:
        """Close the file."""
        await self.fp.close()

    async def flush(self) -> None:
        """Flush the write buffer."""
        await self.fp.flush()

    async def read(self, n: int = -1) -> Any:
        """Read up to *n* (all when negative)."""
        return await self.fp.read(n)

    async def readline(self, limit: int = -1) -> Any:
        """One line."""
        return await self.fp.readline(limit)

    async def readlines(self, limit: int = -1) -> list[Any]:
        """The remaining lines."""
        return list(await self.fp.readlines(limit))

    async def seek(self, offset: int, whence: int = 0) -> int:
        """Move the position."""
        return await self.fp.seek(offset, whence)

    async def truncate(self, size: int | None = None) -> int:
        """Truncate at *size* (default: the position)."""
        return await self.fp.truncate(size)

    async def write(self, s: Any) -> int:
        """Write *s*."""
        return await self.fp.write(s)

    async def writelines(self, lines: Iterable[Any]) -> None:
        """Write each of *lines*."""
        await self.fp.writelines(lines)

    async def fsync(self) -> None:
        """Flush everything and fsync (hybridio addition: aiomisc has none)."""
        await self.fp.fsync()

    async def fdatasync(self) -> None:
        """Flush everything and fdatasync (hybridio addition: aiomisc has none)."""
        await self.fp.fdatasync()


class AsyncBinaryIO(AsyncFileIO[_CoreBinary]):
    """aiomisc's binary file."""


class AsyncTextIO(AsyncFileIO[_CoreText]):
    """aiomisc's text file."""

    @property
    def newlines(self) -> Any:
        """Newlines seen so far."""
        return self.fp.newlines

    @property
    def errors(self) -> str | None:
        """The error handler."""
        return self.fp.errors

    @property
    def line_buffering(self) -> bool:
        """Whether a newline flushes."""
        return self.fp.line_buffering

    @property
    def encoding(self) -> str:
        """The encoding."""
        return self.fp.encoding

    def buffer(self) -> AsyncBinaryIO:
        """The binary file under the text layer (a method, as in aiomisc)."""
        return AsyncBinaryIO.open_fp(self.fp.buffer)  # type: ignore[no-any-return]


BinaryModes = Literal[
    "rb", "wb", "ab", "xb", "rb+", "wb+", "ab+", "xb+", "br", "br+", "bw+", "ba+", "bx+"
]
TextModes = Literal["r", "w", "a", "x", "r+", "w+", "a+", "x+"]


@overload
def async_open(
    fname: str | Path,
    mode: BinaryModes,
    compression: Compression = Compression.NONE,
    encoding: str = ...,
    *args: Any,
    **kwargs: Any,
) -> AsyncBinaryIO: ...
@overload
def async_open(
    fname: str | Path,
    mode: TextModes = ...,
    compression: Compression = Compression.NONE,
    encoding: str = ...,
    *args: Any,
    **kwargs: Any,
) -> AsyncTextIO: ...
def async_open(
    fname: str | Path,
    mode: str = "r",
    compression: Compression = Compression.NONE,
    encoding: str = sys.getdefaultencoding(),
    *args: Any,
    **kwargs: Any,
) -> AsyncBinaryIO | AsyncTextIO:
    """aiomisc's ``async_open``: an unopened file; ``await`` it or ``async with`` it."""
    if not isinstance(compression, Compression):
        raise TypeError(f"compression must be a Compression, not {type(compression).__name__}")
    if "b" in mode:
        return AsyncBinaryIO(fname, mode, *args, compression=compression, **kwargs)
    return AsyncTextIO(fname, mode, *args, compression=compression, encoding=encoding, **kwargs)
